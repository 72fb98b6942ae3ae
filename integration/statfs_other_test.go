//go:build !linux

package integration

import "golang.org/x/sys/unix"

// spaceOf is what statfs says of the file system holding p, in bytes:
// its size, its free space, and what a user who is not root may use.
// (The integration suite runs on Linux; this keeps it building elsewhere.)
func spaceOf(p string) (total, free, avail uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return 0, 0, 0, err
	}
	unit := uint64(st.Bsize)
	return uint64(st.Blocks) * unit, uint64(st.Bfree) * unit, uint64(st.Bavail) * unit, nil
}
