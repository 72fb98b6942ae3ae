package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// ssh makes its stderr non-blocking, and sftp's stderr is where it got it
// from. If sftp's stdout shared that open file description, a full pipe
// would make sftp drop output lines (EAGAIN in stdio). Once connected,
// neither of sftp's output descriptors may be non-blocking.
func TestSftpOutputStaysBlocking(t *testing.T) { eachMode(t, testSftpOutputStaysBlocking) }

func testSftpOutputStaysBlocking(t *testing.T, m mode) {
	// A slow upload keeps sftp running (in batch mode, its script) while
	// its descriptors are looked at.
	args := append([]string{"--sftp-command", "sftp -l 2000"}, defaultArgs()...)
	s := start(t, runOpts{mode: m, framing: client.Text}, args...)
	s.must("ok", listdir("."))
	rel, abs := remoteDir(t, srv)
	src := filepath.Join(s.dir, "slow")
	writeFile(t, nil, src, make([]byte, 256<<10))
	if err := s.p.Send([]byte(`{"command":"PUT","args":{"source":"slow","dest":"`+rel+`/slow"}}`), reqTimeout); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, filepath.Join(abs, "slow"))
	sftpPid := childNamed(t, s.p.Pid(), "sftp")
	for _, fd := range []int{1, 2} {
		info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", sftpPid, fd))
		if err != nil {
			t.Fatal(err)
		}
		flags := fdFlags(t, string(info))
		if flags&syscall.O_NONBLOCK != 0 {
			t.Errorf("sftp's fd %d is non-blocking (flags %#o): output can be lost when the pipe is full", fd, flags)
		}
	}
	b, err := s.p.Recv(reqTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := client.Decode(b); res.Status != "ok" {
		t.Errorf("the slow PUT: %s", b)
	}
	s.finish()
}

// A stalled sftper (here: stopped) while sftp prints a large listing and
// more pipelined commands must lose nothing: every result is exact once it
// runs again.
func TestStalledReaderLosesNothing(t *testing.T) { eachMode(t, testStalledReaderLosesNothing) }

func testStalledReaderLosesNothing(t *testing.T, m mode) {
	rel, abs := remoteDir(t, srv)
	const n = 3000 // about 400 KB of listing, far more than a pipe holds by default
	for i := 0; i < n; i++ {
		name := filepath.Join(abs, fmt.Sprintf("entry-with-a-longish-name-%05d", i))
		if err := os.WriteFile(name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Chown(abs); err != nil {
		t.Fatal(err)
	}
	s := startDefault(t, m, client.Text)
	s.must("ok", listdir(rel)) // connected
	var wire []byte
	const rounds = 6
	for i := 0; i < rounds; i++ {
		wire = append(wire, client.Frame(client.Text, []byte(fmt.Sprintf(`{"command":"LISTDIR","args":{"path":%q},"id":%d}`, rel, 2*i)))...)
		wire = append(wire, client.Frame(client.Text, []byte(fmt.Sprintf(`{"command":"LISTDIR","args":{"path":"missing-%d"},"id":%d}`, i, 2*i+1)))...)
	}
	if err := s.p.Write(wire, reqTimeout); err != nil {
		t.Fatal(err)
	}
	// Let sftper send the commands, then stop it while sftp answers.
	time.Sleep(100 * time.Millisecond)
	if err := s.p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := s.p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2*rounds; i++ {
		b, err := s.p.Recv(reqTimeout)
		if err != nil {
			t.Fatalf("result %d: %v", i, err)
		}
		res, err := client.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.ID) != strconv.Itoa(i) {
			t.Fatalf("result %d has id %s", i, res.ID)
		}
		if i%2 == 1 {
			if res.Status != "error" || !strings.Contains(res.Message, "No such file") {
				t.Errorf("LISTDIR of a missing directory: %s", res.Raw)
			}
			continue
		}
		if res.Status != "ok" {
			t.Errorf("LISTDIR: %s", res.Raw)
			continue
		}
		if got := len(entries(t, res)); got != n {
			t.Errorf("LISTDIR %d: %d entries, want %d", i, got, n)
		}
	}
	s.finish()
}

// childNamed finds the process called name among pid's descendants.
func childNamed(t *testing.T, pid int, name string) int {
	t.Helper()
	kids, err := sshdtest.Descendants(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", k))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			return k
		}
	}
	t.Fatalf("no %s among the descendants %v of %d", name, kids, pid)
	return 0
}

// fdFlags reads the "flags:" line (octal) of /proc/PID/fdinfo/FD.
func fdFlags(t *testing.T, info string) int {
	t.Helper()
	for _, ln := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(ln, "flags:"); ok {
			f, err := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(f)
		}
	}
	t.Fatalf("no flags in %q", info)
	return 0
}
