package driver

import (
	"bytes"
	"os"
	"strconv"
)

// fileOffset returns the offset at which process pid, or a process it runs
// (a --sftp-command wrapper's sftp), has the file fi open (the same device
// and inode), and whether one has it open: Linux shows every open
// descriptor of a process of the same user in /proc/PID/fd, and its
// offset in /proc/PID/fdinfo. sftp reads the file it uploads and writes
// the file it downloads from start to end, so the offset is how far the
// transfer has got on the local side.
func fileOffset(pid int, fi os.FileInfo) (int64, bool) {
	if off, ok := openAt(pid, fi); ok {
		return off, true
	}
	for _, kid := range children(pid) {
		if processName(kid) == "ssh" {
			continue
		}
		if off, ok := fileOffset(kid, fi); ok {
			return off, true
		}
	}
	return 0, false
}

// openAt is fileOffset for process pid alone.
func openAt(pid int, fi os.FileInfo) (int64, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	ents, err := os.ReadDir(dir + "fd")
	if err != nil {
		return 0, false
	}
	for _, e := range ents {
		st, err := os.Stat(dir + "fd/" + e.Name())
		if err != nil || !os.SameFile(fi, st) {
			continue
		}
		b, err := os.ReadFile(dir + "fdinfo/" + e.Name())
		if err != nil {
			return 0, false
		}
		for _, ln := range bytes.Split(b, []byte("\n")) {
			if v, ok := bytes.CutPrefix(ln, []byte("pos:")); ok {
				pos, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
				return pos, err == nil
			}
		}
		return 0, false
	}
	return 0, false
}
