package sftpwire

import "syscall"

// atimeOf is a file's access time in seconds.
func atimeOf(st *syscall.Stat_t) int64 { return int64(st.Atim.Sec) }
