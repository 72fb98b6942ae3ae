package integration

import "syscall"

// atimeOf and mtimeOf are a file's access and modification times in
// seconds (the fields' names differ between platforms).
func atimeOf(st *syscall.Stat_t) int64 { return int64(st.Atim.Sec) }
func mtimeOf(st *syscall.Stat_t) int64 { return int64(st.Mtim.Sec) }
