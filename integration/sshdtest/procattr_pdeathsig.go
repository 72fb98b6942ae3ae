//go:build linux || freebsd

package sshdtest

import "syscall"

// dieWithTest makes a server the kernel stops when the test binary dies.
func dieWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
