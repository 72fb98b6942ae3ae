package sshdtest

import "syscall"

// dieWithTest: macOS has no parent-death signal; a server outlives a test
// binary that dies without cleaning up (the integration suite runs on
// Linux).
func dieWithTest() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
