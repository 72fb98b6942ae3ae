package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/integration/client"
)

// errorData is the data of an "error" result.
type errorData struct {
	Kind   string `json:"kind"`
	Remote string `json:"remote"`
}

// wantKind sends r, wants an "error" result of that kind and returns it.
func (s *sftper) wantKind(kind string, r any) client.Result {
	s.t.Helper()
	res := s.do(r)
	var d errorData
	if err := json.Unmarshal(res.Data, &d); res.Status != "error" || err != nil || d.Kind != kind {
		s.t.Errorf("request %s: %s; want an error of kind %q", show(r), res.Raw, kind)
	}
	s.t.Logf("%s: %s", kind, res.Message)
	return res
}

// TestKinds proves each error kind that the real sshd and sftp produce,
// and that each left the files on both sides as they were.
func TestKinds(t *testing.T) { eachMode(t, testKinds) }

func testKinds(t *testing.T, m mode) {
	s := startDefault(t, m, client.Text)
	rel, abs := remoteDir(t, srv)
	p := func(name string) string { return filepath.Join(abs, name) }
	writeFile(t, srv, p("file"), []byte("file"))
	if err := os.Mkdir(p("dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	srv.Chown(p("dir"))
	writeFile(t, srv, p("dir/inner"), []byte("inner"))
	if err := os.Symlink("nowhere", p("dangling")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p("fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	unwritable(t, p("ro"))
	unreadable(t, p("secret"), []byte("secret"))
	if os.Geteuid() == 0 {
		// Only root can put a file where the user cannot remove it, and
		// make directories the user may not read or search.
		writeFile(t, nil, p("ro/f"), []byte("f"))
		for name, mode := range map[string]os.FileMode{"noread": 0o711, "nosearch": 0o744} {
			if err := os.Mkdir(p(name), 0o700); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p(name), mode)
		}
	}
	local := t.TempDir()
	src := filepath.Join(local, "src.txt")
	writeFile(t, nil, src, []byte("source"))
	// nothingNew checks that the local directory holds only src.txt and
	// the remote one only what the test made.
	remoteBefore := dirNames(t, abs)
	nothingNew := func(t *testing.T) {
		t.Helper()
		if got := dirNames(t, local); !cmp.Equal(got, []string{"src.txt"}) {
			t.Errorf("local directory holds %q, want only src.txt", got)
		}
		if got := dirNames(t, abs); !cmp.Equal(got, remoteBefore) {
			t.Errorf("remote directory holds %q, want %q", got, remoteBefore)
		}
	}

	t.Run("no_such_file", func(t *testing.T) {
		// sftp's glob: File "..." not found.
		s.wantKind("no_such_file", get(rel+"/nope", filepath.Join(local, "nope")))
		// The server's SSH2_FX_NO_SUCH_FILE: stat remote, remote delete,
		// dest open.
		s.wantKind("no_such_file", get(rel+"/dangling", filepath.Join(local, "dangling")))
		s.wantKind("no_such_file", del(rel+"/nope"))
		res := s.wantKind("no_such_file", put(src, rel+"/nodir/x"))
		if remoteData(t, res) != "unchanged" {
			t.Errorf("PUT into a missing directory: %s; want remote unchanged", res.Raw)
		}
		// LISTDIR's follow-up question.
		s.wantKind("no_such_file", listdir(rel+"/nope"))
		nothingNew(t)
		if exists(p("nodir")) {
			t.Error("PUT created the missing directory")
		}
	})

	t.Run("not_a_directory", func(t *testing.T) {
		s.wantKind("not_a_directory", listdir(rel+"/file"))
		nothingNew(t)
	})

	t.Run("is_a_directory", func(t *testing.T) {
		s.wantKind("is_a_directory", get(rel+"/dir", filepath.Join(local, "d")))
		nothingNew(t)
	})

	t.Run("failure", func(t *testing.T) {
		// OpenSSH's server says only SSH2_FX_FAILURE for EISDIR.
		s.wantKind("failure", del(rel+"/dir"))
		if !exists(p("dir/inner")) {
			t.Error("DELETE of a directory removed something")
		}
		// sftp's own: download ...: not a regular file, of no directory.
		s.wantKind("failure", get(rel+"/fifo", filepath.Join(local, "fifo")))
		nothingNew(t)
	})

	t.Run("permission_denied", func(t *testing.T) {
		res := s.wantKind("permission_denied", put(src, rel+"/ro/x"))
		if remoteData(t, res) != "unchanged" || exists(p("ro/x")) {
			t.Errorf("PUT into an unwritable directory: %s; want remote unchanged and no file", res.Raw)
		}
		s.wantKind("permission_denied", get(rel+"/secret", filepath.Join(local, "secret")))
		if os.Geteuid() == 0 {
			s.wantKind("permission_denied", del(rel+"/ro/f"))
			if !exists(p("ro/f")) {
				t.Error("DELETE removed a file despite the permissions")
			}
			s.wantKind("permission_denied", listdir(rel+"/noread"))   // remote readdir: Permission denied
			s.wantKind("permission_denied", listdir(rel+"/nosearch")) // LISTDIR's follow-up question
		}
		nothingNew(t)
	})

	t.Run("local", func(t *testing.T) {
		// PUT's own checks of the source.
		res := s.wantKind("local", put(filepath.Join(local, "nope"), rel+"/nope"))
		if remoteData(t, res) != "unchanged" || !strings.Contains(res.Message, "no such file") {
			t.Errorf("PUT of a missing source: %s; want remote unchanged and no such file", res.Raw)
		}
		res = s.wantKind("local", put(local, rel+"/localdir"))
		if remoteData(t, res) != "unchanged" || !strings.Contains(res.Message, "is a directory") {
			t.Errorf("PUT of a directory: %s; want remote unchanged and not a regular file", res.Raw)
		}
		// GET: sftp cannot open the local file (open local "...").
		res = s.wantKind("local", get(rel+"/file", filepath.Join(local, "no", "such", "x")))
		if !strings.Contains(res.Message, "open local") {
			t.Errorf("GET into a missing local directory: message %q does not say which file", res.Message)
		}
		// GET: the download worked, the rename into place did not.
		res = s.wantKind("local", get(rel+"/file", filepath.Join(local, strings.Repeat("n", 300))))
		if !strings.Contains(res.Message, "rename") {
			t.Errorf("GET to a name too long: message %q does not say which file", res.Message)
		}
		nothingNew(t)
		if exists(p("nope")) || exists(p("localdir")) {
			t.Error("a failed PUT created a remote file")
		}
	})
	s.finish()
}

// TestHello: HELLO answers at once, without a connection, even when the
// server cannot be reached, in both modes and both framings.
func TestHello(t *testing.T) { eachMode(t, testHello) }

func testHello(t *testing.T, m mode) {
	bothFramings(t, func(t *testing.T, fr client.Framing) {
		port := silentListener(t) // accepts, never answers
		s := start(t, runOpts{mode: m, framing: fr}, append([]string{"--connect-timeout", "3s"}, bareArgs(port)...)...)
		for _, r := range []any{
			map[string]any{"command": "HELLO", "args": map[string]any{}, "id": 1},
			map[string]any{"command": "hello"},
		} {
			res, took := timed(s, r)
			if res.Status != "ok" {
				t.Fatalf("HELLO: %s", res.Raw)
			}
			if took > 2*time.Second {
				t.Errorf("HELLO took %v; it must not wait for the connection", took)
			}
			var d struct {
				Sftper   string   `json:"sftper"`
				Protocol int      `json:"protocol"`
				Commands []string `json:"commands"`
				Mode     string   `json:"mode"`
			}
			if err := json.Unmarshal(res.Data, &d); err != nil {
				t.Fatal(err)
			}
			want := []string{"CHMOD", "DELETE", "DF", "GET", "HELLO", "LISTDIR", "LSTAT", "MKDIR", "PUT", "READLINK", "REALPATH", "RENAME", "RMDIR", "STAT", "SYMLINK", "UTIME"}
			if d.Sftper == "" || d.Protocol != 1 || !cmp.Equal(d.Commands, want) || d.Mode != string(m) {
				t.Errorf("HELLO data %s; want sftper's version, protocol 1, commands %q, mode %q", res.Data, want, m)
			}
		}
		s.expect("fail", map[string]any{"command": "HELLO", "args": map[string]any{"x": 1}})
		// The server is unreachable indeed.
		s.expect("error", listdir("."))
		s.p.CloseStdin()
		if _, err := s.p.Wait(20 * time.Second); err != nil {
			t.Error(err)
		}
	})
}
