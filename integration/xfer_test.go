package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// PUT's and GET's options: atomic (PUT's default), preserve, fsync,
// resume. Each effect is checked on the files themselves: their bytes,
// modes, times and inodes, and what is left beside them.

// putReq is a PUT with options.
func putReq(src, dst string, opts map[string]any) map[string]any {
	args := map[string]any{"source": src, "dest": dst}
	for k, v := range opts {
		args[k] = v
	}
	return call("PUT", args)
}

// getReq is a GET with options.
func getReq(src, dst string, opts map[string]any) map[string]any {
	args := map[string]any{"source": src, "dest": dst}
	for k, v := range opts {
		args[k] = v
	}
	return call("GET", args)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return uint64(st.Ino)
}

// times are p's mtime and atime, in seconds.
func times(t *testing.T, p string) (mtime, atime int64) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return mtimeOf(&st), atimeOf(&st)
}

// xferData is the data of an ok PUT or GET with its optional members.
type xferData struct {
	Atomic    *bool  `json:"atomic"`
	Dest      string `json:"dest"`
	Fsync     *bool  `json:"fsync"`
	Restarted bool   `json:"restarted"`
	Resumed   *int64 `json:"resumed"`
	Size      int64  `json:"size"`
	Source    string `json:"source"`
}

// TestPutAtomic: on every server, a PUT replaces dest in one step, keeps
// the mode of the file it replaces, writes through a symlink and into a
// directory as sftp's put does, and leaves no partial file behind.
func TestPutAtomic(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		_, abs := remoteDir(t, srv)
		p := func(n string) string { return filepath.Join(abs, n) }
		local := t.TempDir()
		src := filepath.Join(local, "src")
		content := randomBytes(t, 100_000)
		writeFile(t, nil, src, content)
		os.Chmod(src, 0o644)

		// A new file.
		res := s.must("ok", put(src, p("new")))
		if d := data[xferData](t, res); d.Atomic == nil || !*d.Atomic || d.Size != int64(len(content)) {
			t.Errorf("PUT of a new file: %s", res.Raw)
		}
		if !bytes.Equal(readFile(t, p("new")), content) {
			t.Errorf("the new file's bytes differ")
		}

		// Over a file: a new inode, the old file's mode kept.
		writeFile(t, srv, p("old"), []byte("old"))
		os.Chmod(p("old"), 0o600)
		before := inode(t, p("old"))
		s.must("ok", put(src, p("old")))
		if !bytes.Equal(readFile(t, p("old")), content) {
			t.Errorf("the replaced file's bytes differ")
		}
		if inode(t, p("old")) == before {
			t.Errorf("an atomic PUT wrote into the old file instead of replacing it")
		}
		if got := modeOf(t, p("old")); got != 0o600 {
			t.Errorf("the replaced file's mode is %04o, want the old file's 0600", got)
		}

		// "atomic": false writes into the file itself.
		writeFile(t, srv, p("inplace"), []byte("old"))
		before = inode(t, p("inplace"))
		res = s.must("ok", putReq(src, p("inplace"), map[string]any{"atomic": false}))
		if inode(t, p("inplace")) != before || !bytes.Equal(readFile(t, p("inplace")), content) {
			t.Errorf("a PUT with atomic false did not write into the file")
		}
		if d := data[xferData](t, res); d.Atomic != nil {
			t.Errorf("a PUT with atomic false says atomic: %s", res.Raw)
		}

		// Into a directory, under the source's name.
		os.Mkdir(p("dir"), 0o755)
		srv.Chown(p("dir"))
		s.must("ok", put(src, p("dir")))
		if !bytes.Equal(readFile(t, p("dir/src")), content) {
			t.Errorf("a PUT into a directory did not write dir/src")
		}

		// Through a symlink: the link stays, its target is replaced.
		writeFile(t, srv, p("target"), []byte("old"))
		os.Symlink("target", p("link"))
		os.Lchown(p("link"), srv.UID, srv.GID)
		s.must("ok", put(src, p("link")))
		if l, err := os.Readlink(p("link")); err != nil || l != "target" {
			t.Errorf("the symlink is gone: %q %v", l, err)
		}
		if !bytes.Equal(readFile(t, p("target")), content) {
			t.Errorf("a PUT through a symlink did not replace its target")
		}

		// A failed upload (a directory is in the way) leaves nothing.
		os.Mkdir(p("isdir"), 0o755)
		srv.Chown(p("isdir"))
		os.Mkdir(p("isdir/src"), 0o755)
		srv.Chown(p("isdir/src"))
		s.wantKind("is_a_directory", put(src, p("isdir")))
		s.wantKind("no_such_file", put(src, p("missing/x")))
		for _, d := range []string{abs, p("dir"), p("isdir")} {
			for _, n := range dirNames(t, d) {
				if filepath.Ext(n) == ".sftper-part" || n[0] == '.' {
					t.Errorf("left behind in %s: %q", d, n)
				}
			}
		}
	})
}

// TestPutAtomicReaders: while a large file replaces another, a reader of
// dest on the server sees the old bytes or the new ones, never a part.
func TestPutAtomicReaders(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		s := startDefault(t, m, 0)
		_, abs := remoteDir(t, srv)
		dest := filepath.Join(abs, "dest")
		oldContent := bytes.Repeat([]byte("old "), 1000)
		writeFile(t, srv, dest, oldContent)
		newContent := randomBytes(t, 64<<20)
		src := filepath.Join(t.TempDir(), "src")
		writeFile(t, nil, src, newContent)

		var stop atomic.Bool
		var reads, bad atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				b, err := os.ReadFile(dest)
				reads.Add(1)
				if err != nil || !bytes.Equal(b, oldContent) && !bytes.Equal(b, newContent) {
					bad.Add(1)
				}
			}
		}()
		s.must("ok", put(src, dest))
		stop.Store(true)
		wg.Wait()
		if bad.Load() != 0 {
			t.Errorf("%d of %d reads during the PUT saw neither the old file nor the new one", bad.Load(), reads.Load())
		}
		if !bytes.Equal(readFile(t, dest), newContent) {
			t.Errorf("dest does not hold the new bytes")
		}
		t.Logf("%d reads of dest during the upload", reads.Load())
	})
}

// TestPutPreserveFsync: "preserve" gives the file the source's mode and
// times, exactly; "fsync" is reported done on a server with the extension.
func TestPutPreserveFsync(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		s := startDefault(t, m, 0)
		_, abs := remoteDir(t, srv)
		src := filepath.Join(t.TempDir(), "src")
		writeFile(t, nil, src, []byte("keep my times"))
		os.Chmod(src, 0o751)
		mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		atime := time.Date(2002, 3, 4, 5, 6, 7, 0, time.UTC)
		for _, atomic := range []bool{true, false} {
			// Reading the source moves its access time on (relatime):
			// set it again for each upload.
			os.Chtimes(src, atime, mtime)
			dest := filepath.Join(abs, "p-"+map[bool]string{true: "atomic", false: "inplace"}[atomic])
			res := s.must("ok", putReq(src, dest, map[string]any{"preserve": true, "fsync": true, "atomic": atomic}))
			if got := modeOf(t, dest); got != 0o751 {
				t.Errorf("atomic %v: mode %04o, want 0751", atomic, got)
			}
			if mt, at := times(t, dest); mt != mtime.Unix() || at != atime.Unix() {
				t.Errorf("atomic %v: mtime %d atime %d, want %d %d", atomic, mt, at, mtime.Unix(), atime.Unix())
			}
			if d := data[xferData](t, res); d.Fsync == nil || !*d.Fsync {
				t.Errorf("atomic %v: fsync not reported done on OpenSSH: %s", atomic, res.Raw)
			}
		}
	})
}

// TestPutResume: an upload goes on from a partial file that holds the
// source's beginning, and starts again from one that does not.
func TestPutResume(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		s := startDefault(t, m, 0)
		_, abs := remoteDir(t, srv)
		p := func(n string) string { return filepath.Join(abs, n) }
		content := randomBytes(t, 300_000)
		src := filepath.Join(t.TempDir(), "src")
		writeFile(t, nil, src, content)
		part := func(n string) string { return p("." + n + ".sftper-part") }

		for _, tc := range []struct {
			name      string
			part      []byte // what the partial file holds; nil: none
			resumed   int64
			restarted bool
		}{
			{"none", nil, 0, false},
			{"prefix", content[:123_457], 123_457, false},
			{"whole", content, int64(len(content)), false},
			{"empty", []byte{}, 0, false},
			{"other bytes at the end", append(append([]byte{}, content[:200_000]...), 'x'), 0, true},
			{"other bytes at the start", append([]byte{'x'}, content[1:100_000]...), 0, true},
			{"longer", append(append([]byte{}, content...), 'x'), 0, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dest := "r-" + notWord.ReplaceAllString(tc.name, "_")
				writeFile(t, srv, p(dest), []byte("the old file"))
				if tc.part != nil {
					writeFile(t, srv, part(dest), tc.part)
				}
				res := s.must("ok", putReq(src, p(dest), map[string]any{"resume": true}))
				d := data[xferData](t, res)
				if d.Resumed == nil || *d.Resumed != tc.resumed || d.Restarted != tc.restarted {
					t.Errorf("%s", res.Raw)
				}
				if !bytes.Equal(readFile(t, p(dest)), content) {
					t.Errorf("dest does not hold the source's bytes")
				}
				if exists(part(dest)) {
					t.Errorf("the partial file is still there")
				}
			})
		}
		// Not atomic: dest itself is what is resumed.
		writeFile(t, srv, p("inplace"), content[:50_000])
		res := s.must("ok", putReq(src, p("inplace"), map[string]any{"resume": true, "atomic": false}))
		if d := data[xferData](t, res); d.Resumed == nil || *d.Resumed != 50_000 {
			t.Errorf("resume in place: %s", res.Raw)
		}
		if !bytes.Equal(readFile(t, p("inplace")), content) {
			t.Errorf("resume in place: dest does not hold the source's bytes")
		}
	})
}

// TestGetOptions: GET's preserve, fsync and resume, checked on the local
// files.
func TestGetOptions(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		s := startDefault(t, m, 0)
		_, abs := remoteDir(t, srv)
		content := randomBytes(t, 300_000)
		remote := filepath.Join(abs, "src")
		writeFile(t, srv, remote, content)
		os.Chmod(remote, 0o640)
		mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		atime := time.Date(2002, 3, 4, 5, 6, 7, 0, time.UTC)
		os.Chtimes(remote, atime, mtime)
		local := t.TempDir()
		l := func(n string) string { return filepath.Join(local, n) }

		res := s.must("ok", getReq(remote, l("p"), map[string]any{"preserve": true, "fsync": true}))
		if got := modeOf(t, l("p")); got != 0o640 {
			t.Errorf("GET preserve: mode %04o, want 0640", got)
		}
		if mt, at := times(t, l("p")); mt != mtime.Unix() || at != atime.Unix() {
			t.Errorf("GET preserve: mtime %d atime %d, want %d %d", mt, at, mtime.Unix(), atime.Unix())
		}
		if d := data[xferData](t, res); d.Fsync == nil || !*d.Fsync {
			t.Errorf("GET fsync: %s", res.Raw)
		}

		part := func(n string) string { return l("." + n + ".sftper-part") }
		for _, tc := range []struct {
			name      string
			part      []byte
			resumed   int64
			restarted bool
		}{
			{"none", nil, 0, false},
			{"prefix", content[:77_777], 77_777, false},
			{"whole", content, int64(len(content)), false},
			{"other bytes", append(append([]byte{}, content[:100_000]...), 'x'), 0, true},
			{"longer", append(append([]byte{}, content...), 'x'), 0, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dest := "g-" + notWord.ReplaceAllString(tc.name, "_")
				if tc.part != nil {
					writeFile(t, nil, part(dest), tc.part)
				}
				res := s.must("ok", getReq(remote, l(dest), map[string]any{"resume": true, "preserve": true}))
				d := data[xferData](t, res)
				if d.Resumed == nil || *d.Resumed != tc.resumed || d.Restarted != tc.restarted {
					t.Errorf("%s", res.Raw)
				}
				if !bytes.Equal(readFile(t, l(dest)), content) {
					t.Errorf("dest does not hold the source's bytes")
				}
				if mt, _ := times(t, l(dest)); mt != mtime.Unix() {
					t.Errorf("resumed GET with preserve: mtime %d, want %d", mt, mtime.Unix())
				}
				if exists(part(dest)) {
					t.Errorf("the partial file is still there")
				}
			})
		}
		// A resumable GET that fails keeps its partial file.
		s.wantKind("no_such_file", getReq(filepath.Join(abs, "missing"), l("kept"), map[string]any{"resume": true}))
	})
}

// TestAtomicPutServerDies: the server is killed in the middle of a 1 GiB
// atomic PUT over an existing file. The file is as it was, the partial
// file holds what arrived, and once the server is back a resumable PUT
// finishes it from there with the right bytes.
func TestAtomicPutServerDies(t *testing.T) {
	const size = 1 << 30
	src := filepath.Join(t.TempDir(), "big")
	writePattern(t, src, size)
	eachMode(t, func(t *testing.T, m mode) {
		server := startServer(t, sshdtest.Options{})
		s := start(t, runOpts{mode: m, server: server}, "-F", server.SSHConfig, sshdtest.Alias)
		dest := filepath.Join(server.Home, "big")
		writeFile(t, server, dest, []byte("the previous version"))
		if err := s.p.Send([]byte(`{"command":"PUT","args":{"source":"`+src+`","dest":"big"},"id":1}`), reqTimeout); err != nil {
			t.Fatal(err)
		}
		part := partFile(server.Home, "big")
		waitForSize(t, part, size/4)
		if err := server.Kill(); err != nil {
			t.Fatal(err)
		}
		res := s.inFlightResult(t)
		if res.Status != "error" || remoteData(t, res) != "unchanged" {
			t.Fatalf("PUT when the server died: %s; want an error, remote unchanged", res.Raw)
		}
		if got := string(readFile(t, dest)); got != "the previous version" {
			t.Fatalf("dest after the failed PUT holds %q", got)
		}
		fi, err := os.Stat(part)
		if err != nil || fi.Size() < size/4 || fi.Size() >= size {
			t.Fatalf("the partial file after the failed PUT: %v, %v", fi, err)
		}
		if err := server.Restart(); err != nil {
			t.Fatal(err)
		}
		res = s.must("ok", putReq(src, "big", map[string]any{"resume": true}))
		d := data[xferData](t, res)
		if d.Resumed == nil || *d.Resumed < size/4 || d.Restarted {
			t.Errorf("resume: %s; want at least %d bytes kept", res.Raw, size/4)
		}
		checkPattern(t, dest, size)
		if exists(part) {
			t.Errorf("the partial file is still there after the resume")
		}
		s.finish()
	})
}

// writePattern writes size bytes to p in which each 8-byte word holds its
// own offset: cheap to make, and a byte in the wrong place shows.
func writePattern(t *testing.T, p string, size int64) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		for i := 0; i < len(buf); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], uint64(off)+uint64(i))
		}
		if _, err := f.Write(buf[:min(int64(len(buf)), size-off)]); err != nil {
			t.Fatal(err)
		}
	}
}

// checkPattern checks that p holds exactly what writePattern writes.
func checkPattern(t *testing.T, p string, size int64) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	if fi.Size() != size {
		t.Fatalf("%s has %d bytes, want %d", p, fi.Size(), size)
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		n, err := io.ReadFull(f, buf[:min(int64(len(buf)), size-off)])
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i += 8 {
			if got := binary.LittleEndian.Uint64(buf[i:]); got != uint64(off)+uint64(i) {
				t.Fatalf("%s: the word at %d holds %d", p, off+int64(i), got)
			}
		}
	}
}

// waitForSize waits until the file p has at least n bytes.
func waitForSize(t *testing.T, p string, n int64) {
	t.Helper()
	for deadline := time.Now().Add(reqTimeout); ; time.Sleep(5 * time.Millisecond) {
		if fi, err := os.Stat(p); err == nil && fi.Size() >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %d bytes", p, n)
		}
	}
}

// TestProgress: a transfer that asks for progress gets reports before its
// result, with its id, counting up to the file's size, at most every
// 250 ms; one that does not ask gets none.
func TestProgress(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		// 8000 Kbit/s: 1.5 MiB take about 1.5 s.
		args := append([]string{"--sftp-command", "sftp -l 8000"}, defaultArgs()...)
		s := start(t, runOpts{mode: m}, args...)
		_, abs := remoteDir(t, srv)
		const size = 3 << 19
		content := randomBytes(t, size)
		src := filepath.Join(t.TempDir(), "src")
		writeFile(t, nil, src, content)
		local := t.TempDir()
		for _, tc := range []struct {
			name string
			req  map[string]any
		}{
			{"PUT", putReq(src, filepath.Join(abs, "up"), map[string]any{"progress": true})},
			{"PUT in place", putReq(src, filepath.Join(abs, "up2"), map[string]any{"progress": true, "atomic": false})},
			{"GET", getReq(filepath.Join(abs, "up"), filepath.Join(local, "down"), map[string]any{"progress": true})},
			{"GET resumable", getReq(filepath.Join(abs, "up"), filepath.Join(local, "down2"), map[string]any{"progress": true, "resume": true})},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.req["id"] = tc.name
				payload, _ := json.Marshal(tc.req)
				t0 := time.Now()
				if err := s.p.Send(payload, reqTimeout); err != nil {
					t.Fatal(err)
				}
				var last int64 = -1
				var reports int
				for {
					b, err := s.p.Recv(reqTimeout)
					if err != nil {
						t.Fatal(err)
					}
					res, err := client.Decode(b)
					if err != nil {
						t.Fatal(err)
					}
					if string(res.ID) != `"`+tc.name+`"` {
						t.Fatalf("%s with another id: %s", tc.name, b)
					}
					if res.Status != "progress" {
						if res.Status != "ok" {
							t.Fatalf("result %s", b)
						}
						break
					}
					reports++
					p := data[struct{ Bytes, Total int64 }](t, res)
					if p.Total != size || p.Bytes <= last || p.Bytes > size || res.Message != "" {
						t.Errorf("report %s after %d bytes", b, last)
					}
					last = p.Bytes
				}
				elapsed := time.Since(t0)
				if reports == 0 || reports > int(elapsed/(250*time.Millisecond))+1 {
					t.Errorf("%d reports in %v: want at least one, at most one per 250 ms", reports, elapsed)
				}
				t.Logf("%d reports in %v, the last at %d bytes", reports, elapsed, last)
			})
		}
		if !bytes.Equal(readFile(t, filepath.Join(local, "down2")), content) {
			t.Errorf("the downloaded file differs")
		}
		// Without "progress": the result alone.
		res := s.must("ok", put(src, filepath.Join(abs, "quiet")))
		if res.Status != "ok" {
			t.Errorf("%s", res.Raw)
		}
	})
}
