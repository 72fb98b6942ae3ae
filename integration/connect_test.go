package integration

import (
	"bytes"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// A prompt must be reported, not waited on: well within the default
// 30 s connect timeout.
const promptBound = 10 * time.Second

// timed sends one request and returns its result and how long it took.
func timed(s *sftper, r any) (client.Result, time.Duration) {
	s.t.Helper()
	t0 := time.Now()
	res := s.do(r)
	return res, time.Since(t0)
}

func TestHostKeyPrompt(t *testing.T) { eachMode(t, testHostKeyPrompt) }

func testHostKeyPrompt(t *testing.T, m mode) {
	// With a secret to give too: in batch mode ssh then asks the host-key
	// question through askpass, which must refuse it just the same.
	for _, secret := range []bool{false, true} {
		t.Run("secret "+strconv.FormatBool(secret), func(t *testing.T) {
			config, kh, err := srv.HostKeyPromptConfig()
			if err != nil {
				t.Fatal(err)
			}
			o := runOpts{mode: m, framing: client.Text}
			if secret {
				o.env = []string{"SFTPER_PASSWORD=yes"}
			}
			s := start(t, o, "-F", config, sshdtest.Alias)
			for i := range 2 { // and again: each attempt is refused the same way
				res, took := timed(s, listdir("."))
				if res.Status != "error" {
					t.Fatalf("attempt %d: %s, want error", i, res.Raw)
				}
				// A session sees ssh's question and quotes it; ssh in
				// batch mode asks none that sftper would answer, and
				// sftper names the key ssh was offered.
				want := []string{"never", "SHA256:", "ssh-keyscan", "accept-new"}
				if m == session {
					want = append(want, "The authenticity of host")
				} else {
					want = append(want, "host key is not known", "Host key verification failed")
				}
				for _, w := range want {
					if !strings.Contains(res.Message, w) {
						t.Errorf("attempt %d: message %q does not contain %q", i, res.Message, w)
					}
				}
				if took > promptBound {
					t.Errorf("attempt %d took %v, want < %v", i, took, promptBound)
				}
			}
			s.finish()
			if b, err := os.ReadFile(kh); err != nil || len(b) != 0 {
				t.Errorf("known_hosts now holds %q (%v); want it untouched (empty)", b, err)
			}
		})
	}
}

func TestUnknownHostKeyStrict(t *testing.T) { eachMode(t, testUnknownHostKeyStrict) }

func testUnknownHostKeyStrict(t *testing.T, m mode) {
	config, kh, err := srv.HostKeyPromptConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, runOpts{mode: m, framing: client.Text}, "-F", config, "-o", "StrictHostKeyChecking=yes", sshdtest.Alias)
	res, took := timed(s, listdir("."))
	if res.Status != "error" || !containsFold(res.Message, "Host key verification failed", "No ED25519 host key is known") {
		t.Errorf("%s, want an error saying the host key is unknown", res.Raw)
	}
	if took > promptBound {
		t.Errorf("took %v", took)
	}
	s.finish()
	if b, _ := os.ReadFile(kh); len(b) != 0 {
		t.Errorf("known_hosts now holds %q", b)
	}
}

func TestPasswordPrompt(t *testing.T) { eachMode(t, testPasswordPrompt) }

func testPasswordPrompt(t *testing.T, m mode) {
	server := startServer(t, sshdtest.Options{PasswordAuth: true})
	config, err := server.PasswordPromptConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, runOpts{mode: m, framing: client.Text, server: server}, "-F", config, sshdtest.Alias)
	res, took := timed(s, listdir("."))
	if res.Status != "error" {
		t.Fatalf("%s, want error", res.Raw)
	}
	// A session quotes ssh's prompt; in batch mode ssh never asks, and
	// says why it gave up.
	if want := "'s password"; m == session && !strings.Contains(res.Message, want) {
		t.Errorf("message %q does not quote ssh's password prompt (%q)", res.Message, server.User+"@127.0.0.1's password:")
	}
	if want := "Permission denied (publickey,password)"; m == batch && !strings.Contains(res.Message, want) {
		t.Errorf("message %q does not contain ssh's %q", res.Message, want)
	}
	if took > promptBound {
		t.Errorf("took %v, want < %v", took, promptBound)
	}
	s.finish()
	if strings.Contains(server.Log(), "Accepted") {
		t.Error("the server accepted a login")
	}
}

func TestAuthFailure(t *testing.T) { eachMode(t, testAuthFailure) }

func testAuthFailure(t *testing.T, m mode) {
	config, err := srv.UnauthorizedKeyConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, runOpts{mode: m, framing: client.Text}, "-F", config, sshdtest.Alias)
	res, took := timed(s, listdir("."))
	if res.Status != "error" || !strings.Contains(res.Message, "Permission denied") {
		t.Errorf("%s, want an error with ssh's Permission denied", res.Raw)
	}
	if took > promptBound {
		t.Errorf("took %v", took)
	}
	s.finish()
}

// silentListener accepts TCP connections and never says anything: a host
// that is "up" but never answers the SSH handshake.
func silentListener(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().(*net.TCPAddr).Port
}

// bareArgs connect to 127.0.0.1:port with nothing from any ssh_config.
func bareArgs(port int) []string {
	return []string{
		"-F", "/dev/null", "-P", strconv.Itoa(port),
		"-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"nobody@127.0.0.1",
	}
}

func TestConnectTimeout(t *testing.T) { eachMode(t, testConnectTimeout) }

func testConnectTimeout(t *testing.T, m mode) {
	port := silentListener(t)
	t0 := time.Now()
	s := start(t, runOpts{mode: m, framing: client.Text}, append([]string{"--connect-timeout", "2s"}, bareArgs(port)...)...)
	res := s.doWithin(listdir("."), 20*time.Second)
	took := time.Since(t0)
	if res.Status != "error" {
		t.Errorf("%s, want error", res.Raw)
	}
	if took > 10*time.Second {
		t.Errorf("took %v with --connect-timeout 2s, want < 10s", took)
	}
	if took < 1500*time.Millisecond {
		t.Errorf("gave up after %v, before the 2s timeout", took)
	}
	s.p.CloseStdin()
	if _, err := s.p.Wait(20 * time.Second); err != nil {
		t.Error(err)
	}
}

func TestConnectionRefused(t *testing.T) { eachMode(t, testConnectionRefused) }

func testConnectionRefused(t *testing.T, m mode) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := start(t, runOpts{mode: m, framing: client.Text}, bareArgs(port)...)
	for range 2 { // the stream goes on after a failed connect
		res, took := timed(s, listdir("."))
		if res.Status != "error" || !strings.Contains(res.Message, "Connection refused") {
			t.Errorf("%s, want an error with ssh's Connection refused", res.Raw)
		}
		if took > promptBound {
			t.Errorf("took %v", took)
		}
	}
	s.finish()
}

// TestOneConnection: one sftp session serves every request.
func TestOneConnection(t *testing.T) { eachMode(t, testOneConnection) }

func testOneConnection(t *testing.T, m mode) {
	server := startServer(t, sshdtest.Options{})
	s := start(t, runOpts{mode: m, framing: client.Binary, server: server}, "-F", server.SSHConfig, sshdtest.Alias)
	src := filepath.Join(s.dir, "f")
	writeFile(t, nil, src, []byte("f"))
	for i := range 10 {
		name := "f" + strconv.Itoa(i)
		s.must("ok", put(src, name))
		s.must("ok", listdir("."))
		s.must("ok", get(name, filepath.Join(s.dir, name)))
		s.expect("error", get("missing", filepath.Join(s.dir, "missing")))
		s.must("ok", del(name))
		s.do([]byte(`{"command":"NOPE"}`))
	}
	// A session is one sftp (and its ssh, the connection's master),
	// and the attribute channel's ssh that LISTDIR opened; between
	// scripts, batch mode keeps its connection master, two spare
	// scripts connected through it (the last script may still be
	// exiting after its result) and the attribute channel's ssh.
	want := map[string]int{"sftp": 1, "ssh": 2}
	if m == batch {
		want = map[string]int{"sftp": 2, "ssh": 4}
	}
	var procs map[string]int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		procs = map[string]int{}
		for _, name := range children(t, s.p.Pid()) {
			procs[name]++
		}
		if maps.Equal(procs, want) || time.Now().After(deadline) {
			break
		}
	}
	if !maps.Equal(procs, want) {
		t.Errorf("processes under sftper: %v, want %v", procs, want)
	}
	s.finish()
	log := server.Log()
	if n := strings.Count(log, "Accepted publickey"); n != 1 {
		t.Errorf("%d logins for 60 requests, want 1", n)
	}
	// Batch mode ran many scripts, each an SFTP session of its own, all
	// over that one login; a session's sftp is one, and the attribute
	// channel one more, for all ten LISTDIRs.
	sessions := strings.Count(log, "subsystem 'sftp'")
	if m == session && sessions != 2 || m == batch && sessions < 20 {
		t.Errorf("%d sftp sessions on the server for 60 requests in %s mode", sessions, m)
	}
}

// TestServerDiesMidTransfer: the request in flight gets an error, and the
// next one succeeds on a new session with nothing done by the caller. The
// PUT writes in place ("atomic": false), so the error says the remote file
// may be partial; xfer_test.go's TestAtomicPutServerDies has the atomic
// one.
func TestServerDiesMidTransfer(t *testing.T) { eachMode(t, testServerDiesMidTransfer) }

func testServerDiesMidTransfer(t *testing.T, m mode) {
	server := startServer(t, sshdtest.Options{})
	// 2000 Kbit/s: a 4 MiB upload takes about 16 s, plenty of time to kill
	// the server in the middle.
	s := start(t, runOpts{mode: m, framing: client.Text, server: server},
		"--sftp-command", "sftp -l 2000", "-F", server.SSHConfig, sshdtest.Alias)
	s.must("ok", listdir("."))
	src := filepath.Join(s.dir, "big")
	writeFile(t, nil, src, bytes.Repeat([]byte("z"), 4<<20))
	if err := s.p.Send([]byte(`{"command":"PUT","args":{"source":"big","dest":"big","atomic":false},"id":"inflight"}`), reqTimeout); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, filepath.Join(server.Home, "big"))
	if err := server.Kill(); err != nil {
		t.Fatal(err)
	}
	b, err := s.p.Recv(reqTimeout)
	if err != nil {
		t.Fatalf("no result for the PUT in flight: %v", err)
	}
	res, _ := client.Decode(b)
	if res.Status != "error" || string(res.ID) != `"inflight"` {
		t.Fatalf("PUT in flight: %s, want error", b)
	}
	if r := remoteData(t, res); r != "partial" {
		t.Errorf("remote %q, want partial: the file was being written", r)
	}

	if err := server.Restart(); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(s.dir, "small")
	writeFile(t, nil, small, []byte("after restart"))
	s.must("ok", put(small, "small"))
	if got := readFile(t, filepath.Join(server.Home, "small")); string(got) != "after restart" {
		t.Errorf("small holds %q", got)
	}
	checkListing(t, s.must("ok", listdir(".")), server.Home)
	s.finish()
	if n := strings.Count(server.Log(), "Accepted publickey"); n != 2 {
		t.Errorf("%d logins, want 2 (before and after the restart)", n)
	}
}

// TestDropBetweenCommands: a connection lost while idle (the server
// restarted) is made again by the next request, which succeeds.
func TestDropBetweenCommands(t *testing.T) { eachMode(t, testDropBetweenCommands) }

func testDropBetweenCommands(t *testing.T, m mode) {
	server := startServer(t, sshdtest.Options{})
	s := start(t, runOpts{mode: m, framing: client.Text, server: server}, "-F", server.SSHConfig, sshdtest.Alias)
	s.must("ok", listdir("."))
	before := children(t, s.p.Pid())
	if err := server.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := server.Restart(); err != nil {
		t.Fatal(err)
	}
	// ssh notices at once that its connection is gone.
	for pid, name := range before {
		if name != "ssh" {
			continue
		}
		for deadline := time.Now().Add(reqTimeout); sshdtest.Alive(pid); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("ssh did not notice the server going away")
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // and sftp hears of it
	checkListing(t, s.must("ok", listdir(".")), server.Home)
	s.finish()
	if n := server.Logins(); n != 2 {
		t.Errorf("%d logins, want 2 (before and after the restart)", n)
	}
}
