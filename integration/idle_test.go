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
			off := server.LogOffset()
			s.must("ok", put(src, filepath.Join(dir, "first")))
			if m == batch {
				// The first script, the request's, and the two spares.
				waitSessions(t, server, off, 3)
			}
			for round := range 2 {
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
