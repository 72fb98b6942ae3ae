package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// Exact attributes (LISTDIR, STAT, LSTAT on sftper's own SFTP channel),
// proven against three servers nobody here wrote: OpenSSH's internal-sftp,
// Debian's gesftpserver as OpenSSH's subsystem, and ProFTPD's mod_sftp.
// Each answer is compared with what stat and lstat say of the real file on
// the server's file system.

// attrServers starts the three servers.
func attrServers(t *testing.T) map[string]*sshdtest.Server {
	t.Helper()
	if _, err := os.Stat(sshdtest.Gesftpserver); err != nil && os.Getenv("CI") == "" {
		t.Skipf("gesftpserver is not installed (Debian: apt-get install gesftpserver): %v", err)
	}
	return map[string]*sshdtest.Server{
		"internal-sftp": startServer(t, sshdtest.Options{}),
		"gesftpserver":  startServer(t, sshdtest.Options{SFTPServer: sshdtest.Gesftpserver}),
		"proftpd":       startProFTPD(t),
	}
}

// eachServer runs f on each of the three servers in each mode.
func eachServer(t *testing.T, f func(t *testing.T, srv *sshdtest.Server, s *sftper)) {
	servers := attrServers(t)
	for _, name := range []string{"internal-sftp", "gesftpserver", "proftpd"} {
		t.Run(name, func(t *testing.T) {
			eachMode(t, func(t *testing.T, m mode) { f(t, servers[name], startOn(t, servers[name], m)) })
		})
	}
}

func stat(p string) map[string]any  { return req("STAT", "path", p) }
func lstat(p string) map[string]any { return req("LSTAT", "path", p) }

// fileAttrs is the data of an ok STAT or LSTAT.
type fileAttrs struct {
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
	Mode  uint32 `json:"mode"`
	Atime int64  `json:"atime"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
}

func attrsOf(t *testing.T, path string, follow bool, said *fileAttrs) fileAttrs {
	t.Helper()
	var st syscall.Stat_t
	var err error
	if follow {
		err = syscall.Stat(path, &st)
	} else {
		err = syscall.Lstat(path, &st)
	}
	if err != nil {
		t.Fatal(err)
	}
	e := statEntry("", &st)
	if said != nil {
		e.Atime = linkAtime(e.Mode, said.Atime, e.Atime)
	}
	return fileAttrs{Size: e.Size, Mtime: e.Mtime, Mode: e.Mode, Atime: e.Atime, UID: e.UID, GID: e.GID}
}

// TestAttrsExact: LISTDIR, STAT and LSTAT give exactly what the file
// system holds, to the second, for files, directories and symlinks, one
// dated 2001 and one changed seconds ago.
func TestAttrsExact(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		_, abs := remoteDir(t, srv)
		p := func(n string) string { return filepath.Join(abs, n) }
		writeFile(t, srv, p("old"), []byte("from 2001\n"))
		writeFile(t, srv, p("recent"), bytes.Repeat([]byte("r"), 5000))
		writeFile(t, srv, p("setuid"), []byte("#!/bin/sh\n"))
		if err := os.Mkdir(p("dir"), 0o750); err != nil {
			t.Fatal(err)
		}
		for _, l := range [][2]string{{"old", "link"}, {"dir", "dirlink"}, {"gone", "dangling"}} {
			if err := os.Symlink(l[0], p(l[1])); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range []string{"dir", "link", "dirlink", "dangling"} {
			os.Lchown(p(n), srv.UID, srv.GID)
		}
		os.Chmod(p("setuid"), 0o4751)
		old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		os.Chtimes(p("old"), old.Add(37*time.Hour), old)
		recent := time.Now().Add(-3 * time.Second).Truncate(time.Second).Add(123 * time.Millisecond)
		os.Chtimes(p("recent"), recent.Add(-time.Hour), recent)

		checkListing(t, s.must("ok", listdir(abs)), abs)
		for _, n := range []string{"old", "recent", "setuid", "dir", "link", "dirlink"} {
			if got := data[fileAttrs](t, s.must("ok", stat(p(n)))); got != attrsOf(t, p(n), true, &got) {
				want := attrsOf(t, p(n), true, &got)
				t.Errorf("STAT %s: %+v, want %+v", n, got, want)
			}
		}
		for _, n := range []string{"old", "recent", "dir", "link", "dirlink", "dangling"} {
			if got := data[fileAttrs](t, s.must("ok", lstat(p(n)))); got != attrsOf(t, p(n), false, &got) {
				want := attrsOf(t, p(n), false, &got)
				t.Errorf("LSTAT %s: %+v, want %+v", n, got, want)
			}
		}
		if got := data[fileAttrs](t, s.must("ok", stat(p("old")))); got.Mtime != old.Unix() {
			t.Errorf("mtime of the 2001 file: %d, want %d", got.Mtime, old.Unix())
		}
		if got := data[fileAttrs](t, s.must("ok", stat(p("recent")))); got.Mtime != recent.Unix() {
			t.Errorf("mtime of the recent file: %d, want %d (to the second)", got.Mtime, recent.Unix())
		}
		// A symlink to a directory, given as the path, lists the directory.
		if got := entries(t, s.must("ok", listdir(p("dirlink")))); len(got) != 0 {
			t.Errorf("LISTDIR of a link to an empty directory: %+v", got)
		}
		s.wantKind("no_such_file", stat(p("dangling")))
		s.wantKind("no_such_file", stat(p("nope")))
		s.wantKind("no_such_file", lstat(p("nope")))
		res := s.wantKind("no_such_file", listdir(p("nope")))
		if !bytes.Contains([]byte(res.Message), []byte("SSH_FX_")) {
			t.Errorf("LISTDIR of a missing path: message %q does not name the status code", res.Message)
		}
		s.wantKind("not_a_directory", listdir(p("old")))
	})
}

// TestAttrsPermissions: what the login user (not root) may not see.
func TestAttrsPermissions(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		_, abs := remoteDir(t, srv)
		p := func(n string) string { return filepath.Join(abs, n) }
		for name, mode := range map[string]os.FileMode{"noread": 0o711, "nosearch": 0o744, "closed": 0o700} {
			if err := os.Mkdir(p(name), 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, nil, p(name+"/f"), []byte("f")) // root's
			os.Chmod(p(name), mode)
		}
		s.wantKind("permission_denied", listdir(p("noread")))
		s.wantKind("permission_denied", listdir(p("nosearch")))
		s.wantKind("permission_denied", listdir(p("closed")))
		s.wantKind("permission_denied", stat(p("closed/f")))
		// What it may see is still exact.
		if got, want := data[fileAttrs](t, s.must("ok", stat(p("noread/f")))), attrsOf(t, p("noread/f"), true, nil); got != want {
			t.Errorf("STAT through a search-only directory: %+v, want %+v", got, want)
		}
	})
}

// awkwardBytes are names that ls would print ambiguously or JSON could
// not carry as text.
var awkwardBytes = []string{"new\nline", "tab\there", `a\101b`, `a\001b`, "ctl\x01char", "caf\xe9", "\xff", "ok ünï", " lead", `back\slash`, "*", "[a-z]"}

// TestAttrsNames: a directory of awkward names lists fully and exactly,
// names that are not UTF-8 as \udcXX escapes, and each name comes back
// through a STAT written by hand with those escapes.
func TestAttrsNames(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *sshdtest.Server, s *sftper) {
		_, abs := remoteDir(t, srv)
		for i, n := range awkwardBytes {
			writeFile(t, srv, filepath.Join(abs, n), []byte(strconv.Itoa(i)))
		}
		raw, got := listedNames(t, s.must("ok", listdir(abs)))
		want := dirNames(t, abs)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("LISTDIR names (-want +got):\n%s", diff)
		}
		for i, lit := range raw {
			if i >= len(want) {
				break
			}
			payload := fmt.Sprintf(`{"command":"STAT","args":{"path":%s}}`, joinRaw(abs, lit))
			st := s.do([]byte(payload))
			if st.Status != "ok" {
				t.Errorf("STAT %s: %s", payload, st.Raw)
				continue
			}
			if g, w := data[fileAttrs](t, st), attrsOf(t, filepath.Join(abs, want[i]), true, nil); g != w {
				t.Errorf("STAT of %q: %+v, want %+v", want[i], g, w)
			}
		}
		if res := s.do(put(filepath.Join(abs, "tab\there"), filepath.Join(abs, "new\nname"))); res.Status != "fail" {
			t.Errorf("PUT to a name with a newline: %s, want fail", res.Raw)
		}
	})
}

// listedNames are the names of an ok LISTDIR: as JSON literals, and as
// the bytes they stand for (see surrogateUnescape).
func listedNames(t *testing.T, res client.Result) (raw []json.RawMessage, names []string) {
	t.Helper()
	var entries []struct {
		Name json.RawMessage `json:"name"`
	}
	if err := json.Unmarshal(res.Data, &entries); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw = append(raw, e.Name)
		names = append(names, surrogateUnescape(t, e.Name))
	}
	return raw, names
}

// surrogateUnescape reads a JSON string literal as the bytes it stands
// for, \udc80..\udcff as single bytes (Python's surrogateescape):
// encoding/json would read those as U+FFFD.
func surrogateUnescape(t *testing.T, lit json.RawMessage) string {
	t.Helper()
	var b []byte
	s := string(lit)
	if len(s) < 2 || s[0] != '"' {
		t.Fatalf("not a string: %s", lit)
	}
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '\\' && s[i+1] == 'u' {
			v, err := strconv.ParseUint(s[i+2:i+6], 16, 32)
			if err == nil && v >= 0xdc80 && v <= 0xdcff {
				b = append(b, byte(v-0xdc00))
				i += 5
				continue
			}
		}
		if s[i] != '\\' {
			_, size := utf8.DecodeRuneInString(s[i:])
			b = append(b, s[i:i+size]...)
			i += size - 1
			continue
		}
		// Any other escape: let encoding/json read it.
		j := i + 2
		{
			if s[i+1] == 'u' {
				j = i + 6
				if v, _ := strconv.ParseUint(s[i+2:i+6], 16, 32); v >= 0xd800 && v < 0xdc00 {
					j = i + 12
				}
			}
		}
		var part string
		if err := json.Unmarshal([]byte(`"`+s[i:j]+`"`), &part); err != nil {
			t.Fatalf("bad literal %s at %d: %v", lit, i, err)
		}
		b = append(b, part...)
		i = j - 1
	}
	return string(b)
}

// joinRaw is the JSON literal of dir + "/" + the name lit, keeping lit's
// escapes as they are.
func joinRaw(dir string, lit json.RawMessage) string {
	d, _ := json.Marshal(dir + "/")
	return string(d[:len(d)-1]) + string(lit[1:])
}
