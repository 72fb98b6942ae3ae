package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// A server that stops answering in the middle of a request, while its TCP
// connection stays up: the request is an error saying it timed out, within
// the stall timeout (here 2 s; the Recv bound is what the test enforces),
// sftp is stopped, and the next request works on a fresh connection.
func TestStalledRequestsTimeOut(t *testing.T) { eachMode(t, testStalledRequestsTimeOut) }

func testStalledRequestsTimeOut(t *testing.T, m mode) {
	server := startServer(t, sshdtest.Options{})
	_, dir := remoteDir(t, server)
	local := t.TempDir()
	small := filepath.Join(local, "small")
	writeFile(t, nil, small, []byte("small"))
	// Sparse: large enough to be frozen in the middle, cheap to make.
	big := filepath.Join(local, "big")
	sparse(t, big, 2<<30)
	remoteBig := filepath.Join(dir, "remote-big")
	sparse(t, remoteBig, 2<<30)
	if err := server.Chown(remoteBig); err != nil {
		t.Fatal(err)
	}
	s := start(t, runOpts{mode: m, framing: client.Text, server: server, dir: local},
		// In batch mode a request may need a new channel, and a hung
		// server does not open one: that wait is the connect timeout's.
		"--stall-timeout", "2s", "--connect-timeout", "4s", "-F", server.SSHConfig, sshdtest.Alias)

	// freezeWhen sends req, waits until started says the transfer is
	// under way (nil: freezes first), then freezes the server; it
	// returns the result.
	freezeWhen := func(req any, started func() bool) client.Result {
		t.Helper()
		freeze := func() {
			thaw, err := server.FreezeConnections()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(thaw)
		}
		if started == nil {
			freeze()
		}
		payload, _ := json.Marshal(req)
		if err := s.p.Send(payload, reqTimeout); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		if started != nil {
			for deadline := time.Now().Add(reqTimeout); !started(); time.Sleep(2 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the transfer did not start")
				}
			}
			freeze()
			t0 = time.Now()
		}
		b, err := s.p.Recv(reqTimeout)
		if err != nil {
			t.Fatalf("no answer while the server was frozen: %v", err)
		}
		res, err := client.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s mode: answered %.1f s after the server froze: %s", m, time.Since(t0).Seconds(), res.Message)
		stalled := strings.HasPrefix(res.Message, "timed out: sftp moved no data for 2s") ||
			strings.HasPrefix(res.Message, "timed out: the server sent no answer for 2s") // LISTDIR, on the attribute channel
		unopened := m == batch && strings.HasPrefix(res.Message, "connect timed out after 4s")
		if res.Status != "error" || !(stalled || unopened) {
			t.Errorf("request while the server was frozen: %s; want an error saying it timed out after 2s (or, in batch mode, that the connect timed out after 4s)", b)
		}
		return res
	}

	s.must("ok", put(small, filepath.Join(dir, "before")))
	res := freezeWhen(put(big, filepath.Join(dir, "big")), func() bool {
		fi, err := os.Stat(partFile(dir, "big"))
		return err == nil && fi.Size() > 1<<20
	})
	// Atomic: what was sent is in the partial file, and dest was never
	// touched.
	if r := remoteData(t, res); r != "unchanged" || exists(filepath.Join(dir, "big")) {
		t.Errorf("an atomic PUT stopped mid-way says remote %q (dest there: %v), want unchanged", r, exists(filepath.Join(dir, "big")))
	}
	s.must("ok", put(small, filepath.Join(dir, "after-put")))
	if got := string(readFile(t, filepath.Join(dir, "after-put"))); got != "small" {
		t.Errorf("after-put holds %q", got)
	}

	freezeWhen(get(remoteBig, filepath.Join(local, "got")), func() bool {
		for _, n := range dirNames(t, local) {
			if fi, err := os.Stat(filepath.Join(local, n)); err == nil && strings.HasSuffix(n, ".part") && fi.Size() > 1<<20 {
				return true
			}
		}
		return false
	})
	for _, n := range dirNames(t, local) {
		if strings.HasSuffix(n, ".part") || n == "got" {
			t.Errorf("a GET stopped mid-way left %s behind", n)
		}
	}
	s.must("ok", listdir(dir))

	// A command that is never answered at all.
	s.must("ok", put(small, filepath.Join(dir, "fresh")))
	freezeWhen(listdir(dir), nil)
	s.must("ok", del(filepath.Join(dir, "fresh")))
	if exists(filepath.Join(dir, "fresh")) {
		t.Error("the DELETE after a timed-out LISTDIR did not remove the file")
	}
	s.finish()
}

// sparse makes a file of size bytes that takes no room on disk.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// A transfer slowed by the user's own sftp -l is not a stall: sftp sleeps
// between bursts then, moving nothing, and sftper raises the stall timeout
// above those sleeps (it says so on stderr).
func TestBandwidthLimitIsNotAStall(t *testing.T) { eachMode(t, testBandwidthLimitIsNotAStall) }

func testBandwidthLimitIsNotAStall(t *testing.T, m mode) {
	_, dir := remoteDir(t, srv)
	local := t.TempDir()
	src := filepath.Join(local, "src")
	// Past one write of the server's largest size (255 KiB), after
	// which sftp sleeps for about 2.5 s at -l 800.
	content := bytes.Repeat([]byte("slow but steady "), 400<<10/16)
	writeFile(t, nil, src, content)
	s := start(t, runOpts{mode: m, framing: client.Text, dir: local},
		"--stall-timeout", "1s", "--sftp-command", "sftp -l 800", "-F", srv.SSHConfig, sshdtest.Alias)
	s.must("ok", put(src, filepath.Join(dir, "slow")))
	if got := readFile(t, filepath.Join(dir, "slow")); !bytes.Equal(got, content) {
		t.Errorf("the throttled upload holds %d bytes, want %d", len(got), len(content))
	}
	s.finish()
	if !strings.Contains(s.p.Stderr(), "the stall timeout is raised from 1s") {
		t.Errorf("stderr does not say the stall timeout was raised:\n%s", s.p.Stderr())
	}
}
