package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// Shared by all tests; tests that stop or kill a server start their own.
var (
	sftperBin string
	srv       *sshdtest.Server
	envErr    error // OpenSSH is missing: skip locally, fail in CI
)

// Timeouts for one request. Generous because CI machines are slow and the
// binary is built with -race under `go test -race`; a hung sftper still
// fails in bounded time.
const (
	reqTimeout  = 30 * time.Second
	bulkTimeout = 3 * time.Minute
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if envErr = openSSHPresent(); envErr != nil {
		// Let every test decide (needSSH): skip locally, fail in CI.
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "sftper-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if sftperBin = os.Getenv("SFTPER_TEST_BINARY"); sftperBin == "" {
		sftperBin = filepath.Join(tmp, "sftper")
		args := []string{"build", "-o", sftperBin}
		if raceBuild {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "github.com/sftper/sftper")...).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building sftper: %v\n%s", err, out)
			return 1
		}
	} else if sftperBin, err = filepath.Abs(sftperBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if srv, err = sshdtest.Start(sshdtest.Options{}); err != nil {
		fmt.Fprintf(os.Stderr, "starting sshd: %v\n", err)
		return 1
	}
	defer srv.Cleanup()
	return m.Run()
}

func openSSHPresent() error {
	var errs []error
	for _, p := range []string{"sftp", "ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(p); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := exec.LookPath("sshd"); err != nil {
		if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
			errs = append(errs, fmt.Errorf("sshd: %w", err))
		}
	}
	return errors.Join(errs...)
}

// needSSH skips the test when OpenSSH is missing, or fails it in CI.
func needSSH(t *testing.T) {
	t.Helper()
	if envErr == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("OpenSSH client or server missing, and CI is set: %v", envErr)
	}
	t.Skipf("OpenSSH client or server missing: %v", envErr)
}

// startServer starts a server of the test's own, for tests that stop it,
// kill it, count its logins or need a password account (which, for a
// non-root user, cannot be set up: then the test is skipped, and fails in
// CI).
func startServer(t *testing.T, opts sshdtest.Options) *sshdtest.Server {
	t.Helper()
	// A password account needs root.
	return ownServer(t, "sshd", sshdtest.ErrNeedRoot, func() (*sshdtest.Server, error) { return sshdtest.Start(opts) })
}

// ownServer starts a server of the test's own with start and cleans it up
// after the test, showing its log if the test failed. An error wrapping
// skippable (something this machine lacks) skips the test, and fails it
// in CI.
func ownServer(t *testing.T, what string, skippable error, start func() (*sshdtest.Server, error)) *sshdtest.Server {
	t.Helper()
	needSSH(t)
	s, err := start()
	if errors.Is(err, skippable) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log of the test's own server:\n%s", what, s.Log())
		}
		s.Cleanup()
	})
	return s
}

// sftper is one running sftper under test.
type sftper struct {
	t   *testing.T
	p   *client.Proc
	dir string // its working directory
}

type runOpts struct {
	mode    mode // --mode; "" for sftper's default
	framing client.Framing
	dir     string           // working directory; default a fresh t.TempDir()
	env     []string         // added to the environment
	server  *sshdtest.Server // whose log to show on failure; default srv
	binary  string           // the sftper to run; default sftperBin
}

// defaultArgs connects to the shared server through its ssh_config alias.
func defaultArgs() []string { return []string{"-F", srv.SSHConfig, sshdtest.Alias} }

// start runs sftper with args. On failure its stderr and what the server
// logged meanwhile are shown; a data race or a panic in sftper's stderr
// fails the test in any case.
func start(t *testing.T, o runOpts, args ...string) *sftper {
	t.Helper()
	needSSH(t)
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	if o.server == nil {
		o.server = srv
	}
	if raceBuild && os.Getenv("GORACE") == "" {
		// The race runtime otherwise sleeps a second at every exit.
		o.env = append(o.env, "GORACE=atexit_sleep_ms=0")
	}
	logStart := len(o.server.Log())
	if o.mode != "" {
		args = append([]string{"--mode", string(o.mode)}, args...)
	}
	if o.binary == "" {
		o.binary = sftperBin
	}
	p, err := client.Start(o.binary, client.Options{Framing: o.framing, Dir: o.dir, Env: o.env}, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		stderr := p.Stderr()
		if strings.Contains(stderr, "WARNING: DATA RACE") || strings.Contains(stderr, "panic:") {
			t.Errorf("sftper reported a data race or panicked")
		}
		if t.Failed() {
			t.Logf("sftper %q stderr:\n%s", args, stderr)
			if l := o.server.Log(); len(l) >= logStart {
				t.Logf("sshd log meanwhile:\n%s", l[logStart:])
			}
		}
	})
	return &sftper{t: t, p: p, dir: o.dir}
}

// startDefault runs sftper against the shared server.
func startDefault(t *testing.T, m mode, f client.Framing) *sftper {
	t.Helper()
	return start(t, runOpts{mode: m, framing: f}, defaultArgs()...)
}

// do sends one request and returns its result; a transport failure (hang,
// exit, garbage) is fatal.
func (s *sftper) do(req any) client.Result {
	s.t.Helper()
	return s.doWithin(req, reqTimeout)
}

func (s *sftper) doWithin(req any, d time.Duration) client.Result {
	s.t.Helper()
	res, err := s.p.Do(req, d)
	if err != nil {
		s.t.Fatalf("request %s: %v", show(req), err)
	}
	return res
}

// must sends req and stops the test unless the result has status want.
func (s *sftper) must(want string, req any) client.Result {
	s.t.Helper()
	res := s.do(req)
	if res.Status != want {
		s.t.Fatalf("request %s: status %q, want %q; result %s", show(req), res.Status, want, res.Raw)
	}
	return res
}

// expect sends req and marks the test failed unless the result has status
// want.
func (s *sftper) expect(want string, req any) client.Result {
	s.t.Helper()
	res := s.do(req)
	if res.Status != want {
		s.t.Errorf("request %s: status %q, want %q; result %s", show(req), res.Status, want, res.Raw)
	}
	return res
}

// finish closes stdin and wants sftper to exit 0.
func (s *sftper) finish() {
	s.t.Helper()
	s.p.CloseStdin()
	code, err := s.p.Wait(reqTimeout)
	if err != nil || code != 0 {
		s.t.Errorf("after end of input: exit %d, %v; want exit 0", code, err)
	}
	// A clean end is quiet: sftp and ssh end without being killed.
	if strings.Contains(s.p.Stderr(), "closing the session") {
		s.t.Errorf("the session did not end cleanly:\n%s", s.p.Stderr())
	}
}

func show(req any) string {
	switch v := req.(type) {
	case []byte:
		return fmt.Sprintf("%q", v)
	case string:
		return fmt.Sprintf("%q", v)
	}
	b, _ := json.Marshal(req)
	return string(b)
}

// req builds {"command": name, "args": {k: v, ...}}.
func req(name string, kv ...string) map[string]any {
	args := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		args[kv[i]] = kv[i+1]
	}
	return map[string]any{"command": name, "args": args}
}

func put(src, dst string) map[string]any { return req("PUT", "source", src, "dest", dst) }
func get(src, dst string) map[string]any { return req("GET", "source", src, "dest", dst) }
func listdir(p string) map[string]any    { return req("LISTDIR", "path", p) }
func del(p string) map[string]any        { return req("DELETE", "path", p) }

// xfer is the data of an ok PUT or GET.
type xfer struct {
	Source string `json:"source"`
	Dest   string `json:"dest"`
	Size   int64  `json:"size"`
}

// entry is one LISTDIR element.
type entry struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
	Mode  uint32 `json:"mode"`
	Atime int64  `json:"atime"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
}

func data[T any](t *testing.T, res client.Result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.Data, &v); err != nil {
		t.Fatalf("data of %s: %v", res.Raw, err)
	}
	return v
}

// remoteData is the data of an error PUT: what was left on the server.
func remoteData(t *testing.T, res client.Result) string {
	t.Helper()
	var d struct {
		Remote string `json:"remote"`
	}
	if err := json.Unmarshal(res.Data, &d); err != nil {
		t.Errorf("data of %s: %v", res.Raw, err)
	}
	return d.Remote
}

// entries decodes an ok LISTDIR; data must be a list, never null.
func entries(t *testing.T, res client.Result) []entry {
	t.Helper()
	if strings.TrimSpace(string(res.Data)) == "null" {
		t.Fatalf("LISTDIR data is null, want a list: %s", res.Raw)
	}
	return data[[]entry](t, res)
}

// listing is what LISTDIR of dir must return, read from the file system:
// every entry but . and .., sorted by name, lstat'ed, each time to the
// second as SFTP carries it.
func listing(t *testing.T, dir string) []entry {
	t.Helper()
	des, err := os.ReadDir(dir) // sorted by name, byte order
	if err != nil {
		t.Fatal(err)
	}
	out := []entry{}
	for _, de := range des {
		fi, err := os.Lstat(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, statEntry(de.Name(), fi.Sys().(*syscall.Stat_t)))
	}
	return out
}

// statEntry is what sftper must say of a file whose stat is st.
func statEntry(name string, st *syscall.Stat_t) entry {
	return entry{
		Name: name, Size: st.Size, Mtime: mtimeOf(st), Mode: uint32(st.Mode),
		Atime: atimeOf(st), UID: st.Uid, GID: st.Gid,
	}
}

// linkAtime is the atime to expect of a file whose atime on disk is now
// atime, when the server said said: for a symlink, a server that reads
// the link after lstat'ing it (ProFTPD does, for its longname's "->
// target") moves the link's atime on by then, so the earlier value it
// sent, up to 5 s before, is right too.
func linkAtime(mode uint32, said, atime int64) int64 {
	if mode&0o170000 == 0o120000 && said <= atime && atime-said <= 5 {
		return said
	}
	return atime
}

// checkListing compares an ok LISTDIR result with the directory on disk.
func checkListing(t *testing.T, res client.Result, dir string) {
	t.Helper()
	if res.Status != "ok" {
		t.Errorf("LISTDIR %s: %s", dir, res.Raw)
		return
	}
	got := entries(t, res)
	want := listing(t, dir)
	for i := range want {
		if i < len(got) && got[i].Name == want[i].Name {
			want[i].Atime = linkAtime(got[i].Mode, got[i].Atime, want[i].Atime)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LISTDIR of %s (-want +got):\n%s", dir, diff)
	}
}

var dirSeq atomic.Int64

var notWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

// remoteDir makes a fresh directory under the server's Home, owned by the
// login user, and returns its path relative to Home and its absolute path.
func remoteDir(t *testing.T, s *sshdtest.Server) (rel, abs string) {
	t.Helper()
	name := notWord.ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	rel = fmt.Sprintf("%03d-%s", dirSeq.Add(1), name)
	abs = filepath.Join(s.Home, rel)
	if err := os.Mkdir(abs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Chown(abs); err != nil {
		t.Fatal(err)
	}
	return rel, abs
}

// writeFile writes content at path (making parents), gives it and the
// parents it made to the login user when below a server's Home.
func writeFile(t *testing.T, s *sshdtest.Server, path string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if s != nil {
		if err := s.Chown(path); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// dirNames lists a directory, to check that nothing was left behind.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// mode is how sftper drives OpenSSH: its --mode.
type mode string

const (
	session mode = "session" // one persistent sftp on a pseudo-terminal
	batch   mode = "batch"   // a generated sftp -b script per request
)

// eachMode runs f as subtests in each mode: every case of the suite holds
// for both, with the same results, unless the case says otherwise.
func eachMode(t *testing.T, f func(t *testing.T, m mode)) {
	needSSH(t)
	for _, m := range []mode{session, batch} {
		t.Run(string(m), func(t *testing.T) { f(t, m) })
	}
}

// bothFramings runs f as subtests in text and binary framing.
func bothFramings(t *testing.T, f func(t *testing.T, fr client.Framing)) {
	for _, fr := range []client.Framing{client.Text, client.Binary} {
		t.Run(fr.String(), func(t *testing.T) { f(t, fr) })
	}
}

// unwritable makes a directory the login user cannot create files in:
// as root a root-owned 0755 directory, otherwise 0555.
func unwritable(t *testing.T, path string) {
	t.Helper()
	mode := os.FileMode(0o755)
	if os.Geteuid() != 0 {
		mode = 0o555
		t.Cleanup(func() { os.Chmod(path, 0o755) })
	}
	if err := os.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// unreadable makes a file the login user cannot read: as root a
// root-owned 0600 file, otherwise 0000.
func unreadable(t *testing.T, path string, content []byte) {
	t.Helper()
	mode := os.FileMode(0o600)
	if os.Geteuid() != 0 {
		mode = 0
	}
	if err := os.WriteFile(path, content, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// containsFold reports whether s contains any of subs, ignoring case.
func containsFold(s string, subs ...string) bool {
	ls := strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(ls, strings.ToLower(sub)) {
			return true
		}
	}
	return false
}
