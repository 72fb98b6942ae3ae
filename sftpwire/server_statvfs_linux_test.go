package sftpwire

import (
	"context"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// StatVFS against statfs(2), whose fields are Linux's here (the BSDs
// have no f_frsize nor f_namemax in statfs).

// fsidOf is f_fsid as glibc's statvfs makes it from statfs's two ints,
// which is what the servers send: the first int widened to the unsigned
// long (and so sign-extended), the second shifted above it.
func fsidOf(st *syscall.Statfs_t) uint64 {
	return uint64(int64(st.Fsid.X__val[0])) | uint64(uint32(st.Fsid.X__val[1]))<<32
}

// TestServerStatVFS: the server's statvfs of a directory against
// statfs(2) of the same. The fixed fields must be equal; the free counts
// may move between the two calls, by other processes' writes, so they
// are compared within a margin.
func TestServerStatVFS(t *testing.T) {
	forEachWritableServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		var before, after syscall.Statfs_t
		if err := syscall.Statfs(dir, &before); err != nil {
			t.Fatal(err)
		}
		got, err := c.StatVFS(context.Background(), ".")
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Statfs(dir, &after); err != nil {
			t.Fatal(err)
		}
		want := StatVFS{
			BlockSize:    uint64(before.Bsize),
			FragmentSize: uint64(before.Frsize),
			Blocks:       before.Blocks,
			Files:        before.Files,
			FSID:         fsidOf(&before),
			Flags:        uint64(before.Flags) & (StatVFSReadOnly | StatVFSNoSUID),
			NameMax:      uint64(before.Namelen),
		}
		fixed := got
		fixed.BlocksFree, fixed.BlocksAvail, fixed.FilesFree, fixed.FilesAvail = 0, 0, 0, 0
		if diff := cmp.Diff(want, fixed); diff != "" {
			t.Errorf("(-statfs +server):\n%s", diff)
		}
		near := func(field string, got, a, b, margin uint64) {
			t.Helper()
			lo, hi := min(a, b), max(a, b)
			if got+margin < lo || got > hi+margin {
				t.Errorf("%s %d; statfs said %d then %d", field, got, a, b)
			}
		}
		blocks, files := max(before.Blocks/100, 1024), max(before.Files/100, 1024)
		near("BlocksFree", got.BlocksFree, before.Bfree, after.Bfree, blocks)
		near("BlocksAvail", got.BlocksAvail, before.Bavail, after.Bavail, blocks)
		near("FilesFree", got.FilesFree, before.Ffree, after.Ffree, files)
		near("FilesAvail", got.FilesAvail, before.Ffree, after.Ffree, files) // Linux's statvfs: f_favail is f_ffree
		if got.BlocksAvail > got.BlocksFree || got.BlocksFree > got.Blocks {
			t.Errorf("free blocks out of order: %+v", got)
		}

		_, err = c.StatVFS(context.Background(), "missing")
		wantStatus(t, "StatVFS of a missing path", err, NoSuchFile)
	})
}
