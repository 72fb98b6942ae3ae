package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/integration/sshdtest"
)

// The single-request remote commands (MKDIR, RMDIR, RENAME, CHMOD,
// SYMLINK, READLINK, UTIME, REALPATH, DF), on the three servers of
// attrs_test.go in both modes. Every effect is checked on the server's
// file system, and every refusal leaves it as it was.

// call builds a request with arguments of any JSON type.
func call(name string, args map[string]any) map[string]any {
	return map[string]any{"command": name, "args": args}
}

// relTo is rel, the path of abs relative to the server's Home, where
// sessions start in Home; else abs (relative paths are then relative to
// another directory).
func relTo(srv *sshdtest.Server, rel, abs string) string {
	if srv.StartsInHome() {
		return rel
	}
	return abs
}

// isProFTPD reports whether srv is ProFTPD's mod_sftp.
func isProFTPD(srv *sshdtest.Server) bool { return srv.ProFTPDConfig != "" }

// modeOf is the permission bits (with setuid, setgid, sticky) of p.
func modeOf(t *testing.T, p string) uint32 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return uint32(st.Mode) & 0o7777
}

func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

func TestMkdir(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		rel, abs := remoteDir(t, srv)
		p := func(n string) string { return filepath.Join(abs, n) }
		writeFile(t, srv, p("file"), []byte("f"))

		res := s.must("ok", call("MKDIR", map[string]any{"path": relTo(srv, rel+"/a", p("a"))}))
		if got := data[map[string][]string](t, res)["created"]; !cmp.Equal(got, []string{p("a")}) {
			t.Errorf("created %q, want %q", got, p("a"))
		}
		if !isDir(p("a")) {
			t.Fatalf("MKDIR made no directory")
		}
		if fi, _ := os.Stat(p("a")); fi.Sys().(*syscall.Stat_t).Uid != uint32(srv.UID) {
			t.Errorf("the new directory is not the login user's")
		}
		s.wantKind("already_exists", call("MKDIR", map[string]any{"path": p("a")}))
		s.wantKind("already_exists", call("MKDIR", map[string]any{"path": p("file")}))
		s.wantKind("no_such_file", call("MKDIR", map[string]any{"path": p("missing/x")}))
		if exists(p("missing")) {
			t.Errorf("a MKDIR without parents made its parent")
		}

		res = s.must("ok", call("MKDIR", map[string]any{"path": p("b/c/d"), "parents": true}))
		if got, want := data[map[string][]string](t, res)["created"], []string{p("b"), p("b/c"), p("b/c/d")}; !cmp.Equal(got, want) {
			t.Errorf("created %q, want %q", got, want)
		}
		if !isDir(p("b/c/d")) {
			t.Errorf("MKDIR with parents made no b/c/d")
		}
		res = s.must("ok", call("MKDIR", map[string]any{"path": p("b/c/d"), "parents": true}))
		if got := data[map[string][]string](t, res)["created"]; len(got) != 0 {
			t.Errorf("MKDIR with parents of a directory that is there says it created %q", got)
		}
		s.wantKind("already_exists", call("MKDIR", map[string]any{"path": p("file"), "parents": true}))
		s.wantKind("not_a_directory", call("MKDIR", map[string]any{"path": p("file/x/y"), "parents": true}))

		// The mode asked for, exactly: not less what the server's umask
		// masks.
		for name, mode := range map[string]uint32{"m700": 0o700, "m775": 0o775, "m2777": 0o2777} {
			s.must("ok", call("MKDIR", map[string]any{"path": p(name), "mode": mode}))
			if got := modeOf(t, p(name)); got != mode {
				t.Errorf("MKDIR mode %04o: the directory has %04o", mode, got)
			}
		}
		s.must("ok", call("MKDIR", map[string]any{"path": p("deep/er"), "parents": true, "mode": 0o711}))
		if got := modeOf(t, p("deep/er")); got != 0o711 {
			t.Errorf("MKDIR with parents and mode 0711: %04o", got)
		}
		// Names that cannot go on an sftp command line can go in a packet.
		s.must("ok", call("MKDIR", map[string]any{"path": p("new\nline")}))
		if !isDir(p("new\nline")) {
			t.Errorf("no directory named with a newline")
		}
		s.expect("fail", call("MKDIR", map[string]any{"path": p("x"), "mode": 0o10000}))
		s.expect("fail", call("MKDIR", map[string]any{"path": p("x"), "parents": "yes"}))
		if exists(p("x")) {
			t.Errorf("a refused MKDIR made a directory")
		}
		if os.Geteuid() == 0 {
			unwritable(t, p("ro"))
			s.wantKind("permission_denied", call("MKDIR", map[string]any{"path": p("ro/x")}))
			s.wantKind("permission_denied", call("MKDIR", map[string]any{"path": p("ro/x/y"), "parents": true}))
		}
	})
}

func TestRmdir(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		_, abs := remoteDir(t, srv)
		p := func(n string) string { return filepath.Join(abs, n) }
		for _, d := range []string{"empty", "full"} {
			os.Mkdir(p(d), 0o755)
			srv.Chown(p(d))
		}
		writeFile(t, srv, p("full/f"), []byte("f"))
		writeFile(t, srv, p("file"), []byte("f"))

		s.must("ok", call("RMDIR", map[string]any{"path": p("empty")}))
		if exists(p("empty")) {
			t.Errorf("RMDIR left the directory")
		}
		s.wantKind("not_empty", call("RMDIR", map[string]any{"path": p("full")}))
		s.wantKind("not_a_directory", call("RMDIR", map[string]any{"path": p("file")}))
		s.wantKind("no_such_file", call("RMDIR", map[string]any{"path": p("empty")}))
		if !exists(p("full/f")) || !exists(p("file")) {
			t.Errorf("a refused RMDIR removed something")
		}
	})
}

func TestRename(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		rel, abs := remoteDir(t, srv)
		p := func(n string) string { return filepath.Join(abs, n) }
		writeFile(t, srv, p("a"), []byte("a"))
		writeFile(t, srv, p("b"), []byte("b"))
		writeFile(t, srv, p("c"), []byte("c"))

		res := s.must("ok", call("RENAME", map[string]any{"source": relTo(srv, rel+"/a", p("a")), "dest": relTo(srv, rel+"/new name", p("new name"))}))
		if exists(p("a")) || string(readFile(t, p("new name"))) != "a" {
			t.Errorf("RENAME did not move a")
		}
		if !data[map[string]bool](t, res)["atomic"] {
			t.Errorf("RENAME to a free name: %s", res.Raw)
		}
		s.wantKind("already_exists", call("RENAME", map[string]any{"source": p("b"), "dest": p("c")}))
		if string(readFile(t, p("b"))) != "b" || string(readFile(t, p("c"))) != "c" {
			t.Errorf("a refused RENAME changed a file")
		}
		res = s.must("ok", call("RENAME", map[string]any{"source": p("b"), "dest": p("c"), "overwrite": true}))
		if exists(p("b")) || string(readFile(t, p("c"))) != "b" {
			t.Errorf("RENAME with overwrite did not replace c")
		}
		if !data[map[string]bool](t, res)["atomic"] {
			t.Errorf("RENAME with overwrite is not atomic on a server with posix-rename: %s", res.Raw)
		}
		s.wantKind("no_such_file", call("RENAME", map[string]any{"source": p("b"), "dest": p("d")}))
		s.wantKind("no_such_file", call("RENAME", map[string]any{"source": p("b"), "dest": p("d"), "overwrite": true}))
		s.expect("fail", call("RENAME", map[string]any{"source": p("c"), "dest": p("./c")}))
		if string(readFile(t, p("c"))) != "b" {
			t.Errorf("a RENAME onto itself changed the file")
		}

		// Directories, and names no sftp command line can carry.
		os.Mkdir(p("dir"), 0o755)
		srv.Chown(p("dir"))
		writeFile(t, srv, p("dir/in"), []byte("in"))
		s.must("ok", call("RENAME", map[string]any{"source": p("dir"), "dest": p("moved\ndir")}))
		if string(readFile(t, p("moved\ndir/in"))) != "in" {
			t.Errorf("RENAME of a directory did not move its contents")
		}
		s.wantKind("already_exists", call("RENAME", map[string]any{"source": p("c"), "dest": p("moved\ndir")}))
		if string(readFile(t, p("c"))) != "b" || !isDir(p("moved\ndir")) {
			t.Errorf("a refused RENAME onto a directory changed something")
		}
	})
}

func TestChmod(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		_, abs := remoteDir(t, srv)
		p := func(n string) string { return filepath.Join(abs, n) }
		writeFile(t, srv, p("f"), []byte("f"))
		os.Symlink("f", p("link"))
		os.Lchown(p("link"), srv.UID, srv.GID)
		for _, mode := range []uint32{0o640, 0o4755, 0o1777, 0, 0o600} {
			if mode == 0 && isProFTPD(srv) {
				// It answers OK and changes nothing: that must not
				// be an ok.
				s.wantKind("unsupported", call("CHMOD", map[string]any{"path": p("f"), "mode": mode}))
				if got := modeOf(t, p("f")); got != 0o1777 {
					t.Errorf("CHMOD 0000 on ProFTPD: %04o", got)
				}
				continue
			}
			s.must("ok", call("CHMOD", map[string]any{"path": p("f"), "mode": mode}))
			if got := modeOf(t, p("f")); got != mode {
				t.Errorf("CHMOD %04o: the file has %04o", mode, got)
			}
		}
		s.must("ok", call("CHMOD", map[string]any{"path": p("link"), "mode": 0o604}))
		if got := modeOf(t, p("f")); got != 0o604 {
			t.Errorf("CHMOD through a symlink: the target has %04o, want 0604", got)
		}
		s.wantKind("no_such_file", call("CHMOD", map[string]any{"path": p("missing"), "mode": 0o644}))
		s.expect("fail", call("CHMOD", map[string]any{"path": p("f"), "mode": 0o10000}))
		s.expect("fail", call("CHMOD", map[string]any{"path": p("f"), "mode": "644"}))
		s.expect("fail", call("CHMOD", map[string]any{"path": p("f")}))
		if got := modeOf(t, p("f")); got != 0o604 {
			t.Errorf("a refused CHMOD changed the mode to %04o", got)
		}
		if os.Geteuid() == 0 {
			writeFile(t, nil, p("roots"), []byte("r")) // root's: the user may not chmod it
			s.wantKind("permission_denied", call("CHMOD", map[string]any{"path": p("roots"), "mode": 0o777}))
			if got := modeOf(t, p("roots")); got != 0o644 {
				t.Errorf("a refused CHMOD changed root's file to %04o", got)
			}
		}
	})
}

func TestSymlinkReadlink(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		rel, abs := remoteDir(t, srv)
		p := func(n string) string { return filepath.Join(abs, n) }
		writeFile(t, srv, p("file"), []byte("f"))
		for _, target := range []string{"file", "../x y/z", "/etc/passwd", "nowhere", "caf\xe9", "a\nb"} {
			name := p("l-" + strings.NewReplacer("/", "_", "\n", "_").Replace(target))
			s.must("ok", map[string]any{"command": "SYMLINK", "args": map[string]any{"target": jsonBytes(target), "path": jsonBytes(name)}})
			got, err := os.Readlink(name)
			if err != nil || got != target {
				t.Errorf("SYMLINK %q: the link holds %q (%v)", target, got, err)
				continue
			}
			if isProFTPD(srv) {
				// It answers with the target resolved, not as stored.
				s.wantKind("unsupported", map[string]any{"command": "READLINK", "args": map[string]any{"path": jsonBytes(name)}})
				continue
			}
			res := s.must("ok", map[string]any{"command": "READLINK", "args": map[string]any{"path": jsonBytes(name)}})
			if back := surrogateUnescape(t, res.Data); back != target {
				t.Errorf("READLINK of a link to %q: %q", target, back)
			}
		}
		// Relative link paths are relative to the starting directory,
		// like every remote path; the target is stored as given.
		s.must("ok", call("SYMLINK", map[string]any{"target": "file", "path": relTo(srv, rel+"/rel", p("rel"))}))
		if got, _ := os.Readlink(p("rel")); got != "file" {
			t.Errorf("SYMLINK with a relative path: %q", got)
		}
		s.wantKind("already_exists", call("SYMLINK", map[string]any{"target": "x", "path": p("file")}))
		if string(readFile(t, p("file"))) != "f" {
			t.Errorf("a refused SYMLINK changed the file in its way")
		}
		if !isProFTPD(srv) {
			s.wantKind("not_a_symlink", call("READLINK", map[string]any{"path": p("file")}))
		}
		s.wantKind("no_such_file", call("READLINK", map[string]any{"path": p("missing")}))
		s.wantKind("no_such_file", call("SYMLINK", map[string]any{"target": "x", "path": p("missing/l")}))
	})
}

func TestUtime(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		_, abs := remoteDir(t, srv)
		p := func(n string) string { return filepath.Join(abs, n) }
		writeFile(t, srv, p("f"), []byte("f"))
		os.Symlink("f", p("link"))
		os.Lchown(p("link"), srv.UID, srv.GID)
		times := func(name string) (mtime, atime int64) {
			var st syscall.Stat_t
			if err := syscall.Stat(p(name), &st); err != nil {
				t.Fatal(err)
			}
			return mtimeOf(&st), atimeOf(&st)
		}
		for _, tc := range []struct{ mtime, atime int64 }{{978307200, 1}, {0, 0}, {4294967295, 4294967294}, {1700000123, 1600000456}} {
			s.must("ok", call("UTIME", map[string]any{"path": p("f"), "mtime": tc.mtime, "atime": tc.atime}))
			if m, a := times("f"); m != tc.mtime || a != tc.atime {
				t.Errorf("UTIME mtime %d atime %d: the file has %d, %d", tc.mtime, tc.atime, m, a)
			}
		}
		s.must("ok", call("UTIME", map[string]any{"path": p("link"), "mtime": 1234567890}))
		if m, a := times("f"); m != 1234567890 || a != 1234567890 {
			t.Errorf("UTIME through a link, atime defaulting to mtime: the target has %d, %d", m, a)
		}
		now := time.Now().Unix()
		s.expect("fail", call("UTIME", map[string]any{"path": p("f"), "mtime": -1}))
		s.expect("fail", call("UTIME", map[string]any{"path": p("f"), "mtime": 4294967296}))
		s.expect("fail", call("UTIME", map[string]any{"path": p("f"), "mtime": 1.5}))
		s.expect("fail", call("UTIME", map[string]any{"path": p("f"), "atime": now}))
		if m, _ := times("f"); m != 1234567890 {
			t.Errorf("a refused UTIME changed the mtime to %d", m)
		}
		s.wantKind("no_such_file", call("UTIME", map[string]any{"path": p("missing"), "mtime": now}))
	})
}

func TestRealpath(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		rel, abs := remoteDir(t, srv)
		p := func(n string) string { return filepath.Join(abs, n) }
		os.Mkdir(p("real"), 0o755)
		os.Symlink("real", p("link"))
		want, err := filepath.EvalSymlinks(p("real"))
		if err != nil {
			t.Fatal(err)
		}
		for _, asked := range []string{p("real"), p("link"), relTo(srv, rel+"/link", p("link")), abs + "/./real/../link/", abs + "//real"} {
			res := s.must("ok", call("REALPATH", map[string]any{"path": asked}))
			if got := data[string](t, res); got != want {
				t.Errorf("REALPATH %q: %q, want %q", asked, got, want)
			}
		}
		if srv.StartsInHome() {
			home, err := filepath.EvalSymlinks(srv.Home)
			if err != nil {
				t.Fatal(err)
			}
			if got := data[string](t, s.must("ok", call("REALPATH", map[string]any{"path": "."}))); got != home {
				t.Errorf("REALPATH of the starting directory: %q, want %q", got, home)
			}
		}
	})
}

func TestDf(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		_, abs := remoteDir(t, srv)
		total, free, avail, err := spaceOf(abs)
		if err != nil {
			t.Fatal(err)
		}
		res := s.must("ok", call("DF", map[string]any{"path": abs}))
		got := data[struct{ Total, Free, Avail uint64 }](t, res)
		if got.Total != total {
			t.Errorf("DF total %d, want %d (statfs)", got.Total, total)
		}
		// Free space moves while other tests run: within a few MiB of
		// what statfs says, and in order.
		near := func(a, b uint64) bool { return a <= b+64<<20 && b <= a+64<<20 }
		if !near(got.Free, free) || !near(got.Avail, avail) || got.Avail > got.Free || got.Free > got.Total {
			t.Errorf("DF %+v; statfs free %d, avail %d", got, free, avail)
		}
		s.must("ok", call("DF", map[string]any{}))
		s.wantKind("no_such_file", call("DF", map[string]any{"path": abs + "/missing"}))
	})
}

// jsonBytes is the JSON string literal of s's bytes, each byte that is not
// part of UTF-8 written as \udcXX (Python's surrogateescape), as a client
// sends a name that is not UTF-8.
func jsonBytes(s string) json.RawMessage {
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&b, `\udc%02x`, s[0])
		} else {
			lit, _ := json.Marshal(s[:size])
			b.WriteString(string(lit[1 : len(lit)-1]))
		}
		s = s[size:]
	}
	return json.RawMessage(`"` + b.String() + `"`)
}
