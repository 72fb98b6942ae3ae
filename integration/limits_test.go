package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	sftpbatch "github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/integration/sshdtest"
)

// sftp's line limits. It cuts each listing line at sftpbatch.LsLineMax bytes
// and each message at sftpbatch.MsgMax; pwd is printed whole. A LISTDIR is
// exact or an error that says why, never a shorter name, and the cases
// below sit on both sides of each boundary.

// listColumns is how much of an entry's listing line comes before its
// path, for the test's own files (owned by the login user, a few bytes
// long), as the real sftp prints it: the owner and group columns are as
// wide as the names the server gives, so it is measured, not assumed.
var listColumns = sync.OnceValues(func() (int, error) {
	dir, err := os.MkdirTemp("", "columns-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return 0, err
	}
	f := filepath.Join(dir, "x")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		return 0, err
	}
	if err := srv.Chown(f); err != nil {
		return 0, err
	}
	cmd := exec.Command("sftp", "-q", "-b", "-", "-F", srv.SSHConfig, sshdtest.Alias)
	cmd.Stdin = strings.NewReader("ls -lan " + dir + "\n")
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("sftp ls: %v: %s", err, out)
	}
	for _, ln := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(ln, " "+f) {
			return len(ln) - len(f), nil
		}
	}
	return 0, fmt.Errorf("no line for %s in %q", f, out)
})

// lineLen is the length of the listing line sftp prints for name in dir.
func lineLen(t *testing.T, dir, name string) int {
	t.Helper()
	cols, err := listColumns()
	if err != nil {
		t.Fatal(err)
	}
	return cols + len(dir) + sftpbatch.TagLen + 1 + len(name)
}

// dirOfLen makes a directory whose absolute path is exactly n bytes long,
// below a fresh directory of the test, searchable by the login user.
func dirOfLen(t *testing.T, n int) string {
	t.Helper()
	_, base := remoteDir(t, srv)
	p := base
	for len(p) < n {
		k := min(200, n-len(p)-1)
		if rest := n - len(p) - 1 - k; rest > 0 && rest < 2 {
			k-- // leave room for one more "/x"
		}
		p += "/" + strings.Repeat("d", k)
	}
	if len(p) != n {
		t.Fatalf("made a path of %d bytes, want %d", len(p), n)
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := srv.Chown(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestListdirLineLimit(t *testing.T) { eachMode(t, testListdirLineLimit) }

func testListdirLineLimit(t *testing.T, m mode) {
	s := startDefault(t, m, 0)
	long := strings.Repeat("N", 255) // the longest name Linux allows
	short := "entry12345"
	for _, tc := range []struct {
		what  string
		names []string
		// The directory's length, from the line its longest name needs.
		dirLen int
		ok     bool
	}{
		{"255-byte name, line of 1022 bytes", []string{long}, sftpbatch.LsLineMax - 1 - lineLen(t, "", long), true},
		{"255-byte name, line of 1023 bytes", []string{long}, sftpbatch.LsLineMax - lineLen(t, "", long), false},
		{"255-byte name, line of 1050 bytes", []string{long}, sftpbatch.LsLineMax + 27 - lineLen(t, "", long), false},
		{"10-byte names, line of 1022 bytes", []string{short, "entry67890", "e"}, sftpbatch.LsLineMax - 1 - lineLen(t, "", short), true},
		{"10-byte names, line of 1023 bytes", []string{short, "entry67890", "e"}, sftpbatch.LsLineMax - lineLen(t, "", short), false},
		// So long that the lines are cut inside the chain, before any name.
		{"every line cut before the name", []string{"e"}, 960, false},
	} {
		t.Run(tc.what, func(t *testing.T) {
			dir := dirOfLen(t, tc.dirLen)
			for _, n := range tc.names {
				writeFile(t, srv, filepath.Join(dir, n), []byte("x"))
			}
			res := s.do(listdir(dir))
			if tc.ok {
				checkListing(t, res, dir)
				return
			}
			if res.Status != "error" || !strings.Contains(res.Message, "sftp cuts each listing line at 1023 bytes") {
				t.Errorf("LISTDIR of a %d-byte directory: %s; want an error saying that sftp cuts the line", len(dir), res.Raw)
			}
		})
	}
	t.Run("missing directory with a message sftp cuts", func(t *testing.T) {
		dir := dirOfLen(t, 900) + "/" + strings.Repeat("m", 200)
		res := s.do(listdir(dir))
		if res.Status != "error" || !strings.HasSuffix(res.Message, ": No such file or directory") {
			t.Errorf("LISTDIR of a missing %d-byte directory: %s; want no such file", len(dir), res.Raw)
		}
	})
	t.Run("not a directory with a message sftp cuts", func(t *testing.T) {
		file := dirOfLen(t, 900) + "/" + strings.Repeat("f", 200)
		writeFile(t, srv, file, []byte("x"))
		res := s.do(listdir(file))
		if res.Status != "error" || !strings.HasSuffix(res.Message, "is not a directory") {
			t.Errorf("LISTDIR of a %d-byte file path: %s; want not a directory", len(file), res.Raw)
		}
	})
	// The stream goes on.
	_, abs := remoteDir(t, srv)
	writeFile(t, srv, filepath.Join(abs, "after"), []byte("x"))
	checkListing(t, s.do(listdir(abs)), abs)
}

// sftp prints its working directory whole, however long: relative paths
// under a starting directory far longer than a listing line land in it.
func TestLongStartDirectory(t *testing.T) { eachMode(t, testLongStartDirectory) }

func testLongStartDirectory(t *testing.T, m mode) {
	dir := dirOfLen(t, 1500)
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("long start"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, runOpts{mode: m}, "-F", srv.SSHConfig, "sftp://"+"sftper-test/"+dir)
	s.must("ok", put(src, "rel"))
	if got := string(readFile(t, filepath.Join(dir, "rel"))); got != "long start" {
		t.Errorf("the file in the starting directory holds %q", got)
	}
	s.finish()
}
