package integration

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// TestCommands runs every command once in each framing and checks each
// effect on the server's disk.
func TestCommands(t *testing.T) { eachMode(t, testCommands) }

// roundTrip checks PUT, LISTDIR (relative and absolute), GET and DELETE of
// local/hello.txt holding content, in the remote directory rel (abs on the
// server's disk), each effect where it happens.
func roundTrip(t *testing.T, s *sftper, local, rel, abs string, content []byte) {
	t.Helper()
	src := filepath.Join(local, "hello.txt")
	res := s.must("ok", put(src, rel+"/hello.txt"))
	if diff := cmp.Diff(xfer{src, rel + "/hello.txt", int64(len(content))}, data[xfer](t, res)); diff != "" {
		t.Errorf("PUT data (-want +got):\n%s", diff)
	}
	if got := readFile(t, filepath.Join(abs, "hello.txt")); !bytes.Equal(got, content) {
		t.Errorf("remote file holds %q, want %q", got, content)
	}

	checkListing(t, s.must("ok", listdir(rel)), abs)
	checkListing(t, s.must("ok", listdir(abs)), abs) // absolute path too

	dst := filepath.Join(local, "back.txt")
	res = s.must("ok", get(rel+"/hello.txt", dst))
	if diff := cmp.Diff(xfer{rel + "/hello.txt", dst, int64(len(content))}, data[xfer](t, res)); diff != "" {
		t.Errorf("GET data (-want +got):\n%s", diff)
	}
	if got := readFile(t, dst); !bytes.Equal(got, content) {
		t.Errorf("downloaded %q, want %q", got, content)
	}

	s.must("ok", del(rel+"/hello.txt"))
	if exists(filepath.Join(abs, "hello.txt")) {
		t.Error("DELETE left the file on the server")
	}
	if got := entries(t, s.must("ok", listdir(rel))); len(got) != 0 {
		t.Errorf("LISTDIR of an emptied directory: %v, want []", got)
	}
}

func testCommands(t *testing.T, m mode) {
	bothFramings(t, func(t *testing.T, fr client.Framing) {
		s := startDefault(t, m, fr)
		rel, abs := remoteDir(t, srv)
		local := t.TempDir()
		content := []byte("hello, sftper\n")
		src := filepath.Join(local, "hello.txt")
		writeFile(t, nil, src, content)

		roundTrip(t, s, local, rel, abs, content)

		// Command names are case-insensitive.
		for _, name := range []string{"listdir", "ListDir", "LISTDIR"} {
			s.must("ok", map[string]any{"command": name, "args": map[string]any{"path": rel}})
		}
		s.finish()
	})
}

func TestPut(t *testing.T) { eachMode(t, testPut) }

func testPut(t *testing.T, m mode) {
	s := startDefault(t, m, client.Text)
	rel, abs := remoteDir(t, srv)
	local := t.TempDir()
	src := filepath.Join(local, "f.txt")
	writeFile(t, nil, src, []byte("one"))

	t.Run("into existing remote dir", func(t *testing.T) {
		if err := os.Mkdir(filepath.Join(abs, "d"), 0o755); err != nil {
			t.Fatal(err)
		}
		srv.Chown(filepath.Join(abs, "d"))
		res := s.must("ok", put(src, rel+"/d"))
		if got := data[xfer](t, res); got.Dest != rel+"/d" || got.Source != src || got.Size != 3 {
			t.Errorf("data %+v, want dest as given %q", got, rel+"/d")
		}
		if got := readFile(t, filepath.Join(abs, "d", "f.txt")); string(got) != "one" {
			t.Errorf("d/f.txt holds %q", got)
		}
	})
	t.Run("overwrite", func(t *testing.T) {
		writeFile(t, srv, filepath.Join(abs, "old.txt"), []byte("a much longer old content"))
		s.must("ok", put(src, rel+"/old.txt"))
		if got := readFile(t, filepath.Join(abs, "old.txt")); string(got) != "one" {
			t.Errorf("overwritten file holds %q, want %q", got, "one")
		}
	})
	t.Run("relative local source", func(t *testing.T) {
		writeFile(t, nil, filepath.Join(s.dir, "cwd.txt"), []byte("from cwd"))
		res := s.must("ok", put("cwd.txt", rel+"/cwd.txt"))
		if got := data[xfer](t, res); got.Source != filepath.Join(s.dir, "cwd.txt") {
			t.Errorf("source %q, want the absolute %q", got.Source, filepath.Join(s.dir, "cwd.txt"))
		}
		if got := readFile(t, filepath.Join(abs, "cwd.txt")); string(got) != "from cwd" {
			t.Errorf("remote holds %q", got)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		empty := filepath.Join(local, "empty")
		writeFile(t, nil, empty, nil)
		res := s.must("ok", put(empty, rel+"/empty"))
		if got := data[xfer](t, res); got.Size != 0 {
			t.Errorf("size %d, want 0", got.Size)
		}
		if fi, err := os.Stat(filepath.Join(abs, "empty")); err != nil || fi.Size() != 0 {
			t.Errorf("remote empty file: %v %v", fi, err)
		}
	})
	t.Run("missing local file", func(t *testing.T) {
		res := s.expect("error", put(filepath.Join(local, "nope"), rel+"/nope"))
		if r := remoteData(t, res); r != "unchanged" {
			t.Errorf("remote %q, want unchanged", r)
		}
		if !containsFold(res.Message, "No such file", "not found") {
			t.Errorf("message %q does not say the file is missing", res.Message)
		}
		if exists(filepath.Join(abs, "nope")) {
			t.Error("a remote file was created")
		}
	})
	t.Run("local directory as source", func(t *testing.T) {
		res := s.expect("error", put(local, rel+"/dirsrc"))
		if r := remoteData(t, res); r != "unchanged" {
			t.Errorf("remote %q, want unchanged", r)
		}
		if exists(filepath.Join(abs, "dirsrc")) {
			t.Error("a remote entry was created")
		}
	})
	t.Run("missing remote parent", func(t *testing.T) {
		res := s.expect("error", put(src, rel+"/no/such/dir/f.txt"))
		if r := remoteData(t, res); r != "unchanged" {
			t.Errorf("remote %q, want unchanged", r)
		}
	})
	t.Run("permission denied", func(t *testing.T) {
		unwritable(t, filepath.Join(abs, "rootdir"))
		res := s.expect("error", put(src, rel+"/rootdir/f.txt"))
		if !strings.Contains(res.Message, "Permission denied") {
			t.Errorf("message %q lacks %q", res.Message, "Permission denied")
		}
		if r := remoteData(t, res); r != "unchanged" {
			t.Errorf("remote %q, want unchanged", r)
		}
		if exists(filepath.Join(abs, "rootdir", "f.txt")) {
			t.Error("file created despite the permissions")
		}
	})
	s.finish()
}

func TestGet(t *testing.T) { eachMode(t, testGet) }

func testGet(t *testing.T, m mode) {
	s := startDefault(t, m, client.Text)
	rel, abs := remoteDir(t, srv)
	writeFile(t, srv, filepath.Join(abs, "r.txt"), []byte("remote content"))

	t.Run("into existing local dir", func(t *testing.T) {
		local := t.TempDir()
		res := s.must("ok", get(rel+"/r.txt", local))
		want := filepath.Join(local, "r.txt")
		if got := data[xfer](t, res); got.Dest != want || got.Source != rel+"/r.txt" || got.Size != 14 {
			t.Errorf("data %+v, want dest %q", got, want)
		}
		if got := readFile(t, want); string(got) != "remote content" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("relative local dest", func(t *testing.T) {
		res := s.must("ok", get(rel+"/r.txt", "rel-out.txt"))
		want := filepath.Join(s.dir, "rel-out.txt")
		if got := data[xfer](t, res); got.Dest != want {
			t.Errorf("dest %q, want %q", got.Dest, want)
		}
		if got := readFile(t, want); string(got) != "remote content" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("overwrites existing local file", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "x")
		writeFile(t, nil, dst, []byte("old and longer than the new content"))
		s.must("ok", get(rel+"/r.txt", dst))
		if got := readFile(t, dst); string(got) != "remote content" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("missing remote leaves no local file", func(t *testing.T) {
		local := t.TempDir()
		res := s.expect("error", get(rel+"/nope", filepath.Join(local, "out")))
		if !containsFold(res.Message, "not found", "No such file") {
			t.Errorf("message %q does not say the file is missing", res.Message)
		}
		if names := dirNames(t, local); len(names) != 0 {
			t.Errorf("failed GET left %q behind", names)
		}
	})
	t.Run("failure keeps existing local file", func(t *testing.T) {
		local := t.TempDir()
		dst := filepath.Join(local, "keep.txt")
		writeFile(t, nil, dst, []byte("precious"))
		s.expect("error", get(rel+"/nope", dst))
		if got := readFile(t, dst); string(got) != "precious" {
			t.Errorf("existing dest now holds %q", got)
		}
		if names := dirNames(t, local); !cmp.Equal(names, []string{"keep.txt"}) {
			t.Errorf("local dir holds %q, want only keep.txt", names)
		}
	})
	t.Run("permission denied", func(t *testing.T) {
		unreadable(t, filepath.Join(abs, "secret"), []byte("secret"))
		local := t.TempDir()
		res := s.expect("error", get(rel+"/secret", filepath.Join(local, "secret")))
		if !strings.Contains(res.Message, "Permission denied") {
			t.Errorf("message %q lacks Permission denied", res.Message)
		}
		if names := dirNames(t, local); len(names) != 0 {
			t.Errorf("failed GET left %q behind", names)
		}
	})
	t.Run("remote directory as source", func(t *testing.T) {
		local := t.TempDir()
		s.expect("error", get(rel, filepath.Join(local, "d")))
		if names := dirNames(t, local); len(names) != 0 {
			t.Errorf("failed GET left %q behind", names)
		}
	})
	t.Run("local name too long", func(t *testing.T) {
		// The download itself works; only the final rename fails.
		local := t.TempDir()
		s.expect("error", get(rel+"/r.txt", filepath.Join(local, strings.Repeat("n", 300))))
		if names := dirNames(t, local); len(names) != 0 {
			t.Errorf("failed GET left %q behind", names)
		}
	})
	t.Run("missing local parent", func(t *testing.T) {
		s.expect("error", get(rel+"/r.txt", filepath.Join(t.TempDir(), "no", "such", "x")))
	})
	s.finish()
}

func TestListdir(t *testing.T) { eachMode(t, testListdir) }

func testListdir(t *testing.T, m mode) {
	s := startDefault(t, m, client.Text)
	rel, abs := remoteDir(t, srv)
	p := func(name string) string { return filepath.Join(abs, name) }
	file := func(name string, mode os.FileMode, content string) {
		writeFile(t, nil, p(name), []byte(content))
		if err := os.Chmod(p(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	file("plain", 0o644, "abc")
	file("private", 0o600, "")
	file("exec", 0o755, "#!/bin/sh\n")
	file("setuid", 0o755|os.ModeSetuid, "x")
	file("setgid-noexec", 0o644|os.ModeSetgid, "x")
	file("sticky-file", 0o644|os.ModeSticky, "x")
	file(".hidden", 0o644, "dot")
	file("old", 0o644, "old")
	file("future", 0o644, "future")
	old := time.Date(2020, 3, 4, 12, 34, 56, 0, time.UTC)
	if err := os.Chtimes(p("old"), old, old); err != nil {
		t.Fatal(err)
	}
	future := time.Now().AddDate(3, 0, 0)
	if err := os.Chtimes(p("future"), future, future); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"dir", 0o755}, {"sticky-dir", 0o777 | os.ModeSticky}, {"dir-setgid", 0o775 | os.ModeSetgid}} {
		if err := os.Mkdir(p(d.name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p(d.name), d.mode); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, nil, p("dir/inner"), []byte("inner"))
	for link, target := range map[string]string{"link": "plain", "dangling": "nowhere", "dirlink": "dir"} {
		if err := os.Symlink(target, p(link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(p("fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", p("sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Larger than 32 bits, sparse.
	f, err := os.Create(p("big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(5 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()

	res := s.must("ok", listdir(rel))
	checkListing(t, res, abs)
	// Spot checks of the wire values, independent of the lstat model.
	byName := map[string]entry{}
	for _, e := range entries(t, res) {
		byName[e.Name] = e
	}
	for name, mode := range map[string]uint32{
		"plain": 0o100644, "exec": 0o100755, "setuid": 0o104755, "setgid-noexec": 0o102644,
		"sticky-file": 0o101644, "dir": 0o40755, "sticky-dir": 0o41777, "link": 0o120777,
		"fifo": 0o10644, "sock": 0o140000 | byName["sock"].Mode&0o7777,
	} {
		if byName[name].Mode != mode {
			t.Errorf("%s: mode %#o, want %#o", name, byName[name].Mode, mode)
		}
	}
	if got, want := byName["old"].Mtime, old.Unix(); got != want {
		t.Errorf("old: mtime %d, want %d (2020-03-04 12:34:56 UTC, to the second)", got, want)
	}
	if got := byName["big"].Size; got != 5<<30 {
		t.Errorf("big: size %d, want %d", got, int64(5<<30))
	}
	for _, e := range entries(t, res) {
		if e.Name == "." || e.Name == ".." {
			t.Errorf("listing contains %q", e.Name)
		}
	}

	t.Run("symlink to dir lists the dir", func(t *testing.T) {
		checkListing(t, s.must("ok", listdir(rel+"/dirlink")), p("dir"))
	})
	t.Run("empty dir", func(t *testing.T) {
		os.Mkdir(p("empty"), 0o755)
		res := s.must("ok", listdir(rel+"/empty"))
		if got := entries(t, res); len(got) != 0 {
			t.Errorf("got %v, want []", got)
		}
	})
	t.Run("login dir", func(t *testing.T) {
		checkListing(t, s.must("ok", listdir(".")), srv.Home)
	})
	for _, tc := range []struct{ name, path string }{
		{"regular file", rel + "/plain"},
		{"symlink to file", rel + "/link"},
		{"dangling symlink", rel + "/dangling"},
		{"fifo", rel + "/fifo"},
		{"missing", rel + "/nope"},
		{"below a file", rel + "/plain/x"},
		{"glob matching a dir", rel + "/di*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := s.expect("error", listdir(tc.path))
			if res.Message == "" {
				t.Error("error without a message")
			}
		})
	}
	for _, tc := range []struct {
		name       string
		root, user os.FileMode // as root the dir is root's; otherwise the user's own
	}{
		{"unreadable dir", 0o700, 0},
		{"unreadable dir with search permission", 0o711, 0o111},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p(strings.ReplaceAll(tc.name, " ", "-"))
			mode := tc.root
			if os.Geteuid() != 0 {
				mode = tc.user
				t.Cleanup(func() { os.Chmod(d, 0o755) })
			}
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			os.Chmod(d, mode)
			res := s.expect("error", listdir(rel+"/"+filepath.Base(d)))
			if !strings.Contains(res.Message, "Permission denied") {
				t.Errorf("message %q lacks Permission denied", res.Message)
			}
		})
	}
	s.finish()
}

func TestDelete(t *testing.T) { eachMode(t, testDelete) }

func testDelete(t *testing.T, m mode) {
	s := startDefault(t, m, client.Text)
	rel, abs := remoteDir(t, srv)
	p := func(name string) string { return filepath.Join(abs, name) }
	for _, n := range []string{"x1", "x2", "target", "*", "plain"} {
		writeFile(t, srv, p(n), []byte(n))
	}
	for _, d := range []string{"dir", "dirtarget"} {
		os.Mkdir(p(d), 0o755)
		srv.Chown(p(d))
	}
	os.Symlink("target", p("link"))
	os.Symlink("dirtarget", p("dirlink"))
	os.Symlink("nowhere", p("dangling"))

	t.Run("file", func(t *testing.T) {
		s.must("ok", del(rel+"/plain"))
		if exists(p("plain")) {
			t.Error("still there")
		}
	})
	t.Run("absolute path", func(t *testing.T) {
		writeFile(t, srv, p("abs"), []byte("abs"))
		s.must("ok", del(p("abs")))
		if exists(p("abs")) {
			t.Error("still there")
		}
	})
	t.Run("symlink not target", func(t *testing.T) {
		s.must("ok", del(rel+"/link"))
		if exists(p("link")) || !exists(p("target")) {
			t.Errorf("link exists %v, target exists %v; want false, true", exists(p("link")), exists(p("target")))
		}
	})
	t.Run("symlink to dir", func(t *testing.T) {
		s.must("ok", del(rel+"/dirlink"))
		if exists(p("dirlink")) || !exists(p("dirtarget")) {
			t.Errorf("link exists %v, target exists %v; want false, true", exists(p("dirlink")), exists(p("dirtarget")))
		}
	})
	t.Run("dangling symlink", func(t *testing.T) {
		s.must("ok", del(rel+"/dangling"))
		if exists(p("dangling")) {
			t.Error("still there")
		}
	})
	t.Run("directory", func(t *testing.T) {
		s.expect("error", del(rel+"/dir"))
		if !exists(p("dir")) {
			t.Error("directory removed")
		}
	})
	t.Run("missing", func(t *testing.T) {
		res := s.expect("error", del(rel+"/nope"))
		if !containsFold(res.Message, "No such file", "not found") {
			t.Errorf("message %q does not say the file is missing", res.Message)
		}
	})
	t.Run("glob is not expanded", func(t *testing.T) {
		s.expect("error", del(rel+"/x?"))
		s.expect("error", del(rel+"/x[12]"))
		s.expect("error", del(rel+"/x{1,2}"))
		s.expect("error", del(rel+"/x*"))
		if !exists(p("x1")) || !exists(p("x2")) {
			t.Error("a glob pattern removed x1 or x2")
		}
	})
	t.Run("file literally named star", func(t *testing.T) {
		s.must("ok", del(rel+"/*"))
		if exists(p("*")) {
			t.Error("* still there")
		}
		for _, n := range []string{"x1", "x2", "target", "dir"} {
			if !exists(p(n)) {
				t.Errorf("%s was removed along with *", n)
			}
		}
	})
	t.Run("permission denied", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("cannot make a file in a directory the same user cannot write")
		}
		unwritable(t, p("ro"))
		writeFile(t, nil, p("ro/f"), []byte("f")) // root's dir, root's file
		res := s.expect("error", del(rel+"/ro/f"))
		if !strings.Contains(res.Message, "Permission denied") {
			t.Errorf("message %q lacks Permission denied", res.Message)
		}
		if !exists(p("ro/f")) {
			t.Error("file removed despite the permissions")
		}
	})
	s.finish()
}

// awkwardNames are file names that a careless wrapper would split, glob,
// unquote, expand or mistake for something else. Each must survive PUT,
// LISTDIR, GET and DELETE exactly.
var awkwardNames = []string{
	"with space",
	" leading space",
	"trailing space ",
	"  ",
	"two  inner  spaces",
	"tab\there",
	"\tleading tab",
	"trailing tab\t",
	`double"quote`,
	`single'quote`,
	`both"and'quotes`,
	`"fully quoted"`,
	`back\slash`,
	`trailing backslash\`,
	`\\double`,
	`oct\101al`,
	`\"escaped quote`,
	"#hash",
	"mid#hash",
	"semi;colon",
	"star*",
	"*",
	"question?",
	"[brackets]",
	"[a-z]",
	"{a,b}",
	"{}",
	"-leading-dash",
	"-rf",
	"--",
	"-",
	"sftp> ",
	"sftp> fake prompt",
	"ünïcødé",
	"日本語.txt",
	"emoji-😀",
	"!bang",
	"$HOME",
	"$(echo pwned)",
	"`echo pwned`",
	"~tilde",
	"~",
	"@at",
	"percent%2F%20",
	"a:b",
	"...",
	".dotfile",
	"pipe|and&amp<lt>gt",
	"x # not a comment",
	"line-like\\nescape",
	strings.Repeat("long", 60),
}

func TestAwkwardNames(t *testing.T) { eachMode(t, testAwkwardNames) }

func testAwkwardNames(t *testing.T, m mode) {
	s := startDefault(t, m, client.Text)
	localSrc, localDst := t.TempDir(), t.TempDir()
	for i, name := range awkwardNames {
		t.Run(name, func(t *testing.T) {
			rel, abs := remoteDir(t, srv)
			content := []byte("content of " + name + "\n")
			src := filepath.Join(localSrc, name)
			writeFile(t, nil, src, content)

			res := s.must("ok", put(src, rel+"/"+name))
			if got := data[xfer](t, res); got.Dest != rel+"/"+name || got.Source != src {
				t.Errorf("PUT data %+v", got)
			}
			if got, err := os.ReadFile(filepath.Join(abs, name)); err != nil || !bytes.Equal(got, content) {
				t.Fatalf("on the server: %q, %v; want %q (names there: %q)", got, err, content, dirNames(t, abs))
			}

			res = s.must("ok", listdir(rel))
			checkListing(t, res, abs)

			dst := filepath.Join(localDst, name)
			res = s.must("ok", get(rel+"/"+name, dst))
			if got := data[xfer](t, res); got.Dest != dst {
				t.Errorf("GET dest %q, want %q", got.Dest, dst)
			}
			if got := readFile(t, dst); !bytes.Equal(got, content) {
				t.Errorf("GET brought %q, want %q", got, content)
			}

			// The name as a directory, listed by its own path.
			dir := filepath.Join(abs, "d")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(abs, name), filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			inner := filepath.Join(abs, name+".dir")
			if err := os.Mkdir(inner, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, nil, filepath.Join(inner, "x"), []byte("x"))
			checkListing(t, s.must("ok", listdir(rel+"/"+name+".dir")), inner)
			srv.Chown(abs)

			s.must("ok", del(rel+"/d/"+name))
			if exists(filepath.Join(dir, name)) {
				t.Error("DELETE left it on the server")
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("after DELETE the directory holds %q", names)
			}
		})
		if i%10 == 9 && t.Failed() {
			break // one broken quoting rule fails many names; keep the log short
		}
	}
	// No name may have run a command anywhere.
	for _, dir := range []string{s.dir, srv.Home, localSrc, localDst} {
		if exists(filepath.Join(dir, "pwned")) {
			t.Errorf("a shell ran: %s/pwned exists", dir)
		}
	}
	s.finish()
}

// TestUnlistableNames: a name sftp cannot print so that it can be read back
// exactly must make LISTDIR an error naming it, never a wrong listing.
// TestUnlistableNames: names that sftp's ls printed ambiguously, or that
// JSON could not carry as text, and that once made LISTDIR an error, now
// list exactly (bytes that are not UTF-8 as \udcXX escapes).
func TestUnlistableNames(t *testing.T) { eachMode(t, testUnlistableNames) }

func testUnlistableNames(t *testing.T, m mode) {
	s := startDefault(t, m, client.Text)
	for _, name := range []string{"zebra\nstripes", "mango\xffpapaya", "latin\xe9quokka", "carriage\rwombat",
		"koala\x01kiwi", "ocelot\x1b[31mred", `lemur\001literal`} {
		t.Run(name, func(t *testing.T) {
			rel, abs := remoteDir(t, srv)
			writeFile(t, nil, filepath.Join(abs, "aaa-normal"), []byte("n"))
			writeFile(t, nil, filepath.Join(abs, name), []byte("odd"))
			writeFile(t, nil, filepath.Join(abs, "zzz-normal"), []byte("n"))
			_, got := listedNames(t, s.must("ok", listdir(rel)))
			if want := []string{"aaa-normal", name, "zzz-normal"}; !cmp.Equal(got, want) {
				t.Errorf("LISTDIR names %q, want %q", got, want)
			}
		})
	}
	s.finish()
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestInjection: paths built to run a command, in every argument of every
// command. None may run anything; each must be refused or fail as the
// literal name it is.
func TestInjection(t *testing.T) { eachMode(t, testInjection) }

func testInjection(t *testing.T, m mode) {
	rel, abs := remoteDir(t, srv)
	// Start in the test's own directory: relative payloads that are valid
	// literal names land there, not in the shared login directory.
	s := start(t, runOpts{mode: m, framing: client.Text}, "-F", srv.SSHConfig, "sftp://"+sshdtest.Alias+"/"+rel)
	local := t.TempDir()
	src := filepath.Join(local, "src")
	writeFile(t, nil, src, []byte("src"))
	writeFile(t, srv, filepath.Join(abs, "victim"), []byte("v"))
	os.Mkdir(filepath.Join(abs, "d1"), 0o755)
	srv.Chown(abs)

	marker := filepath.Join(t.TempDir(), "pwned")
	victim := filepath.Join(abs, "victim")
	payloads := []struct {
		path string
		fail bool // must be refused as malformed
	}{
		{path: "!touch " + marker},
		{path: "x !touch " + marker},
		{path: "$(touch " + marker + ")"},
		{path: "`touch " + marker + "`"},
		{path: "x; !touch " + marker},
		{path: "x && touch " + marker},
		{path: "x | touch " + marker},
		{path: `x" ; !touch ` + marker + ` ; "`},
		{path: `x' ; !touch ` + marker + ` ; '`},
		{path: `x\" !touch ` + marker},
		{path: `x\`},
		{path: "#victim"},
		{path: "# victim"},
		{path: "-rf victim"},
		{path: "-rf"},
		{path: "*"},
		{path: "d*"},
		{path: "v?ctim*"},
		{path: "[v]ictim"},
		{path: "{victim,d1}"},
		{path: "\\victim"},
		{path: "x\n!touch " + marker, fail: true},
		{path: "x\nrm " + victim, fail: true},
		{path: "x\r!touch " + marker, fail: true},
		{path: "x\x00!touch " + marker, fail: true},
		{path: "\n!touch " + marker, fail: true},
	}
	for _, pl := range payloads {
		want := "error"
		if pl.fail {
			want = "fail"
		}
		for _, r := range []map[string]any{
			listdir(pl.path),
			del(pl.path),
			get(pl.path, filepath.Join(local, "out")),
			put(src, pl.path),
			put(pl.path, "out"),
			get("victim", pl.path),
		} {
			res := s.do(r)
			// LISTDIR's path goes to the server in an SFTP packet, not on
			// an sftp command line: any bytes but NUL are a literal name,
			// and this one does not exist.
			if r["command"] == "LISTDIR" && !strings.Contains(pl.path, "\x00") {
				want := "error"
				if res.Status != want {
					t.Errorf("%s: %s, want status %s", show(r), res.Raw, want)
				}
				if exists(marker) || !exists(victim) {
					t.Fatalf("%s ran a command", show(r))
				}
				continue
			}
			// A glob or a leading "-" path may be a valid literal name for
			// PUT or GET's destination: creating that literal file is right.
			if res.Status == "ok" && !pl.fail && (r["command"] == "PUT" || r["command"] == "GET") {
				continue
			}
			if res.Status != want {
				t.Errorf("%s: %s, want status %s", show(r), res.Raw, want)
			}
			if exists(marker) {
				t.Fatalf("%s ran a command: %s exists", show(r), marker)
			}
			if !exists(victim) {
				t.Fatalf("%s removed %s", show(r), victim)
			}
		}
	}
	for _, n := range []string{"d1", "victim"} {
		if !exists(filepath.Join(abs, n)) {
			t.Errorf("%s disappeared", n)
		}
	}
	s.finish()
}

func TestLargeFile(t *testing.T) { eachMode(t, testLargeFile) }

func testLargeFile(t *testing.T, m mode) {
	const size = 64 << 20
	s := startDefault(t, m, client.Binary)
	rel, abs := remoteDir(t, srv)
	local := t.TempDir()
	src := filepath.Join(local, "big.bin")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	if _, err := io.CopyN(io.MultiWriter(f, h), rng, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := h.Sum(nil)
	sum := func(path string) []byte {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		return h.Sum(nil)
	}

	res := s.doWithin(put(src, rel+"/big.bin"), bulkTimeout)
	if res.Status != "ok" || data[xfer](t, res).Size != size {
		t.Fatalf("PUT: %s", res.Raw)
	}
	if got := sum(filepath.Join(abs, "big.bin")); !bytes.Equal(got, want) {
		t.Fatalf("remote sha256 %x, want %x", got, want)
	}
	dst := filepath.Join(local, "back.bin")
	res = s.doWithin(get(rel+"/big.bin", dst), bulkTimeout)
	if res.Status != "ok" || data[xfer](t, res).Size != size {
		t.Fatalf("GET: %s", res.Raw)
	}
	if got := sum(dst); !bytes.Equal(got, want) {
		t.Fatalf("downloaded sha256 %x, want %x", got, want)
	}
	s.finish()
}
