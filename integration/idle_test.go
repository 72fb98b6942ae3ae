package integration

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// What the server closes while sftper is idle, between two requests, is
// not the next request's failure: the channels of batch mode's spare
// scripts (or the session's channel), or the whole connection. The next
// requests succeed, and their effect is on the server's disk.
func TestIdleLossIsNotTheNextRequests(t *testing.T) { eachMode(t, testIdleLossIsNotTheNextRequests) }

func testIdleLossIsNotTheNextRequests(t *testing.T, m mode) {
	for _, tc := range []struct {
		what string
		opts sshdtest.Options
		// lose is what happens while sftper waits for the next request.
		lose func(t *testing.T, server *sshdtest.Server)
	}{
		// Long enough that sftper has connected and sent its first
		// request well within it, even on a slow machine: a timeout
		// that strikes during a request is a loss during the request.
		{"server times idle channels out", sshdtest.Options{ExtraConfig: []string{"ChannelTimeout session:*=2s"}},
			func(t *testing.T, server *sshdtest.Server) { time.Sleep(2800 * time.Millisecond) }},
		{"session processes killed", sshdtest.Options{}, func(t *testing.T, server *sshdtest.Server) {
			if n, err := server.KillSessions(); err != nil || n == 0 {
				t.Fatalf("killed %d sessions: %v", n, err)
			}
			time.Sleep(300 * time.Millisecond)
		}},
		{"connection killed", sshdtest.Options{}, func(t *testing.T, server *sshdtest.Server) {
			if n, err := server.KillConnections(); err != nil || n == 0 {
				t.Fatalf("killed %d connections: %v", n, err)
			}
			time.Sleep(300 * time.Millisecond)
		}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			server := startServer(t, tc.opts)
			_, dir := remoteDir(t, server)
			local := t.TempDir()
			src := filepath.Join(local, "src")
			writeFile(t, nil, src, []byte("idle loss"))
			s := start(t, runOpts{mode: m, framing: client.Text, server: server, dir: local}, "-F", server.SSHConfig, sshdtest.Alias)
			s.must("ok", put(src, filepath.Join(dir, "first")))
			// Idle: the session's channel, or batch mode's two spares,
			// and the attribute channel (the PUT renamed its upload
			// into place there).
			idle := 2
			if m == batch {
				idle = 3
			}
			for round := range 2 {
				waitIdle(t, server, idle)
				tc.lose(t, server)
				for i := range 2 {
					name := fmt.Sprintf("after-%d-%d", round, i)
					s.expect("ok", put(src, filepath.Join(dir, name)))
					if got := string(readFile(t, filepath.Join(dir, name))); got != "idle loss" {
						t.Errorf("%s holds %q", name, got)
					}
				}
			}
			s.finish()
		})
	}
}

// waitIdle waits until sftper holds exactly n sessions on the server, and
// has for a moment: what it keeps open while it waits for a request (a
// spare that is still opening its session, or a script still closing, is
// not yet the idle state the tests lose).
func waitIdle(t *testing.T, server *sshdtest.Server, n int) {
	t.Helper()
	const steady = 200 * time.Millisecond
	var since time.Time
	for deadline := time.Now().Add(reqTimeout); ; time.Sleep(10 * time.Millisecond) {
		got, err := server.Sessions()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case got != n:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= steady:
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sftper holds %d sessions on the server, want %d while idle", got, n)
		}
	}
}
