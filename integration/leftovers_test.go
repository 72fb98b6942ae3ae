package integration

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
)

// What a sftper killed with SIGKILL leaves behind, and how the next one
// removes it (see driver/leftovers.go): a GET's download file, and batch
// mode's private directories under $TMPDIR.

// bigRemote makes a 512 MiB sparse file on the shared server; a GET of it
// lasts long enough to be caught in the middle.
func bigRemote(t *testing.T, abs string) {
	t.Helper()
	f, err := os.Create(filepath.Join(abs, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(512 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := srv.Chown(filepath.Join(abs, "big")); err != nil {
		t.Fatal(err)
	}
}

// sendOnly sends a request without waiting for its result.
func (s *sftper) sendOnly(req any) {
	s.t.Helper()
	b, _ := json.Marshal(req)
	if err := s.p.Send(b, reqTimeout); err != nil {
		s.t.Fatal(err)
	}
}

// waitPart waits for a download file in dir that has data in it, and
// returns its name.
func waitPart(t *testing.T, dir string) string {
	t.Helper()
	for deadline := time.Now().Add(reqTimeout); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, n := range dirNames(t, dir) {
			if fi, err := os.Stat(filepath.Join(dir, n)); err == nil && fi.Size() > 0 &&
				strings.HasPrefix(n, ".sftper-") && strings.HasSuffix(n, ".part") {
				return n
			}
		}
	}
	t.Fatalf("no download file with data appeared in %s", dir)
	return ""
}

// openers lists the processes that have path open.
func openers(path string) []string {
	var out []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		fds, _ := os.ReadDir("/proc/" + p.Name() + "/fd")
		for _, fd := range fds {
			if l, _ := os.Readlink("/proc/" + p.Name() + "/fd/" + fd.Name()); l == path {
				out = append(out, p.Name()+": "+cmdline(atoi(p.Name())))
			}
		}
	}
	return out
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// killHard kills sftper with SIGKILL and reaps it.
func (s *sftper) killHard() {
	s.t.Helper()
	s.p.Signal(syscall.SIGKILL)
	if _, err := s.p.Wait(reqTimeout); err != nil {
		s.t.Fatal(err)
	}
}

// myStart is the test process's start time, field 22 of /proc/self/stat.
func myStart(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	n, err := strconv.ParseUint(f[22-3], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// ownerHost is the HOST part of a name sftper gave a download:
// .sftper-PID-START-HOST-RANDOM.part.
func ownerHost(t *testing.T, name string) string {
	t.Helper()
	f := strings.Split(strings.TrimSuffix(name, ".part"), "-")
	if len(f) != 5 || len(f[3]) != 8 {
		t.Fatalf("%q does not name its owner (PID-START-HOST-RANDOM)", name)
	}
	return f[3]
}

// dirOwner reads the owner file of a private directory that sftper made,
// "PID START HOST\n", and returns HOST.
func dirOwner(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "owner"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(string(b), " ")
	if len(f) != 3 || len(f[2]) != 9 || !strings.HasSuffix(f[2], "\n") {
		t.Fatalf("%s/owner holds %q, not PID START HOST", dir, b)
	}
	return strings.TrimSuffix(f[2], "\n")
}

func hexN(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestGetLeftoverAfterKill: sftper killed in the middle of a GET leaves its
// download file; nothing writes it any more (sftp died with sftper); the
// next sftper's first GET into that directory removes it. In a session,
// the hang-up of sftp's terminal would stop sftp anyway, and in batch mode
// the end of sftper's master; a script that connects on its own (here: no
// control socket can be made) has only Pdeathsig to stop it.
func TestGetLeftoverAfterKill(t *testing.T) {
	needSSH(t)
	unshared := filepath.Join(t.TempDir(), strings.Repeat("long-", 20))
	if err := os.Mkdir(unshared, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		m    mode
		env  []string
	}{
		{"session", session, nil},
		{"batch", batch, nil},
		{"batch unshared", batch, []string{"TMPDIR=" + unshared}},
	} {
		t.Run(c.name, func(t *testing.T) { testGetLeftoverAfterKill(t, c.m, c.env) })
	}
}

func testGetLeftoverAfterKill(t *testing.T, m mode, env []string) {
	{
		rel, abs := remoteDir(t, srv)
		bigRemote(t, abs)
		writeFile(t, srv, filepath.Join(abs, "small"), []byte("small"))
		dir := t.TempDir()
		s := start(t, runOpts{mode: m, framing: client.Text, dir: dir, env: env}, defaultArgs()...)
		s.sendOnly(get(rel+"/big", "."))
		part := filepath.Join(dir, waitPart(t, dir))
		s.killHard()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			o := openers(part)
			if len(o) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("5 s after sftper was killed, %s is still open in %q", part, o)
			}
		}
		fi, err := os.Stat(part)
		if err != nil {
			t.Fatalf("no leftover after SIGKILL: %v", err)
		}
		if fi.Size() == 512<<20 {
			t.Fatalf("the download went on to the end after sftper was killed")
		}

		s2 := start(t, runOpts{mode: m, framing: client.Text, dir: dir, env: env}, defaultArgs()...)
		s2.must("ok", listdir("."))
		if !exists(part) {
			t.Fatalf("%s removed before any GET into its directory", part)
		}
		s2.must("ok", get(rel+"/small", "small"))
		s2.finish() // the sweep runs beside the GET; sftper waits for it at the end
		if exists(part) {
			t.Errorf("%s is still there after the next sftper's first GET into %s", filepath.Base(part), dir)
		}
		if got := dirNames(t, dir); len(got) != 1 || got[0] != "small" {
			t.Errorf("%s holds %q, want only small", dir, got)
		}
		if !strings.Contains(s2.p.Stderr(), "removed "+part) {
			t.Errorf("stderr does not say what was removed:\n%s", s2.p.Stderr())
		}
	}
}

// TestGetLeftoversKept: a sweep removes only what a dead sftper of this
// machine left: never a live sftper's download, a name of another form,
// another user's file or something that is not a file.
func TestGetLeftoversKept(t *testing.T) {
	needSSH(t)
	rel, abs := remoteDir(t, srv)
	bigRemote(t, abs)
	writeFile(t, srv, filepath.Join(abs, "small"), []byte("small"))
	dir := t.TempDir()
	sweeper := start(t, runOpts{mode: batch, framing: client.Text, dir: dir}, defaultArgs()...)
	sweeper.must("ok", listdir(".")) // connected: its GET below is quick

	live := start(t, runOpts{mode: session, framing: client.Text, dir: dir}, defaultArgs()...)
	live.sendOnly(get(rel+"/big", "."))
	livePart := waitPart(t, dir)
	host := ownerHost(t, livePart)
	me, start := os.Getpid(), myStart(t)
	kept := []string{
		livePart,
		".sftper-x.part",
		".sftper-" + hexN(16) + ".part", // an older sftper's name, with no owner
		fmt.Sprintf(".sftper-%d-%d-%s-%s.part", me, start, host, hexN(16)),         // a live process
		fmt.Sprintf(".sftper-%d-%d-%s-%s.part", me, start+1, "0badc0de", hexN(16)), // another machine
		fmt.Sprintf(".sftper-%d-%d-%s-%s.part.x", me, start+1, host, hexN(16)),
		fmt.Sprintf(".sftper-0%d-%d-%s-%s.part", me, start+1, host, hexN(16)),
	}
	// Same pid, another start time: the pid was reused, its owner is dead.
	gone := fmt.Sprintf(".sftper-%d-%d-%s-%s.part", me, start+1, host, hexN(16))
	for _, n := range append(kept[1:], gone) {
		writeFile(t, nil, filepath.Join(dir, n), []byte("x"))
	}
	notFile := fmt.Sprintf(".sftper-%d-%d-%s-%s.part", me, start+1, host, hexN(16))
	if err := os.Mkdir(filepath.Join(dir, notFile), 0o755); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, notFile)
	if os.Geteuid() == 0 {
		theirs := fmt.Sprintf(".sftper-%d-%d-%s-%s.part", me, start+1, host, hexN(16))
		writeFile(t, srv, filepath.Join(dir, theirs), []byte("x")) // the login user's
		kept = append(kept, theirs)
	}

	sweeper.must("ok", get(rel+"/small", "small"))
	sweeper.finish() // the sweep runs beside the GET; sftper waits for it at the end
	for _, n := range kept {
		if !exists(filepath.Join(dir, n)) {
			t.Errorf("%s was removed", n)
		}
	}
	if exists(filepath.Join(dir, gone)) {
		t.Errorf("%s (its pid now names another process) is still there", gone)
	}
	select {
	case <-live.p.Exited():
		t.Fatalf("the live sftper exited")
	default:
	}
}

// TestBatchLeftoversAfterKill: batch mode killed while connected leaves
// its private directories (control socket, askpass) in $TMPDIR; the next
// batch-mode sftper removes them when it makes its own, and nothing else.
func TestBatchLeftoversAfterKill(t *testing.T) {
	needSSH(t)
	tmp, err := os.MkdirTemp("", "tmpdir-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	// A password (never used: the server takes the key) makes sftper
	// start askpass, in a directory of its own.
	env := []string{"TMPDIR=" + tmp, "SFTPER_PASSWORD=unused-" + hexN(8)}
	s := start(t, runOpts{mode: batch, framing: client.Text, env: env}, defaultArgs()...)
	s.must("ok", listdir("."))
	if masterOf(t, s) == 0 {
		t.Fatal("no connection master")
	}
	s.killHard()
	for deadline := time.Now().Add(5 * time.Second); len(strays(tmp)) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("5 s after sftper was killed, still running: %q", strays(tmp))
		}
	}
	left := dirNames(t, tmp)
	if len(left) != 2 {
		t.Fatalf("after SIGKILL $TMPDIR holds %q, want two directories", left)
	}
	for _, n := range left {
		if len(n) != len("sftper-")+10 {
			t.Errorf("private directory %q: want sftper- and 10 characters", n)
		}
	}
	host := dirOwner(t, filepath.Join(tmp, left[0]))
	me, start0 := os.Getpid(), myStart(t)
	// decoy makes a directory of that name holding an owner file (unless
	// owner is "") and empty files.
	decoy := func(name, owner string, files ...string) string {
		if name == "" {
			name = "sftper-" + hexN(10)
		}
		if err := os.Mkdir(filepath.Join(tmp, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			writeFile(t, nil, filepath.Join(tmp, name, "owner"), []byte(owner))
		}
		for _, f := range files {
			writeFile(t, nil, filepath.Join(tmp, name, f), nil)
		}
		return name
	}
	dead := fmt.Sprintf("%d %d %s\n", me, start0+1, host) // pid reused
	kept := []string{
		decoy("sftper-x", dead),
		decoy("sftper-1234567", dead),
		decoy("", ""),                                                             // no owner file: being made, or another program's
		decoy("", strings.TrimSuffix(dead, "\n")),                                 // not all of it written
		decoy("", fmt.Sprintf("%d %d %s\n", me, start0, host)),                    // a live process
		decoy("", fmt.Sprintf("%d %d %s\n", me, start0+1, "0badc0de")),            // another machine
		decoy("", dead, "notes"),                                                  // not only sockets
		decoy("", dead, "cm1"),                                                    // cm1 not a socket
		decoy(fmt.Sprintf("sftper-%d-%d-%s-%s", me, start0+1, host, hexN(8)), ""), // named for its owner, as briefly before
	}
	if os.Geteuid() == 0 {
		theirs := decoy("", dead)
		for _, p := range []string{filepath.Join(tmp, theirs, "owner"), filepath.Join(tmp, theirs)} {
			if err := srv.Chown(p); err != nil {
				t.Fatal(err)
			}
		}
		kept = append(kept, theirs)
	}
	gone := append(left, decoy("", dead))

	s2 := start(t, runOpts{mode: batch, framing: client.Text, env: env}, defaultArgs()...)
	s2.must("ok", listdir("."))
	for _, n := range gone {
		if exists(filepath.Join(tmp, n)) {
			t.Errorf("%s is still there", n)
		}
	}
	for _, n := range kept {
		if !exists(filepath.Join(tmp, n)) {
			t.Errorf("%s was removed", n)
		}
	}
	for _, n := range left {
		if !strings.Contains(s2.p.Stderr(), "removed "+filepath.Join(tmp, n)) {
			t.Errorf("stderr does not say that %s was removed:\n%s", n, s2.p.Stderr())
		}
	}
	s2.finish()
	for _, n := range kept {
		os.RemoveAll(filepath.Join(tmp, n))
	}
	clean(t, tmp)
}
