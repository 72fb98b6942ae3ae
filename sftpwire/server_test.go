package sftpwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The client against real servers, run as child processes speaking SFTP
// on their stdin and stdout (as sshd runs them for the subsystem), on a
// directory the test makes; what they answer is checked against what
// the file system says.

// serverProg is an SFTP server program and what it answers where
// servers differ.
type serverProg struct {
	name string
	path string
	args []string
	// underFile is the code for a path under a regular file (ENOTDIR):
	// OpenSSH's errno_to_portable makes it SSH_FX_NO_SUCH_FILE, the Green
	// End server a bare failure with strerror's text.
	underFile        Code
	underFileMessage string // "" for any
	// realPathMissing: REALPATH of a path that does not exist succeeds
	// (the Green End server makes it absolute without looking).
	realPathMissing bool

	// rwArgs run it writable, for the tests that change files
	// (server_ops_test.go).
	rwArgs []string
	// symlinkOrder is the data of symlink-order@rjk.greenend.org.uk in
	// its VERSION, "" when it does not announce it.
	symlinkOrder string
	// lsetstat: it announces lsetstat@openssh.com.
	lsetstat bool
	// closeGone is the code for a CLOSE of a handle already closed:
	// OpenSSH's server says no such file (its READ of one says failure),
	// the Green End server "invalid handle" as a bare failure.
	closeGone Code

	// mayFail: the test makes the server exit with an error, which is
	// then no failure of the test.
	mayFail bool
}

// Both run read-only for the tests of this file, which only look.
var serverProgs = []serverProg{
	{name: "openssh", path: "/usr/lib/openssh/sftp-server", args: []string{"-R", "-e", "-l", "DEBUG3"},
		underFile: NoSuchFile,
		rwArgs:    []string{"-e", "-l", "DEBUG3"}, lsetstat: true, closeGone: NoSuchFile},
	{name: "green-end", path: "/usr/libexec/gesftpserver", args: []string{"--readonly"},
		underFile: Failure, underFileMessage: "Not a directory", realPathMissing: true,
		rwArgs: nil, symlinkOrder: "linkpath-targetpath", closeGone: Failure},
}

// forEachServer runs test once for each server program, read-only, on a
// fixture directory of its own. A program that is not installed is
// skipped, except in CI (CI set and not empty), where it is a failure.
func forEachServer(t *testing.T, test func(t *testing.T, s serverProg, c *Client, dir string)) {
	for _, s := range serverProgs {
		t.Run(s.name, func(t *testing.T) {
			requireServer(t, s)
			dir := makeFixture(t)
			test(t, s, startServer(t, s, dir), dir)
		})
	}
}

// forEachWritableServer runs test once for each server program run
// writable (rwArgs), in an empty directory of its own.
func forEachWritableServer(t *testing.T, test func(t *testing.T, s serverProg, c *Client, dir string)) {
	for _, s := range serverProgs {
		t.Run(s.name, func(t *testing.T) {
			requireServer(t, s)
			dir := t.TempDir()
			s.args = s.rwArgs
			test(t, s, startServer(t, s, dir), dir)
		})
	}
}

// requireServer skips the test when s is not installed, or fails it in
// CI.
func requireServer(t *testing.T, s serverProg) {
	t.Helper()
	if fi, err := os.Stat(s.path); err != nil || !fi.Mode().IsRegular() {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing in CI: %v", s.path, err)
		}
		t.Skipf("%s is not installed", s.path)
	}
}

// fileRW is the client's end of a server child: its stdout to read, its
// stdin to write. Close closes both, which ends a Read blocked on the
// pipe, and the server sees the end of its input and exits.
type fileRW struct{ r, w *os.File }

func (f fileRW) Read(b []byte) (int, error)  { return f.r.Read(b) }
func (f fileRW) Write(b []byte) (int, error) { return f.w.Write(b) }
func (f fileRW) Close() error                { return errors.Join(f.w.Close(), f.r.Close()) }

// serverExitWait is how long a server has to exit once its input has
// ended: both exit at once, so this is only for a loaded machine.
const serverExitWait = 10 * time.Second

// syncBuffer collects a server's stderr, written from exec's copying
// goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs the server in dir and returns a client on it. At the
// test's end the client is closed, the server must exit, and its log is
// printed if the test failed.
func startServer(t *testing.T, s serverProg, dir string) *Client {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(syncBuffer)
	cmd := exec.Command(s.path, s.args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "LC_ALL=C", "TZ=UTC"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, stderr
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c, err := NewClient(fileRW{r: outR, w: inW}, Options{Timeout: 10 * time.Second})
	t.Cleanup(func() {
		if c != nil {
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
		select {
		case err := <-exited:
			if err != nil && c != nil && !s.mayFail {
				t.Errorf("%s: %v", s.name, err)
			}
		case <-time.After(serverExitWait):
			cmd.Process.Kill()
			<-exited
			t.Errorf("%s did not exit within %v of its input's end", s.name, serverExitWait)
		}
		if t.Failed() {
			t.Logf("%s's stderr:\n%s", s.name, stderr)
		}
		checkNoLeaks(t)
	})
	if err != nil {
		t.Fatalf("NewClient on %s: %v", s.name, err)
	}
	return c
}

// The fixture's times: one long past, with atime and mtime apart so that
// a swap shows; and now, which has a fraction of a second that the
// protocol's whole seconds drop.
var (
	pastAtime = time.Date(2001, 2, 3, 1, 2, 3, 0, time.UTC)
	pastMtime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
)

// awkwardNames are names a listing must return exactly: control
// characters, what looks like an escape, and a byte that is not UTF-8.
var awkwardNames = []string{
	"a\nb", "a\tb", `a\101b`, "a\x01b", "a\xffb", "a\\", " lead", "trail ", "-dash", "*?[", "é",
}

// makeFixture makes the directory the servers serve:
//
//	past      a file, 0640, atime and mtime in 2001
//	now       a file, its times now
//	dir       a directory, 0750, times in 2001
//	link      a symlink to past
//	dirlink   a symlink to dir
//	names/    awkwardNames, files
//	many/     250 empty files, more than one READDIR answer holds
func makeFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	must(os.WriteFile(p("past"), []byte("past\n"), 0o640))
	must(os.Chmod(p("past"), 0o640)) // whatever the umask
	must(os.Chtimes(p("past"), pastAtime, pastMtime))
	must(os.WriteFile(p("now"), []byte("0123456789"), 0o644))
	now := time.Now()
	must(os.Chtimes(p("now"), now, now))
	must(os.Mkdir(p("dir"), 0o750))
	must(os.Chmod(p("dir"), 0o750))
	must(os.Symlink("past", p("link")))
	must(os.Symlink("dir", p("dirlink")))
	must(os.Mkdir(p("names"), 0o755))
	for _, n := range awkwardNames {
		must(os.WriteFile(filepath.Join(p("names"), n), []byte(n), 0o644))
	}
	must(os.Mkdir(p("many"), 0o755))
	for i := 0; i < 250; i++ {
		must(os.WriteFile(filepath.Join(p("many"), fmt.Sprintf("f%03d", i)), nil, 0o644))
	}
	must(os.Chtimes(p("dir"), pastAtime, pastMtime)) // last: making entries in it would change them
	return dir
}

// attrsOf is what a v3 server should send for fi: every field of the
// unix stat, the permissions the full st_mode, the times whole seconds.
func attrsOf(t *testing.T, fi fs.FileInfo) Attrs {
	t.Helper()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("%s: no syscall.Stat_t", fi.Name())
	}
	return Attrs{
		Flags:       AttrSize | AttrUIDGID | AttrPermissions | AttrACModTime,
		Size:        uint64(st.Size),
		UID:         st.Uid,
		GID:         st.Gid,
		Permissions: uint32(st.Mode),
		Atime:       uint32(atimeOf(st)),
		Mtime:       uint32(fi.ModTime().Unix()),
	}
}

func TestServerStat(t *testing.T) {
	forEachServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		for _, name := range []string{"past", "now", "dir", "link", "dirlink", "names/a\nb", "names/a\xffb", "."} {
			for _, call := range []struct {
				op     string
				remote func(context.Context, string) (Attrs, error)
				local  func(string) (fs.FileInfo, error)
			}{{"Stat", c.Stat, os.Stat}, {"Lstat", c.Lstat, os.Lstat}} {
				got, err := call.remote(ctx, name)
				if err != nil {
					t.Errorf("%s(%q): %v", call.op, name, err)
					continue
				}
				fi, err := call.local(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(attrsOf(t, fi), got); diff != "" {
					t.Errorf("%s(%q) (-os +server):\n%s", call.op, name, diff)
				}
			}
		}
		// The values themselves, so that the comparison above is not of
		// two things equally wrong.
		a, err := c.Lstat(ctx, "past")
		if err != nil {
			t.Fatal(err)
		}
		if a.Atime != uint32(pastAtime.Unix()) || a.Mtime != uint32(pastMtime.Unix()) || a.Size != 5 || a.Permissions != syscall.S_IFREG|0o640 {
			t.Errorf("past: %+v", a)
		}
		if a, err = c.Lstat(ctx, "link"); err != nil || a.Permissions&syscall.S_IFMT != syscall.S_IFLNK || a.Size != uint64(len("past")) {
			t.Errorf("Lstat(link): %+v, %v; want a symlink of 4 bytes", a, err)
		}
		if a, err = c.Stat(ctx, "dirlink"); err != nil || a.Permissions != syscall.S_IFDIR|0o750 || a.Mtime != uint32(pastMtime.Unix()) {
			t.Errorf("Stat(dirlink): %+v, %v; want dir's attributes", a, err)
		}
	})
}

func TestServerErrors(t *testing.T) {
	forEachServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		status := func(what string, err error, code Code, msg string) {
			t.Helper()
			var se *StatusError
			if !errors.As(err, &se) {
				t.Errorf("%s: err %v (%T), want a *StatusError", what, err, err)
				return
			}
			if se.Code != code || (msg != "" && se.Message != msg) {
				t.Errorf("%s: %v %q, want %v %q", what, se.Code, se.Message, code, msg)
			}
		}
		for _, p := range []string{"missing", "missing/x", "dir/missing"} {
			_, err := c.Stat(ctx, p)
			status(fmt.Sprintf("Stat(%q)", p), err, NoSuchFile, "")
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat(%q): errors.Is(err, fs.ErrNotExist) is false for %v", p, err)
			}
			_, err = c.Lstat(ctx, p)
			status(fmt.Sprintf("Lstat(%q)", p), err, NoSuchFile, "")
			names, err := c.ReadDir(ctx, p)
			status(fmt.Sprintf("ReadDir(%q)", p), err, NoSuchFile, "")
			if names != nil {
				t.Errorf("ReadDir(%q) returned %q", p, names)
			}
		}
		_, err := c.Stat(ctx, "past/x")
		status(`Stat("past/x")`, err, s.underFile, s.underFileMessage)
		_, err = c.Lstat(ctx, "past/x")
		status(`Lstat("past/x")`, err, s.underFile, s.underFileMessage)
		_, err = c.ReadDir(ctx, "past")
		status(`ReadDir("past")`, err, s.underFile, s.underFileMessage)
		// A refusal leaves the client as it was.
		if _, err := c.Stat(ctx, "past"); err != nil || c.Err() != nil {
			t.Errorf("after the refusals: %v, Err() = %v", err, c.Err())
		}
	})
}

func TestServerReadDir(t *testing.T) {
	forEachServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		for _, tt := range []struct {
			path  string
			names []string
		}{
			{"names", awkwardNames},
			{"many", func() (n []string) {
				for i := 0; i < 250; i++ {
					n = append(n, fmt.Sprintf("f%03d", i))
				}
				return n
			}()},
		} {
			got, err := c.ReadDir(ctx, tt.path)
			if err != nil {
				t.Fatalf("ReadDir(%q): %v", tt.path, err)
			}
			var names []string
			dots := 0
			for _, n := range got {
				if n.Name == "." || n.Name == ".." {
					dots++
					continue
				}
				names = append(names, n.Name)
				fi, err := os.Lstat(filepath.Join(dir, tt.path, n.Name))
				if err != nil {
					t.Errorf("ReadDir(%q) returned %q, which os.Lstat cannot find: %v", tt.path, n.Name, err)
					continue
				}
				if diff := cmp.Diff(attrsOf(t, fi), n.Attrs); diff != "" {
					t.Errorf("ReadDir(%q), %q (-os +server):\n%s", tt.path, n.Name, diff)
				}
				if n.Longname == "" {
					t.Errorf("ReadDir(%q), %q: no longname", tt.path, n.Name)
				}
			}
			if dots != 2 {
				t.Errorf("ReadDir(%q): %d of . and .., want both", tt.path, dots)
			}
			want := slices.Sorted(slices.Values(tt.names))
			slices.Sort(names)
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("ReadDir(%q) names (-want +got):\n%s", tt.path, diff)
			}
		}
		// A symlink to a directory lists the directory.
		got, err := c.ReadDir(ctx, "dirlink")
		if err != nil || len(got) != 2 {
			t.Errorf("ReadDir(dirlink): %q, %v; want . and ..", got, err)
		}
	})
}

func TestServerRealPath(t *testing.T) {
	forEachServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		ctx := context.Background()
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct{ path, want string }{
			{".", real},
			{"", real},
			{"dir/../past", real + "/past"},
			{"names/a\xffb", real + "/names/a\xffb"},
			{real + "//dir/.", real + "/dir"},
		} {
			got, err := c.RealPath(ctx, tt.path)
			if err != nil || got != tt.want {
				t.Errorf("RealPath(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
			}
		}
		got, err := c.RealPath(ctx, "missing/x")
		if s.realPathMissing {
			if err != nil || got != real+"/missing/x" {
				t.Errorf("RealPath(missing/x) = %q, %v", got, err)
			}
		} else {
			var se *StatusError
			if !errors.As(err, &se) || se.Code != NoSuchFile {
				t.Errorf("RealPath(missing/x) = %q, %v; want SSH_FX_NO_SUCH_FILE", got, err)
			}
		}
	})
}

// TestServerConcurrent: calls from many goroutines at once, each
// answered with its own path's attributes.
func TestServerConcurrent(t *testing.T) {
	forEachServer(t, func(t *testing.T, s serverProg, c *Client, dir string) {
		paths := []string{"past", "now", "dir", "link", "dirlink", "names/a\nb", "many/f007"}
		want := map[string]Attrs{}
		for _, p := range paths {
			fi, err := os.Lstat(filepath.Join(dir, p))
			if err != nil {
				t.Fatal(err)
			}
			want[p] = attrsOf(t, fi)
		}
		const calls = 50
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, calls)
		for i := 0; i < calls; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				p := paths[i%len(paths)]
				var err error
				if i%5 == 4 {
					var names []Name
					names, err = c.ReadDir(context.Background(), "many")
					if err == nil && len(names) != 252 {
						err = fmt.Errorf("ReadDir(many): %d entries, want 252", len(names))
					}
				} else {
					var a Attrs
					a, err = c.Lstat(context.Background(), p)
					if err == nil && !cmp.Equal(a, want[p]) {
						err = fmt.Errorf("Lstat(%q) = %+v, want %+v", p, a, want[p])
					}
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
