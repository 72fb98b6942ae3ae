package integration

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Recursive PUT and GET, checked file by file against the tree they
// copied: bytes, modes, times (with preserve), symlink targets, and what
// could not be copied listed as failed.

// treeNames are awkward names for the files and directories of a test
// tree: what a shell, sftp's tokenizer or its glob would each take apart.
var treeNames = []string{
	"plain", "with space", `quote"d`, "apos'", `back\slash`, "star*", "[a-z]", "-lead",
	"tab\there", "ünïcødé", "caf\xe9", "#hash", "semi;colon", "dollar$(x)", "brace{1,2}", " lead",
}

// treeFile is what is expected at one path of a tree.
type treeFile struct {
	Kind   string // "dir", "file", "link"
	Mode   uint32
	Mtime  int64
	Size   int64
	Sum    string // the bytes, for small files; a digest of them for large ones
	Target string
}

// makeTree makes a tree of files in dirs directories below root, with
// awkward names, random sizes, modes and times, and symlinks, and returns
// its description.
func makeTree(t *testing.T, root string, dirs, files int, seed int64) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	var dirPaths []string
	for i := 0; i < dirs; i++ {
		name := fmt.Sprintf("%s %03d", treeNames[i%len(treeNames)], i)
		parent := root
		if len(dirPaths) > 0 && i%4 != 0 {
			parent = dirPaths[r.Intn(len(dirPaths))]
		}
		p := filepath.Join(parent, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		dirPaths = append(dirPaths, p)
	}
	all := append([]string{root}, dirPaths...)
	for i := 0; i < files; i++ {
		dir := all[r.Intn(len(all))]
		p := filepath.Join(dir, fmt.Sprintf("%s.%04d", treeNames[r.Intn(len(treeNames))], i))
		size := r.Intn(8 << 10)
		if i%500 == 0 {
			size = 3<<20 + r.Intn(1<<20)
		}
		b := make([]byte, size)
		r.Read(b)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, []os.FileMode{0o600, 0o640, 0o644, 0o755, 0o700, 0o444}[r.Intn(6)])
		when := time.Unix(1_000_000_000+r.Int63n(700_000_000), 0)
		os.Chtimes(p, when.Add(time.Hour), when)
	}
	for i, target := range []string{"plain.0001", "../elsewhere", "/etc/hostname", "nowhere at all", "caf\xe9"} {
		if err := os.Symlink(target, filepath.Join(all[i%len(all)], fmt.Sprintf("link %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(root, "empty dir"), 0o700)
	for i, d := range all {
		when := time.Unix(1_100_000_000+int64(i)*1000, 0)
		os.Chmod(d, []os.FileMode{0o755, 0o750, 0o700, 0o775}[i%4])
		defer os.Chtimes(d, when, when) // last: making entries moves a directory's mtime
	}
}

// describeTree reads the tree below root, as treeFiles by relative path;
// what is in skip (relative paths) is left out.
func describeTree(t *testing.T, root string, times bool) map[string]treeFile {
	t.Helper()
	out := map[string]treeFile{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		f := treeFile{Mode: uint32(st.Mode) & 0o7777}
		if times {
			f.Mtime = mtimeOf(&st)
		}
		switch {
		case d.IsDir():
			f.Kind = "dir"
			if rel == "." {
				f.Mode = 0 // the root is made by the transfer, not copied
				f.Mtime = 0
			}
		case d.Type()&fs.ModeSymlink != 0:
			f.Kind = "link"
			f.Target, _ = os.Readlink(p)
			f.Mode, f.Mtime = 0, 0 // a symlink's own are not copied
		case !d.Type().IsRegular():
			return nil // a FIFO, say: not copied, and not to be read
		default:
			f.Kind = "file"
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			f.Size = int64(len(b))
			f.Sum = fmt.Sprintf("%x", b[:min(len(b), 64)]) + fmt.Sprintf("/%d", crc(b))
		}
		out[rel] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func crc(b []byte) uint64 {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// treeData is the data of a recursive transfer's result.
type treeData struct {
	Kind   string `json:"kind"`
	Remote string `json:"remote"`
	Source string `json:"source"`
	Dest   string `json:"dest"`
	Files  int    `json:"files"`
	Dirs   int    `json:"dirs"`
	Links  int    `json:"links"`
	Bytes  int64  `json:"bytes"`
	Failed []struct {
		Path    string `json:"path"`
		Kind    string `json:"kind"`
		Message string `json:"message"`
	} `json:"failed"`
}

// TestRecursive: a tree of 2,000 files in 200 directories, with awkward
// names, goes up and comes back byte for byte, modes and mtimes exact
// with preserve; symlinks are copied as links; what cannot be copied is
// listed, and the rest is copied all the same.
func TestRecursive(t *testing.T) {
	local := t.TempDir()
	src := filepath.Join(local, "tree")
	os.Mkdir(src, 0o755)
	makeTree(t, src, 200, 2000, 1)
	want := describeTree(t, src, true)
	// What no transfer can copy: a FIFO, and a name no sftp command line
	// can carry (a newline). They are listed as failed, and nothing else.
	syscall.Mkfifo(filepath.Join(src, "a fifo"), 0o644)
	os.WriteFile(filepath.Join(src, "new\nline"), []byte("x"), 0o644)
	eachMode(t, func(t *testing.T, m mode) {
		s := startDefault(t, m, 0)
		_, abs := remoteDir(t, srv)
		remote := filepath.Join(abs, "up")
		start := time.Now()
		res := s.must("error", putReq(src, remote, map[string]any{"recursive": true, "preserve": true}))
		t.Logf("PUT of the tree: %v", time.Since(start))
		d := data[treeData](t, res)
		var failed []string
		for _, f := range d.Failed {
			failed = append(failed, f.Path+" "+f.Kind)
		}
		sort.Strings(failed)
		if diff := cmp.Diff([]string{"a fifo local", "new\nline unsupported"}, failed); diff != "" {
			t.Errorf("failed (-want +got):\n%s\n%s", diff, res.Raw)
		}
		if d.Files != 2000 || d.Dirs != 202 || d.Links != 5 || d.Dest != remote {
			t.Errorf("PUT summary: %s", res.Raw)
		}
		if diff := cmp.Diff(want, describeTree(t, remote, true)); diff != "" {
			t.Fatalf("the tree on the server (-want +got):\n%s", diff)
		}
		// Nothing left beside the files.
		filepath.WalkDir(remote, func(p string, _ fs.DirEntry, _ error) error {
			if strings.HasSuffix(p, ".sftper-part") {
				t.Errorf("left on the server: %s", p)
			}
			return nil
		})

		// And back, into a directory that is there (dest is the copy's
		// root, there or not).
		back := t.TempDir()
		start = time.Now()
		res = s.must("ok", getReq(remote, back, map[string]any{"recursive": true, "preserve": true}))
		t.Logf("GET of the tree: %v", time.Since(start))
		if d := data[treeData](t, res); d.Files != 2000 || d.Links != 5 || d.Dest != back {
			t.Errorf("GET summary: %s", res.Raw)
		}
		if diff := cmp.Diff(want, describeTree(t, back, true), cmp.Transformer("noroot", func(m map[string]treeFile) map[string]treeFile {
			c := maps.Clone(m)
			delete(c, ".") // the root's mode and times are the temporary directory's before the GET
			return c
		})); diff != "" {
			t.Fatalf("the tree back here (-want +got):\n%s", diff)
		}

		// The same PUT again, without preserve: into the same place,
		// each file replaced.
		res = s.must("error", putReq(src, remote, map[string]any{"recursive": true}))
		if d := data[treeData](t, res); d.Dest != remote || d.Files != 2000 {
			t.Errorf("the PUT again: %s", res.Raw)
		}
		copied := describeTree(t, src, false)
		delete(copied, "new\nline")
		if diff := cmp.Diff(copied, describeTree(t, remote, false), cmpIgnoreModes()); diff != "" {
			t.Errorf("the PUT again (-want +got):\n%s", diff)
		}

		// A destination that cannot be made: the whole request fails,
		// nothing is sent.
		writeFile(t, srv, filepath.Join(abs, "a file"), []byte("x"))
		s.wantKind("not_a_directory", putReq(src, filepath.Join(abs, "a file", "x"), map[string]any{"recursive": true}))
		s.wantKind("no_such_file", getReq(filepath.Join(abs, "nothing here"), t.TempDir(), map[string]any{"recursive": true}))
	})
}

// cmpIgnoreModes compares trees copied without preserve: the bytes, kinds
// and targets must be equal; modes are the source's less the server's
// umask, and are not compared.
func cmpIgnoreModes() cmp.Option {
	return cmp.Transformer("nomode", func(f treeFile) treeFile { f.Mode = 0; return f })
}

// TestRecursiveResume: a recursive PUT and GET stopped by SIGTERM in the
// middle leave nothing the next run does not clean up or finish: a
// resumable run after each completes the tree, and no partial file is
// left on either side.
func TestRecursiveResume(t *testing.T) {
	local := t.TempDir()
	src := filepath.Join(local, "tree")
	os.Mkdir(src, 0o755)
	makeTree(t, src, 10, 60, 2)
	want := describeTree(t, src, false)
	eachMode(t, func(t *testing.T, m mode) {
		_, abs := remoteDir(t, srv)
		remote := filepath.Join(abs, "up")
		back := filepath.Join(t.TempDir(), "back")
		for _, dir := range []string{"PUT", "GET"} {
			// 4000 Kbit/s: the tree's 7 MiB or so take 15 s; stopped
			// after a second.
			args := append([]string{"--sftp-command", "sftp -l 4000"}, defaultArgs()...)
			s := start(t, runOpts{mode: m}, args...)
			req := putReq(src, remote, map[string]any{"recursive": true})
			if dir == "GET" {
				req = getReq(remote, back, map[string]any{"recursive": true})
			}
			payload, _ := json.Marshal(req)
			if err := s.p.Send(payload, reqTimeout); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			s.p.Signal(syscall.SIGTERM)
			s.p.Wait(reqTimeout)

			s = startDefault(t, m, 0)
			req["args"].(map[string]any)["resume"] = true
			res := s.must("ok", req)
			t.Logf("%s resumed: %s", dir, res.Message)
			got := remote
			if dir == "GET" {
				got = back
			}
			if diff := cmp.Diff(want, describeTree(t, got, false), cmpIgnoreModes()); diff != "" {
				t.Fatalf("%s: the tree after a stop and a resume (-want +got):\n%s", dir, diff)
			}
			for _, root := range []string{remote, back} {
				filepath.WalkDir(root, func(p string, _ fs.DirEntry, _ error) error {
					if strings.HasSuffix(p, ".sftper-part") || strings.HasSuffix(p, ".part") {
						t.Errorf("%s: left behind: %s", dir, p)
					}
					return nil
				})
			}
			s.finish()
		}
	})
}

// TestRecursiveLinks: a source that is a symlink loop is a clear error
// with nothing made on the server; symlinks inside a tree, loops and links
// to its own root included, are copied as links and never followed.
func TestRecursiveLinks(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		s := startDefault(t, m, 0)
		_, abs := remoteDir(t, srv)
		local := t.TempDir()
		os.Symlink("loop-b", filepath.Join(local, "loop-a"))
		os.Symlink("loop-a", filepath.Join(local, "loop-b"))
		res := s.wantKind("local", putReq(filepath.Join(local, "loop-a"), filepath.Join(abs, "dest"), map[string]any{"recursive": true}))
		if !strings.Contains(res.Message, "too many levels of symbolic links") || exists(filepath.Join(abs, "dest")) {
			t.Errorf("a symlink loop as the source: %s; dest there: %v", res.Raw, exists(filepath.Join(abs, "dest")))
		}

		tree := filepath.Join(local, "tree")
		os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
		os.WriteFile(filepath.Join(tree, "sub", "f"), []byte("f"), 0o644)
		os.Symlink("..", filepath.Join(tree, "sub", "up"))    // its own root
		os.Symlink("me", filepath.Join(tree, "me"))           // itself
		os.Symlink("tree", filepath.Join(local, "tree-link")) // the source given through a link
		res = s.must("ok", putReq(filepath.Join(local, "tree-link"), filepath.Join(abs, "copy"), map[string]any{"recursive": true}))
		if d := data[treeData](t, res); d.Files != 1 || d.Links != 2 || d.Dirs != 2 {
			t.Errorf("%s", res.Raw)
		}
		if diff := cmp.Diff(describeTree(t, tree, false), describeTree(t, filepath.Join(abs, "copy"), false), cmpIgnoreModes()); diff != "" {
			t.Errorf("the copy (-want +got):\n%s", diff)
		}
		back := filepath.Join(t.TempDir(), "back")
		s.must("ok", getReq(filepath.Join(abs, "copy"), back, map[string]any{"recursive": true}))
		if diff := cmp.Diff(describeTree(t, tree, false), describeTree(t, back, false), cmpIgnoreModes()); diff != "" {
			t.Errorf("the copy back (-want +got):\n%s", diff)
		}
	})
}
