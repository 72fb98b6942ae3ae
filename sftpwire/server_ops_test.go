package sftpwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The requests that change files, against the real servers run writable,
// each effect checked on the file system.

// wantStatus fails the test unless err is a *StatusError with code.
func wantStatus(t *testing.T, what string, err error, code Code) {
	t.Helper()
	var se *StatusError
	if !errors.As(err, &se) {
		t.Errorf("%s: err %v (%T), want a *StatusError %v", what, err, err, code)
		return
	}
	if se.Code != code {
		t.Errorf("%s: %v %q, want %v", what, se.Code, se.Message, code)
	}
}

// fixture makes files in dir: name to content, a name ending in / a
// directory.
func fixture(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		err := os.MkdirAll(filepath.Dir(p), 0o755)
		if err == nil && name[len(name)-1] == '/' {
			err = os.MkdirAll(p, 0o755)
		} else if err == nil {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// content is a file's bytes, or "<missing>".
func content(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lstatT(t *testing.T, p string) (fs.FileInfo, *syscall.Stat_t) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi, fi.Sys().(*syscall.Stat_t)
}

// TestServerSymlinkOrder is the evidence Symlink's doc gives: a raw
// SYMLINK of ("p1", "p2"), neither existing, and which of the two the
// server made the link; and the symlink-order extension each announces.
func TestServerSymlinkOrder(t *testing.T) {
	forEachWritableServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		order, announced := c.extension(symlinkOrder)
		if order != s.symlinkOrder || announced != (s.symlinkOrder != "") {
			t.Errorf("%s announced %q (%v), want %q", symlinkOrder, order, announced, s.symlinkOrder)
		}
		if err := c.do(context.Background(), opSymlink, opSymlink.strings("p1", "p2")); err != nil {
			t.Fatal(err)
		}
		link, target := "p2", "p1" // OpenSSH's order: the target first
		if s.symlinkOrder == "linkpath-targetpath" {
			link, target = "p1", "p2"
		}
		if got, err := os.Readlink(filepath.Join(dir, link)); err != nil || got != target {
			t.Errorf("SYMLINK(p1, p2): Readlink(%s) = %q, %v; want %q", link, got, err, target)
		}
		if _, err := os.Lstat(filepath.Join(dir, target)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("SYMLINK(p1, p2) made %s too: %v", target, err)
		}
	})
}

func TestServerSymlink(t *testing.T) {
	forEachWritableServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		fixture(t, dir, map[string]string{"file": "file", "sub/": ""})
		for _, tt := range []struct{ target, link string }{
			{"file", "rel"},
			{"missing/dangling", "dangling"},
			{dir + "/file", "abs"},
			{"../file", "sub/up"},
			{"a\nb\xff", "awkward\x01\xff"},
			{"-x", "-dash"},
		} {
			if err := c.Symlink(ctx, tt.target, tt.link); err != nil {
				t.Errorf("Symlink(%q, %q): %v", tt.target, tt.link, err)
				continue
			}
			if got, err := os.Readlink(filepath.Join(dir, tt.link)); err != nil || got != tt.target {
				t.Errorf("Symlink(%q, %q): Readlink = %q, %v", tt.target, tt.link, got, err)
			}
			if got, err := c.ReadLink(ctx, tt.link); err != nil || got != tt.target {
				t.Errorf("Symlink(%q, %q): ReadLink = %q, %v", tt.target, tt.link, got, err)
			}
		}
		// Onto an existing name: refused, the file as it was.
		wantStatus(t, "Symlink onto a file", c.Symlink(ctx, "x", "file"), Failure)
		if fi, _ := lstatT(t, filepath.Join(dir, "file")); !fi.Mode().IsRegular() || content(t, filepath.Join(dir, "file")) != "file" {
			t.Errorf("the file a refused Symlink was onto: %v", fi.Mode())
		}
		wantStatus(t, "Symlink onto a symlink", c.Symlink(ctx, "x", "rel"), Failure)
		wantStatus(t, "Symlink in a missing directory", c.Symlink(ctx, "x", "missing/l"), NoSuchFile)
	})
}

func TestServerMkdirRmdir(t *testing.T) {
	forEachWritableServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		p := func(n string) string { return filepath.Join(dir, n) }
		// What the server's umask (the test's) makes of 0777.
		ref := t.TempDir() + "/ref"
		if err := os.Mkdir(ref, 0o777); err != nil {
			t.Fatal(err)
		}
		refInfo, _ := lstatT(t, ref)

		if err := c.Mkdir(ctx, "plain", Attrs{}); err != nil {
			t.Fatal(err)
		}
		if fi, _ := lstatT(t, p("plain")); !fi.IsDir() || fi.Mode().Perm() != refInfo.Mode().Perm() {
			t.Errorf("Mkdir with no attributes: %v, want a directory %v", fi.Mode(), refInfo.Mode().Perm())
		}
		if err := c.Mkdir(ctx, "d0750", Attrs{Flags: AttrPermissions, Permissions: 0o750}); err != nil {
			t.Fatal(err)
		}
		if fi, _ := lstatT(t, p("d0750")); !fi.IsDir() || fi.Mode().Perm() != 0o750 {
			t.Errorf("Mkdir 0750: %v", fi.Mode())
		}
		if err := c.Mkdir(ctx, "a\nb\xff", Attrs{}); err != nil {
			t.Fatal(err)
		}
		if fi, _ := lstatT(t, p("a\nb\xff")); !fi.IsDir() {
			t.Errorf("Mkdir of an awkward name: %v", fi.Mode())
		}
		wantStatus(t, "Mkdir of an existing directory", c.Mkdir(ctx, "plain", Attrs{}), Failure)
		wantStatus(t, "Mkdir in a missing directory", c.Mkdir(ctx, "missing/d", Attrs{}), NoSuchFile)

		fixture(t, dir, map[string]string{"full/x": "x", "file": "f"})
		wantStatus(t, "Rmdir of a directory with entries", c.Rmdir(ctx, "full"), Failure)
		if content(t, p("full/x")) != "x" {
			t.Error("a refused Rmdir removed an entry")
		}
		wantStatus(t, "Rmdir of a missing directory", c.Rmdir(ctx, "missing"), NoSuchFile)
		if err := c.Rmdir(ctx, "plain"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(p("plain")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after Rmdir: %v", err)
		}
		if err := c.Rmdir(ctx, "file"); err == nil || content(t, p("file")) != "f" {
			t.Errorf("Rmdir of a file: %v", err)
		}
	})
}

func TestServerRemove(t *testing.T) {
	forEachWritableServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		p := func(n string) string { return filepath.Join(dir, n) }
		fixture(t, dir, map[string]string{"file": "f", "target": "t", "dir/": "", "a\nb\xff": ""})
		if err := os.Symlink("target", p("link")); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"file", "link", "a\nb\xff"} {
			if err := c.Remove(ctx, n); err != nil {
				t.Errorf("Remove(%q): %v", n, err)
			}
			if _, err := os.Lstat(p(n)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("after Remove(%q): %v", n, err)
			}
		}
		if content(t, p("target")) != "t" {
			t.Error("Remove of a symlink removed its target")
		}
		wantStatus(t, "Remove of a directory", c.Remove(ctx, "dir"), Failure)
		if fi, _ := lstatT(t, p("dir")); !fi.IsDir() {
			t.Error("a refused Remove changed the directory")
		}
		err := c.Remove(ctx, "missing")
		wantStatus(t, "Remove of a missing file", err, NoSuchFile)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("errors.Is(%v, fs.ErrNotExist) is false", err)
		}
	})
}

// TestServerRename: Rename never replaces; PosixRename does, with the
// file itself (its inode) now at the new name.
func TestServerRename(t *testing.T) {
	forEachWritableServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		p := func(n string) string { return filepath.Join(dir, n) }
		fixture(t, dir, map[string]string{"a": "A", "b": "B", "c": "C", "dir/x": "x", "full/y": "y"})

		if err := c.Rename(ctx, "a", "a2\n\xff"); err != nil {
			t.Fatal(err)
		}
		if content(t, p("a")) != "<missing>" || content(t, p("a2\n\xff")) != "A" {
			t.Errorf("after Rename: a %q, a2 %q", content(t, p("a")), content(t, p("a2\n\xff")))
		}
		wantStatus(t, "Rename onto an existing file", c.Rename(ctx, "b", "c"), Failure)
		if content(t, p("b")) != "B" || content(t, p("c")) != "C" {
			t.Errorf("a refused Rename changed the files: b %q, c %q", content(t, p("b")), content(t, p("c")))
		}
		wantStatus(t, "Rename of a missing file", c.Rename(ctx, "missing", "z"), NoSuchFile)
		if err := c.Rename(ctx, "dir", "dir2"); err != nil || content(t, p("dir2/x")) != "x" {
			t.Errorf("Rename of a directory: %v", err)
		}

		_, before := lstatT(t, p("b"))
		if err := c.PosixRename(ctx, "b", "c"); err != nil {
			t.Fatal(err)
		}
		_, after := lstatT(t, p("c"))
		if content(t, p("b")) != "<missing>" || content(t, p("c")) != "B" || after.Ino != before.Ino {
			t.Errorf("after PosixRename onto c: b %q, c %q, inode %d (b's was %d)", content(t, p("b")), content(t, p("c")), after.Ino, before.Ino)
		}
		wantStatus(t, "PosixRename of a missing file", c.PosixRename(ctx, "missing", "z"), NoSuchFile)
		if err := c.PosixRename(ctx, "dir2", "full"); err == nil || content(t, p("full/y")) != "y" {
			t.Errorf("PosixRename onto a directory with entries: %v", err)
		}
	})
}

func TestServerSetstat(t *testing.T) {
	forEachWritableServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		p := func(n string) string { return filepath.Join(dir, n) }
		fixture(t, dir, map[string]string{"f": "0123456789", "target": "t"})
		if err := os.Symlink("target", p("link")); err != nil {
			t.Fatal(err)
		}
		at, mt := uint32(pastAtime.Unix()), uint32(pastMtime.Unix())
		if err := c.Setstat(ctx, "f", Attrs{Flags: AttrPermissions | AttrACModTime, Permissions: 0o600, Atime: at, Mtime: mt}); err != nil {
			t.Fatal(err)
		}
		fi, st := lstatT(t, p("f"))
		if fi.Mode() != 0o600 || atimeOf(st) != int64(at) || fi.ModTime().Unix() != int64(mt) {
			t.Errorf("after Setstat: %v atime %d mtime %d; want -rw------- %d %d", fi.Mode(), atimeOf(st), fi.ModTime().Unix(), at, mt)
		}
		// The permissions of the mode only: type bits sent are not a change of type.
		if err := c.Setstat(ctx, "f", Attrs{Flags: AttrPermissions, Permissions: syscall.S_IFREG | 0o640}); err != nil {
			t.Fatal(err)
		}
		if fi, _ := lstatT(t, p("f")); fi.Mode() != 0o640 {
			t.Errorf("after Setstat of S_IFREG|0640: %v", fi.Mode())
		}
		if err := c.Setstat(ctx, "f", Attrs{Flags: AttrSize, Size: 3}); err != nil {
			t.Fatal(err)
		}
		if got := content(t, p("f")); got != "012" {
			t.Errorf("after Setstat of size 3: %q", got)
		}
		if err := c.Setstat(ctx, "f", Attrs{Flags: AttrSize, Size: 5}); err != nil {
			t.Fatal(err)
		}
		if got := content(t, p("f")); got != "012\x00\x00" {
			t.Errorf("after Setstat of size 5: %q", got)
		}
		if os.Geteuid() == 0 {
			if err := c.Setstat(ctx, "f", Attrs{Flags: AttrUIDGID, UID: 4321, GID: 8765}); err != nil {
				t.Fatal(err)
			}
			if _, st := lstatT(t, p("f")); st.Uid != 4321 || st.Gid != 8765 {
				t.Errorf("after Setstat of owner 4321:8765: %d:%d", st.Uid, st.Gid)
			}
		}
		// Through a symlink: the target changes.
		if err := c.Setstat(ctx, "link", Attrs{Flags: AttrACModTime, Atime: at, Mtime: mt}); err != nil {
			t.Fatal(err)
		}
		if fi, _ := lstatT(t, p("target")); fi.ModTime().Unix() != int64(mt) {
			t.Errorf("Setstat through a symlink: the target's mtime %v", fi.ModTime())
		}
		if fi, _ := lstatT(t, p("link")); fi.ModTime().Unix() == int64(mt) {
			t.Errorf("Setstat through a symlink changed the link's own mtime")
		}
		// A zero Attrs changes nothing, and is no error.
		if err := c.Setstat(ctx, "f", Attrs{}); err != nil {
			t.Errorf("Setstat of no attributes: %v", err)
		}
		wantStatus(t, "Setstat of a missing path", c.Setstat(ctx, "missing", Attrs{Flags: AttrPermissions, Permissions: 0o600}), NoSuchFile)

		// Lsetstat: the link's own times, the target untouched.
		mt2 := mt + 3600
		err := c.Lsetstat(ctx, "link", Attrs{Flags: AttrACModTime, Atime: at, Mtime: mt2})
		if !s.lsetstat {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("Lsetstat on a server without lsetstat@openssh.com: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := lstatT(t, p("link")); fi.ModTime().Unix() != int64(mt2) {
			t.Errorf("after Lsetstat: the link's mtime %v", fi.ModTime())
		}
		if fi, _ := lstatT(t, p("target")); fi.ModTime().Unix() != int64(mt) {
			t.Errorf("Lsetstat changed the target's mtime: %v", fi.ModTime())
		}
		// Linux has no mode of its own for a symlink.
		wantStatus(t, "Lsetstat of a symlink's permissions", c.Lsetstat(ctx, "link", Attrs{Flags: AttrPermissions, Permissions: 0o600}), Failure)
		wantStatus(t, "Lsetstat of a missing path", c.Lsetstat(ctx, "missing", Attrs{Flags: AttrACModTime}), NoSuchFile)
	})
}

func TestServerHardlink(t *testing.T) {
	forEachWritableServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		p := func(n string) string { return filepath.Join(dir, n) }
		fixture(t, dir, map[string]string{"a": "A", "b": "B"})
		if err := c.Hardlink(ctx, "a", "h"); err != nil {
			t.Fatal(err)
		}
		fa, _ := lstatT(t, p("a"))
		fh, st := lstatT(t, p("h"))
		if !os.SameFile(fa, fh) || st.Nlink != 2 {
			t.Errorf("after Hardlink: h is not a (links %d)", st.Nlink)
		}
		wantStatus(t, "Hardlink onto an existing file", c.Hardlink(ctx, "a", "b"), Failure)
		if content(t, p("b")) != "B" {
			t.Error("a refused Hardlink changed the file")
		}
		wantStatus(t, "Hardlink of a missing file", c.Hardlink(ctx, "missing", "z"), NoSuchFile)
	})
}

func TestServerFiles(t *testing.T) {
	forEachWritableServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		p := func(n string) string { return filepath.Join(dir, n) }
		// Every byte value, over more than one server's longest READ
		// (OpenSSH's 255 KiB), not a multiple of any chunk size.
		data := make([]byte, 600<<10+7)
		for i := range data {
			data[i] = byte(i*7 + i>>9)
		}

		h, err := c.Open(ctx, "new\n\xff", FlagWrite|FlagCreate|FlagTrunc, Attrs{Flags: AttrPermissions, Permissions: 0o640})
		if err != nil {
			t.Fatal(err)
		}
		// Pieces written out of order, some at once, as a pipelined
		// upload would.
		const chunk = 32 << 10
		var offsets []int
		for off := 0; off < len(data); off += chunk {
			offsets = append(offsets, off)
		}
		for i, j := 0, len(offsets)-1; i < j; i, j = i+1, j-1 {
			offsets[i], offsets[j] = offsets[j], offsets[i]
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(offsets))
		for _, off := range offsets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.Write(ctx, h, uint64(off), data[off:min(off+chunk, len(data))]); err != nil {
					errs <- fmt.Errorf("Write at %d: %w", off, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if err := c.Fsync(ctx, h); err != nil {
			t.Errorf("Fsync: %v", err)
		}
		a, err := c.Fstat(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(p("new\n\xff"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(attrsOf(t, fi), a); diff != "" || a.Size != uint64(len(data)) {
			t.Errorf("Fstat (-os +server):\n%s", diff)
		}
		if err := c.CloseHandle(ctx, h); err != nil {
			t.Fatalf("CloseHandle: %v", err)
		}
		if got, err := os.ReadFile(p("new\n\xff")); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the file written: %d bytes, %v; want %d the same", len(got), err, len(data))
		}
		if fi.Mode() != 0o640 {
			t.Errorf("the file created: %v, want -rw-r-----", fi.Mode())
		}
		wantStatus(t, "CloseHandle of a closed handle", c.CloseHandle(ctx, h), s.closeGone)
		_, err = c.Read(ctx, h, 0, 1)
		wantStatus(t, "Read of a closed handle", err, Failure)

		// Read it back in READs as long as they may be, and a few
		// short ones: short answers are not the end.
		h, err = c.Open(ctx, "new\n\xff", FlagRead, Attrs{})
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		for _, length := range []uint32{1, 100, MaxReadLength} {
			for {
				b, err := c.Read(ctx, h, uint64(len(got)), length)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, b...)
				if length < MaxReadLength && len(got) > 1000 {
					break
				}
			}
		}
		if !bytes.Equal(got, data) {
			t.Errorf("read back %d bytes, want the %d written", len(got), len(data))
		}
		if b, err := c.Read(ctx, h, uint64(len(data))+100, 10); err != io.EOF || b != nil {
			t.Errorf("Read past the end: %d bytes, %v", len(b), err)
		}
		if b, err := c.Read(ctx, h, uint64(len(data))-3, 10); err != nil || !bytes.Equal(b, data[len(data)-3:]) {
			t.Errorf("Read over the end: %q, %v", b, err)
		}
		if err := c.CloseHandle(ctx, h); err != nil {
			t.Fatal(err)
		}

		// Append: the write goes to the end, whatever its offset.
		fixture(t, dir, map[string]string{"log": "one\n"})
		h, err = c.Open(ctx, "log", FlagWrite|FlagAppend, Attrs{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write(ctx, h, 0, []byte("two\n")); err != nil {
			t.Fatal(err)
		}
		if err := c.CloseHandle(ctx, h); err != nil {
			t.Fatal(err)
		}
		if got := content(t, p("log")); got != "one\ntwo\n" {
			t.Errorf("after an appending write at 0: %q", got)
		}
		// Truncating an existing file.
		h, err = c.Open(ctx, "log", FlagWrite|FlagCreate|FlagTrunc, Attrs{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.CloseHandle(ctx, h); err != nil {
			t.Fatal(err)
		}
		if got := content(t, p("log")); got != "" {
			t.Errorf("after FlagTrunc: %q", got)
		}

		_, err = c.Open(ctx, "log", FlagWrite|FlagCreate|FlagExcl, Attrs{})
		wantStatus(t, "Open with FlagExcl of an existing file", err, Failure)
		_, err = c.Open(ctx, "missing", FlagRead, Attrs{})
		wantStatus(t, "Open of a missing file", err, NoSuchFile)
		_, err = c.Open(ctx, "missing/f", FlagWrite|FlagCreate, Attrs{})
		wantStatus(t, "Open in a missing directory", err, NoSuchFile)
		if c.Err() != nil {
			t.Errorf("after the refusals: Err() = %v", c.Err())
		}
	})
}

// TestServerAtomicReplace is the upload the feature needs: a temporary
// file written, synced, closed, then put in place of the old with
// PosixRename, while a reader holding the old file open still reads the
// old bytes.
func TestServerAtomicReplace(t *testing.T) {
	forEachWritableServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		fixture(t, dir, map[string]string{"f": "old contents"})
		old, err := os.Open(filepath.Join(dir, "f"))
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		h, err := c.Open(ctx, ".f.tmp", FlagWrite|FlagCreate|FlagExcl, Attrs{Flags: AttrPermissions, Permissions: 0o644})
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range []func() error{
			func() error { return c.Write(ctx, h, 0, []byte("new contents")) },
			func() error { return c.Fsync(ctx, h) },
			func() error { return c.CloseHandle(ctx, h) },
			func() error {
				return c.Setstat(ctx, ".f.tmp", Attrs{Flags: AttrACModTime, Atime: uint32(pastAtime.Unix()), Mtime: uint32(pastMtime.Unix())})
			},
			func() error { return c.PosixRename(ctx, ".f.tmp", "f") },
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		if got := content(t, filepath.Join(dir, "f")); got != "new contents" {
			t.Errorf("after the replace: %q", got)
		}
		if b, err := io.ReadAll(old); err != nil || string(b) != "old contents" {
			t.Errorf("the old file, held open: %q, %v", b, err)
		}
		a, err := c.Stat(ctx, "f")
		if err != nil || a.Mtime != uint32(pastMtime.Unix()) || a.Permissions != syscall.S_IFREG|0o644 {
			t.Errorf("Stat after the replace: %+v, %v", a, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, ".f.tmp")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the temporary file is left: %v", err)
		}
	})
}

// TestServerWriteTooLong: OpenSSH's server ends the session on a packet
// longer than its 256 KiB, as Write's doc says; the Green End server
// takes it.
func TestServerWriteTooLong(t *testing.T) {
	for _, s := range serverProgs {
		t.Run(s.name, func(t *testing.T) {
			requireServer(t, s)
			s.args, s.mayFail = s.rwArgs, true
			c := startServer(t, s, t.TempDir())
			writeTooLong(t, s, c)
		})
	}
}

func writeTooLong(t *testing.T, s serverProg, c *Client) {
	{
		ctx := context.Background()
		h, err := c.Open(ctx, "f", FlagWrite|FlagCreate, Attrs{})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Write(ctx, h, 0, make([]byte, 300<<10))
		if s.name != "openssh" {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		var ce *ClosedError
		if !errors.As(err, &ce) {
			t.Fatalf("a WRITE of 300 KiB to OpenSSH's server: err %v, want the stream's end", err)
		}
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the client is not closed")
		}
	}
}
