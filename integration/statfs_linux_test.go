package integration

import "syscall"

// spaceOf is what statfs says of the file system holding p, in bytes:
// its size, its free space, and what a user who is not root may use.
func spaceOf(p string) (total, free, avail uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(p, &st); err != nil {
		return 0, 0, 0, err
	}
	unit := uint64(st.Frsize)
	return st.Blocks * unit, st.Bfree * unit, st.Bavail * unit, nil
}
