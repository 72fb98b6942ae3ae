//go:build darwin || freebsd

package sftpwire

import "syscall"

// atimeOf is a file's access time in seconds (the BSDs name the field
// Atimespec).
func atimeOf(st *syscall.Stat_t) int64 { return st.Atimespec.Sec }
