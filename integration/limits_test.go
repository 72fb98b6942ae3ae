package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sftper/sftper/integration/sshdtest"
)

// sftp's line limits. Its ls cut each listing line at 1023 bytes (which
// no longer matters: LISTDIR reads packets) and it cuts each message at
// sftpbatch.MsgMax; pwd is printed whole. The cases below sit on both
// sides of each boundary.

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
	return cols + len(dir) + oldChainLen + 1 + len(name)
}

// oldChainLen is the "//./." chain the ls-based LISTDIR put after every
// directory: the directories below are as long as those that once hit
// ls's line limit.
const oldChainLen = 82

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

// TestListdirLineLimit: sftp's ls cuts each listing line at 1023 bytes,
// which once made LISTDIR refuse long paths; LISTDIR no longer goes
// through ls (it reads the server's packets), so every one of these lists
// exactly.
func TestListdirLineLimit(t *testing.T) { eachMode(t, testListdirLineLimit) }

// lsLineMax is where sftp's ls cuts a listing line (ls_file's 1024-byte
// buffer in OpenSSH's sftp-common.c).
const lsLineMax = 1023

func testListdirLineLimit(t *testing.T, m mode) {
	s := startDefault(t, m, 0)
	long := strings.Repeat("N", 255) // the longest name Linux allows
	short := "entry12345"
	for _, tc := range []struct {
		what  string
		names []string
		// The directory's length, from the line its longest name needs.
		dirLen int
	}{
		{"255-byte name, line of 1022 bytes", []string{long}, lsLineMax - 1 - lineLen(t, "", long)},
		{"255-byte name, line of 1023 bytes", []string{long}, lsLineMax - lineLen(t, "", long)},
		{"255-byte name, line of 1050 bytes", []string{long}, lsLineMax + 27 - lineLen(t, "", long)},
		{"10-byte names, line of 1023 bytes", []string{short, "entry67890", "e"}, lsLineMax - lineLen(t, "", short)},
		{"every ls line cut before the name", []string{"e"}, 960},
	} {
		t.Run(tc.what, func(t *testing.T) {
			dir := dirOfLen(t, tc.dirLen)
			for _, n := range tc.names {
				writeFile(t, srv, filepath.Join(dir, n), []byte("x"))
			}
			checkListing(t, s.do(listdir(dir)), dir)
		})
	}
	t.Run("missing directory with a message sftp cuts", func(t *testing.T) {
		dir := dirOfLen(t, 900) + "/" + strings.Repeat("m", 200)
		s.wantKind("no_such_file", listdir(dir))
	})
	t.Run("not a directory with a message sftp cuts", func(t *testing.T) {
		file := dirOfLen(t, 900) + "/" + strings.Repeat("f", 200)
		writeFile(t, srv, file, []byte("x"))
		s.wantKind("not_a_directory", listdir(file))
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
