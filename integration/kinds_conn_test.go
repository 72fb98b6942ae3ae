package integration

import (
	"bytes"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// The connection kinds: every way a connection can fail or end, produced
// against the real sshd, with the kind in data.kind that a client acts on.

// kindOf is the "kind" member of an error result's data.
func kindOf(t *testing.T, res client.Result) string {
	t.Helper()
	var d struct {
		Kind string `json:"kind"`
	}
	if len(res.Data) > 0 {
		if err := json.Unmarshal(res.Data, &d); err != nil {
			t.Fatalf("data of %s: %v", res.Raw, err)
		}
	}
	return d.Kind
}

// wantKind checks that res is an error of kind want.
func wantKind(t *testing.T, res client.Result, want string) {
	t.Helper()
	if res.Status != "error" || kindOf(t, res) != want {
		t.Errorf("%s\nwant an error of kind %q", res.Raw, want)
	}
}

func TestKindsAuthFailed(t *testing.T) { eachMode(t, testKindsAuthFailed) }

func testKindsAuthFailed(t *testing.T, m mode) {
	t.Run("every credential refused", func(t *testing.T) {
		config, err := srv.UnauthorizedKeyConfig()
		if err != nil {
			t.Fatal(err)
		}
		s := start(t, runOpts{mode: m, framing: client.Text}, "-F", config, sshdtest.Alias)
		wantKind(t, s.do(listdir(".")), "auth_failed")
		s.finish()
	})
	t.Run("a password asked and none to give", func(t *testing.T) {
		server := startServer(t, sshdtest.Options{PasswordAuth: true})
		config, err := server.PasswordPromptConfig()
		if err != nil {
			t.Fatal(err)
		}
		s := start(t, runOpts{mode: m, framing: client.Text, server: server}, "-F", config, sshdtest.Alias)
		wantKind(t, s.do(listdir(".")), "auth_failed")
		s.finish()
	})
	t.Run("the secret rejected", func(t *testing.T) {
		server := startServer(t, sshdtest.Options{Password: true})
		config, err := server.PasswordPromptConfig()
		if err != nil {
			t.Fatal(err)
		}
		s := start(t, runOpts{mode: m, framing: client.Text, server: server},
			"--password-file", passwordFile(t, "not-"+string(server.Password), 0o600), "-F", config, sshdtest.Alias)
		res := s.do(listdir("."))
		wantKind(t, res, "auth_failed")
		if !strings.Contains(res.Message, "not accepted") {
			t.Errorf("message %q does not say the secret was not accepted", res.Message)
		}
		s.finish()
	})
}

func TestKindsHostKeyUnknown(t *testing.T) { eachMode(t, testKindsHostKeyUnknown) }

func testKindsHostKeyUnknown(t *testing.T, m mode) {
	config, _, err := srv.HostKeyPromptConfig()
	if err != nil {
		t.Fatal(err)
	}
	// Asked (a session refuses ssh's question on the pty; batch mode's ssh
	// never asks), and with strict checking (ssh refuses by itself).
	for _, strict := range []bool{false, true} {
		args := []string{"-F", config, sshdtest.Alias}
		if strict {
			args = append([]string{"-o", "StrictHostKeyChecking=yes"}, args...)
		}
		s := start(t, runOpts{mode: m, framing: client.Text}, args...)
		wantKind(t, s.do(listdir(".")), "host_key_unknown")
		s.finish()
	}
}

func TestKindsHostKeyChanged(t *testing.T) { eachMode(t, testKindsHostKeyChanged) }

func testKindsHostKeyChanged(t *testing.T, m mode) {
	config, _, _, err := srv.ChangedHostKeyConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, runOpts{mode: m, framing: client.Text}, "-F", config, sshdtest.Alias)
	wantKind(t, s.do(listdir(".")), "host_key_changed")
	s.finish()
}

func TestKindsConnectFailed(t *testing.T) { eachMode(t, testKindsConnectFailed) }

func testKindsConnectFailed(t *testing.T, m mode) {
	t.Run("refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		s := start(t, runOpts{mode: m, framing: client.Text}, bareArgs(port)...)
		wantKind(t, s.do(listdir(".")), "connect_failed")
		s.finish()
	})
	t.Run("name not found", func(t *testing.T) {
		// .invalid never resolves (RFC 6761).
		s := start(t, runOpts{mode: m, framing: client.Text},
			"-F", "/dev/null", "-o", "BatchMode=yes", "nobody@sftper-test.invalid")
		res := s.do(listdir("."))
		wantKind(t, res, "connect_failed")
		if !strings.Contains(res.Message, "sftper-test.invalid") {
			t.Errorf("message %q does not name the host", res.Message)
		}
		s.finish()
	})
	t.Run("no sftp subsystem", func(t *testing.T) {
		// ssh logs in, then the server has no sftp for it.
		server := startServer(t, sshdtest.Options{NoSFTP: true})
		s := start(t, runOpts{mode: m, framing: client.Text, server: server}, "-F", server.SSHConfig, sshdtest.Alias)
		wantKind(t, s.do(listdir(".")), "connect_failed")
		s.finish()
	})
}

func TestKindsTimeout(t *testing.T) { eachMode(t, testKindsTimeout) }

func testKindsTimeout(t *testing.T, m mode) {
	t.Run("connect", func(t *testing.T) {
		port := silentListener(t)
		s := start(t, runOpts{mode: m, framing: client.Text}, append([]string{"--connect-timeout", "2s"}, bareArgs(port)...)...)
		wantKind(t, s.doWithin(listdir("."), 20*time.Second), "timeout")
		s.p.CloseStdin()
		if _, err := s.p.Wait(20 * time.Second); err != nil {
			t.Error(err)
		}
	})
	t.Run("stall", func(t *testing.T) {
		server := startServer(t, sshdtest.Options{})
		s := start(t, runOpts{mode: m, framing: client.Text, server: server},
			"--stall-timeout", "2s", "--connect-timeout", "4s", "-F", server.SSHConfig, sshdtest.Alias)
		s.must("ok", listdir("."))
		thaw, err := server.FreezeConnections()
		if err != nil {
			t.Fatal(err)
		}
		// In batch mode the request may wait for a channel the frozen
		// server never opens: the connect timeout then; a timeout
		// either way.
		res := s.doWithin(listdir("."), 30*time.Second)
		thaw()
		wantKind(t, res, "timeout")
		s.finish()
	})
}

func TestKindsConnectionLost(t *testing.T) { eachMode(t, testKindsConnectionLost) }

func testKindsConnectionLost(t *testing.T, m mode) {
	server, s := putInFlight(t, m)
	if n, err := server.KillConnections(); err != nil || n == 0 {
		t.Fatalf("killed %d connections: %v", n, err)
	}
	wantKind(t, s.inFlightResult(t), "connection_lost")
	s.finish()
}

// putInFlight starts sftper on a server of its own with a 4 MiB PUT
// running, slowed to 2000 Kbit/s (about 16 s): time enough to cut it off
// in the middle. It returns once the upload's partial file (see
// partFile) has its first bytes.
func putInFlight(t *testing.T, m mode) (*sshdtest.Server, *sftper) {
	server := startServer(t, sshdtest.Options{})
	s := start(t, runOpts{mode: m, framing: client.Text, server: server},
		"--sftp-command", "sftp -l 2000", "-F", server.SSHConfig, sshdtest.Alias)
	s.must("ok", listdir("."))
	writeFile(t, nil, filepath.Join(s.dir, "big"), bytes.Repeat([]byte("z"), 4<<20))
	if err := s.p.Send([]byte(`{"command":"PUT","args":{"source":"big","dest":"big"}}`), reqTimeout); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, partFile(server.Home, "big"))
	return server, s
}

// inFlightResult reads the result of the request putInFlight started.
func (s *sftper) inFlightResult(t *testing.T) client.Result {
	t.Helper()
	b, err := s.p.Recv(reqTimeout)
	if err != nil {
		t.Fatalf("no result for the PUT in flight: %v", err)
	}
	res, err := client.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestKindsInterrupted: SIGTERM to sftper with a request in flight. The
// driver fails what it was running as interrupted (Conn.Kill; a wait that
// the signal's cancellation ended is interrupted too), which driver's
// TestKillInterrupts proves. The result written here is the request
// pipeline's: "interrupted: sftper is stopping", data.kind "interrupted",
// for a request that had not finished when the signal came.
func TestKindsInterrupted(t *testing.T) { eachMode(t, testKindsInterrupted) }

func testKindsInterrupted(t *testing.T, m mode) {
	_, s := putInFlight(t, m)
	if err := s.p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res := s.inFlightResult(t)
	if res.Status != "error" || !strings.Contains(res.Message, "interrupted") {
		t.Errorf("%s, want an error saying the request was interrupted", res.Raw)
	}
	if k := kindOf(t, res); k != "interrupted" {
		t.Errorf("%s: kind %q, want interrupted", res.Raw, k)
	}
	if code, err := s.p.Wait(20 * time.Second); err != nil || code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit %d (%v), want %d", code, err, 128+int(syscall.SIGTERM))
	}
}
