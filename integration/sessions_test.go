package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// --sessions: several sftp sessions side by side on the one login. Every
// result is checked on the files, in request order (or, with --unordered,
// by id), and the server's log says how many logins and sessions it saw.

// stream sends reqs at once (each with its index as id) and reads their
// results in order.
func (s *sftper) stream(t *testing.T, reqs []map[string]any) []client.Result {
	t.Helper()
	go func() {
		for i, r := range reqs {
			r["id"] = i
			b, _ := json.Marshal(r)
			if err := s.p.Send(b, reqTimeout); err != nil {
				return
			}
		}
	}()
	out := make([]client.Result, len(reqs))
	for i := range reqs {
		b, err := s.p.Recv(2 * reqTimeout)
		if err != nil {
			t.Fatalf("result %d of %d: %v", i, len(reqs), err)
		}
		res, err := client.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = res
	}
	return out
}

// TestSessions: with --sessions 4, 200 PUTs and 200 GETs streamed at once
// all come back ok, in order, byte for byte, over one login and several
// SFTP sessions.
func TestSessions(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		server := startServer(t, sshdtest.Options{})
		_, abs := remoteDir(t, server)
		off := server.LogOffset()
		s := start(t, runOpts{mode: m, server: server}, "--sessions", "4", "-F", server.SSHConfig, sshdtest.Alias)
		local := t.TempDir()
		const n = 200
		var reqs []map[string]any
		for i := range n {
			src := filepath.Join(local, fmt.Sprintf("up-%03d", i))
			writeFile(t, nil, src, bytes.Repeat([]byte{byte(i)}, 1000+i))
			reqs = append(reqs, put(src, filepath.Join(abs, fmt.Sprintf("f-%03d", i))))
		}
		for i, res := range s.stream(t, reqs) {
			if res.Status != "ok" || string(res.ID) != fmt.Sprint(i) {
				t.Fatalf("PUT %d: %s", i, res.Raw)
			}
		}
		reqs = reqs[:0]
		for i := range n {
			reqs = append(reqs, get(filepath.Join(abs, fmt.Sprintf("f-%03d", i)), filepath.Join(local, fmt.Sprintf("down-%03d", i))))
		}
		for i, res := range s.stream(t, reqs) {
			if res.Status != "ok" || string(res.ID) != fmt.Sprint(i) {
				t.Fatalf("GET %d: %s", i, res.Raw)
			}
			if got := readFile(t, filepath.Join(local, fmt.Sprintf("down-%03d", i))); !bytes.Equal(got, bytes.Repeat([]byte{byte(i)}, 1000+i)) {
				t.Errorf("file %d came back %d bytes, not its own", i, len(got))
			}
		}
		s.finish()
		log := server.Log()[off:]
		if n := strings.Count(log, "Accepted publickey"); n != 1 {
			t.Errorf("%d logins, want one for every session", n)
		}
		if n := strings.Count(log, "subsystem 'sftp'"); n < 3 {
			t.Errorf("%d SFTP sessions on the server: the requests did not go side by side", n)
		}
	})
}

// TestSessionsKeepOrderOnOnePath: PUT, DELETE and PUT of one path, a
// hundred times over, streamed with --sessions 4: each waits for the one
// before it, so every DELETE finds the file and the last PUT's bytes stay.
func TestSessionsKeepOrderOnOnePath(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		s := start(t, runOpts{mode: m}, append([]string{"--sessions", "4"}, defaultArgs()...)...)
		_, abs := remoteDir(t, srv)
		dest := filepath.Join(abs, "one")
		local := t.TempDir()
		var reqs []map[string]any
		for i := range 100 {
			a, b := filepath.Join(local, fmt.Sprintf("a%d", i)), filepath.Join(local, fmt.Sprintf("b%d", i))
			writeFile(t, nil, a, []byte(fmt.Sprintf("first %d", i)))
			writeFile(t, nil, b, []byte(fmt.Sprintf("second %d", i)))
			reqs = append(reqs, put(a, dest), del(dest), put(b, dest))
		}
		for i, res := range s.stream(t, reqs) {
			if res.Status != "ok" {
				t.Fatalf("request %d (%s): %s", i, reqs[i]["command"], res.Raw)
			}
		}
		if got := string(readFile(t, dest)); got != "second 99" {
			t.Errorf("the file holds %q, want the last PUT's", got)
		}
		s.finish()
	})
}

// TestSessionsLimit: a server that takes 3 sessions on a connection
// (MaxSessions 3) and --sessions 4: every request still succeeds, sftper
// says once that it goes on with fewer, and one login serves them all.
func TestSessionsLimit(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		server := startServer(t, sshdtest.Options{MaxSessions: 3})
		_, abs := remoteDir(t, server)
		off := server.LogOffset()
		// Slowed down (16000 Kbit/s, 64 KB files), so that every session
		// is busy and sftper asks for more.
		s := start(t, runOpts{mode: m, server: server}, "--sessions", "4", "--sftp-command", "sftp -l 16000", "-F", server.SSHConfig, sshdtest.Alias)
		local := t.TempDir()
		var reqs []map[string]any
		for i := range 40 {
			src := filepath.Join(local, fmt.Sprintf("f%d", i))
			writeFile(t, nil, src, append(bytes.Repeat([]byte{'x'}, 64<<10), fmt.Sprint(i)...))
			reqs = append(reqs, put(src, filepath.Join(abs, fmt.Sprintf("f%d", i))))
		}
		for i, res := range s.stream(t, reqs) {
			if res.Status != "ok" {
				t.Fatalf("PUT %d: %s", i, res.Raw)
			}
		}
		for i := range 40 {
			if got := readFile(t, filepath.Join(abs, fmt.Sprintf("f%d", i))); !bytes.Equal(got, readFile(t, filepath.Join(local, fmt.Sprintf("f%d", i)))) {
				t.Errorf("f%d differs", i)
			}
		}
		s.finish()
		if n := strings.Count(server.Log()[off:], "Accepted publickey"); n != 1 {
			t.Errorf("%d logins, want 1", n)
		}
		if !strings.Contains(s.p.Stderr(), "refused one more SFTP session") {
			t.Errorf("stderr does not say the server refused a session:\n%s\nserver log:\n%s", s.p.Stderr(), server.Log()[off:])
		}
	})
}

// TestSessionsProFTPD: --sessions 4 against ProFTPD's mod_sftp, which
// cannot serve two busy sessions on one connection: sftper runs one at a
// time there, says so, and every byte arrives.
func TestSessionsProFTPD(t *testing.T) {
	pf := startProFTPD(t)
	eachMode(t, func(t *testing.T, m mode) {
		s := start(t, runOpts{mode: m, server: pf}, "--sessions", "4", "-F", pf.SSHConfig, sshdtest.Alias)
		_, abs := remoteDir(t, pf)
		local := t.TempDir()
		var reqs []map[string]any
		for i := range 40 {
			src := filepath.Join(local, fmt.Sprintf("f%d", i))
			writeFile(t, nil, src, randomBytes(t, 40_000+i))
			reqs = append(reqs, putReq(src, filepath.Join(abs, fmt.Sprintf("f%d", i)), map[string]any{"atomic": false}))
		}
		for i, res := range s.stream(t, reqs) {
			if res.Status != "ok" {
				t.Fatalf("PUT %d: %s", i, res.Raw)
			}
		}
		for i := range 40 {
			if !bytes.Equal(readFile(t, filepath.Join(abs, fmt.Sprintf("f%d", i))), readFile(t, filepath.Join(local, fmt.Sprintf("f%d", i)))) {
				t.Errorf("f%d differs", i)
			}
		}
		s.finish()
		if !strings.Contains(s.p.Stderr(), "cannot serve two SFTP sessions on one connection at the same time") {
			t.Errorf("stderr does not say why it runs one session at a time:\n%s", s.p.Stderr())
		}
	})
}

// TestSessionKilled: a session killed in the middle of a stream is
// replaced: the requests it had fail as connection_lost, the rest
// succeed, and the next requests all succeed.
func TestSessionKilled(t *testing.T) {
	s := start(t, runOpts{mode: session}, append([]string{"--sessions", "4", "--sftp-command", "sftp -l 4000"}, defaultArgs()...)...)
	_, abs := remoteDir(t, srv)
	local := t.TempDir()
	var reqs []map[string]any
	for i := range 16 {
		src := filepath.Join(local, fmt.Sprintf("f%d", i))
		writeFile(t, nil, src, randomBytes(t, 200_000))
		reqs = append(reqs, putReq(src, filepath.Join(abs, fmt.Sprintf("f%d", i)), map[string]any{"atomic": false}))
	}
	done := make(chan []client.Result)
	go func() { done <- s.stream(t, reqs) }()
	// Once four sftp processes run, kill one that is uploading (it has
	// one of the sources open).
	var victim int
	for deadline := time.Now().Add(reqTimeout); victim == 0; time.Sleep(20 * time.Millisecond) {
		var sftps []int
		for kid, name := range children(t, s.p.Pid()) {
			if name == "sftp" {
				sftps = append(sftps, kid)
			}
		}
		if len(sftps) >= 4 {
			for _, kid := range sftps {
				fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", kid))
				for _, fd := range fds {
					if target, _ := os.Readlink(fd); strings.HasPrefix(target, local) {
						victim = kid
					}
				}
			}
		}
		if victim == 0 && time.Now().After(deadline) {
			t.Fatalf("no uploading sftp among %d sessions after %v", len(sftps), reqTimeout)
		}
	}
	syscall.Kill(victim, syscall.SIGKILL)
	lost := 0
	for i, res := range <-done {
		switch {
		case res.Status == "ok":
		case res.Status == "error" && strings.Contains(string(res.Data), `"connection_lost"`):
			lost++
		default:
			t.Errorf("PUT %d: %s", i, res.Raw)
		}
	}
	if lost == 0 || lost > sessionDepthForTest {
		t.Errorf("%d requests lost with the killed session, want 1 to %d", lost, sessionDepthForTest)
	}
	for i, res := range s.stream(t, reqs) {
		if res.Status != "ok" {
			t.Errorf("PUT %d after the kill: %s", i, res.Raw)
		}
	}
	s.finish()
}

// sessionDepthForTest is how many lines a session holds at most (the
// driver's sessionDepth).
const sessionDepthForTest = 2

// TestBatchRoomForTheChannel: batch mode keeps scripts ready, which take
// sessions; on a server that takes 3 (MaxSessions 3), the attribute
// channel (a LISTDIR, an atomic PUT's rename) is refused one at first:
// sftper gives back a spare's and keeps no more ready, and nothing fails.
// Never a second login instead (OpenSSH's mux client would fall back to
// one of its own).
func TestBatchRoomForTheChannel(t *testing.T) {
	server := startServer(t, sshdtest.Options{MaxSessions: 3})
	_, abs := remoteDir(t, server)
	off := server.LogOffset()
	s := start(t, runOpts{mode: batch, server: server}, "-F", server.SSHConfig, sshdtest.Alias)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, nil, src, []byte("room"))
	for i := range 5 {
		s.must("ok", put(src, filepath.Join(abs, fmt.Sprintf("f%d", i))))
	}
	s.must("ok", listdir(abs))
	if got := string(readFile(t, filepath.Join(abs, "f4"))); got != "room" {
		t.Errorf("f4 holds %q", got)
	}
	s.finish()
	if n := strings.Count(server.Log()[off:], "Accepted publickey"); n != 1 {
		t.Errorf("%d logins, want 1:\n%s", n, s.p.Stderr())
	}
}

// TestUnordered: with --unordered and --sessions 4, every request's result
// comes back once, with its id, as soon as it is done; a request without
// an id is refused; requests about one path still keep their order.
func TestUnordered(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		s := start(t, runOpts{mode: m}, append([]string{"--unordered", "--sessions", "4"}, defaultArgs()...)...)
		_, abs := remoteDir(t, srv)
		local := t.TempDir()
		const n = 120
		for i := range n {
			writeFile(t, nil, filepath.Join(local, fmt.Sprintf("f%d", i)), bytes.Repeat([]byte{byte(i)}, 100*i))
		}
		go func() {
			for i := range n {
				r := put(filepath.Join(local, fmt.Sprintf("f%d", i)), filepath.Join(abs, fmt.Sprintf("f%d", i)))
				r["id"] = fmt.Sprintf("put-%d", i)
				b, _ := json.Marshal(r)
				s.p.Send(b, reqTimeout)
			}
			// Then one path, in order, and a request without an id.
			for i := range 10 {
				r := put(filepath.Join(local, fmt.Sprintf("f%d", i)), filepath.Join(abs, "one"))
				r["id"] = fmt.Sprintf("one-%d", i)
				b, _ := json.Marshal(r)
				s.p.Send(b, reqTimeout)
			}
			b, _ := json.Marshal(listdir(abs))
			s.p.Send(b, reqTimeout)
		}()
		seen := map[string]bool{}
		var order []string
		fails := 0
		for range n + 11 {
			b, err := s.p.Recv(2 * reqTimeout)
			if err != nil {
				t.Fatal(err)
			}
			res, _ := client.Decode(b)
			if res.Status == "fail" {
				if res.ID != nil || !strings.Contains(res.Message, "id") {
					t.Errorf("the request without an id: %s", b)
				}
				fails++
				continue
			}
			var id string
			json.Unmarshal(res.ID, &id)
			if res.Status != "ok" || id == "" || seen[id] {
				t.Fatalf("result %s", b)
			}
			seen[id] = true
			if strings.HasPrefix(id, "one-") {
				order = append(order, id)
			}
		}
		if len(seen) != n+10 || fails != 1 {
			t.Errorf("%d ok results and %d fails, want %d and 1", len(seen), fails, n+10)
		}
		for i, id := range order {
			if id != fmt.Sprintf("one-%d", i) {
				t.Errorf("results for one path came in the order %q", order)
				break
			}
		}
		if got := readFile(t, filepath.Join(abs, "one")); !bytes.Equal(got, bytes.Repeat([]byte{9}, 900)) {
			t.Errorf("one holds %d bytes, not the last PUT's", len(got))
		}
		for i := range n {
			if got := readFile(t, filepath.Join(abs, fmt.Sprintf("f%d", i))); len(got) != 100*i {
				t.Errorf("f%d holds %d bytes", i, len(got))
			}
		}
		s.finish()
	})
}
