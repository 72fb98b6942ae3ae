package driver

import (
	"bytes"
	"errors"
	"log"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sftper/sftper/proto"
)

// syncBuffer is a log that tests read while the owner writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeOwner returns an owner whose ssh is this test binary playing
// master (see fakeSSH), with settings for ssh -G to print.
func fakeOwner(t *testing.T, master, settings string, share bool) (*connOwner, *syncBuffer) {
	t.Helper()
	t.Setenv("FAKE_SSH", master)
	t.Setenv("FAKE_SSH_G", settings)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := &Config{
		Program: []string{exe, "-S", exe}, Destination: "fake", Share: share,
		ConnectTimeout: 10 * time.Second, Log: log.New(logs, "", 0),
	}
	o := newConnOwner(cfg)
	t.Cleanup(func() { o.Kill() })
	return o, logs
}

// The owner's decision: the user's own sharing is left alone, no sharing
// when it is off or the configuration cannot be read, a master of
// sftper's own otherwise, and none once ssh says it cannot offer one.
func TestOwnerDecidesHowChildrenConnect(t *testing.T) {
	for _, tc := range []struct {
		name, master, settings string
		share                  bool
		wantMaster             bool
		wantShare              sharing
		wantLog                string
	}{
		{"the user's ControlPath", "listen", "controlpath /home/u/.ssh/cm-%C\n", true, false, shareUsers,
			"using the connection sharing of your ssh configuration (ControlPath /home/u/.ssh/cm-%C)"},
		// "denied" would fail the Master call if a master were started.
		{"sharing off", "denied", "controlpath none\n", false, false, shareNone, ""},
		{"configuration unreadable", "denied", "fail", true, false, shareNone, "ssh -G could not read your configuration"},
		{"sftper's own master", "listen", "controlpath none\n", true, true, shareOurs, ""},
		{"ssh cannot offer the socket", "exists", "controlpath none\n", true, false, shareNone, "already exists, disabling multiplexing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, logs := fakeOwner(t, tc.master, tc.settings, tc.share)
			m, err := o.Master()
			if err != nil {
				t.Fatalf("Master: %v", err)
			}
			if (m != nil) != tc.wantMaster {
				t.Fatalf("master %v, want one: %v", m, tc.wantMaster)
			}
			if m != nil {
				if _, err := os.Stat(m.socket); err != nil {
					t.Errorf("the master is ready but its socket is not there: %v", err)
				}
				if !m.alive() {
					t.Errorf("the master is not running")
				}
			}
			o.mu.Lock()
			share := o.share
			o.mu.Unlock()
			if share != tc.wantShare {
				t.Errorf("sharing %d, want %d", share, tc.wantShare)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log %q does not contain %q", logs.String(), tc.wantLog)
			}
			if err := o.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// ssh's settings are read once and do not change.
func TestOwnerReadsTheSettingsOnce(t *testing.T) {
	o, _ := fakeOwner(t, "listen", "serveraliveinterval 0\nbatchmode yes\n", true)
	first := o.Settings()
	t.Setenv("FAKE_SSH_G", "serveraliveinterval 30\n")
	if again := o.Settings(); !again.NoKeepAlive() || !again.BatchMode() || !first.NoKeepAlive() {
		t.Errorf("the settings changed, or were read again: %v then %v", first, again)
	}
}

// The master is ready when ssh says its mux listener is set up, which ssh
// does only once the socket is in place: not when a file of that name
// first appears.
func TestOwnerWaitsForTheMuxListener(t *testing.T) {
	o, _ := fakeOwner(t, "listen", "controlpath none\n", true)
	t.Setenv("FAKE_SSH_LATE", "600ms")
	t0 := time.Now()
	m, err := o.Master()
	if err != nil || m == nil {
		t.Fatalf("Master: %v, %v", m, err)
	}
	if d := time.Since(t0); d < 600*time.Millisecond {
		t.Errorf("ready after %v, before ssh said it listens (600ms after the socket appeared)", d)
	}
}

// A master that cannot connect says why, with the kind.
func TestOwnerMasterKinds(t *testing.T) {
	for _, tc := range []struct {
		master string
		want   proto.Kind
		says   string
	}{
		{"denied", proto.KindAuthFailed, "Permission denied (publickey)"},
		{"unknownkey", proto.KindHostKeyUnknown, "SHA256:1ROtB79zLmHJ/WbS/CU13hV9Yt1U9Rw/17ETAc5k9Yo"},
		{"silent", proto.KindTimeout, "connect timed out after 500ms"},
	} {
		t.Run(tc.master, func(t *testing.T) {
			o, _ := fakeOwner(t, tc.master, "controlpath none\n", true)
			o.cfg.ConnectTimeout = 500 * time.Millisecond
			m, err := o.Master()
			var ce *ConnError
			if m != nil || !errors.As(err, &ce) {
				t.Fatalf("Master = %v, %v; want a *ConnError", m, err)
			}
			if ce.ErrorKind() != tc.want || !strings.Contains(ce.Msg, tc.says) {
				t.Errorf("%s %q; want %s saying %q", ce.ErrorKind(), ce.Msg, tc.want, tc.says)
			}
		})
	}
}

// Close ends the masters and removes the socket directory; a master that
// will not end on SIGTERM is killed, and Close says so. Kill does not
// wait; later Masters fail as interrupted.
func TestOwnerClose(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		o, _ := fakeOwner(t, "listen", "controlpath none\n", true)
		m, err := o.Master()
		if err != nil || m == nil {
			t.Fatalf("Master: %v, %v", m, err)
		}
		dir := o.dir
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if m.alive() {
			t.Error("the master outlived Close")
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the socket directory is still there: %v", err)
		}
		if _, err := o.Master(); proto.KindOf(err) != proto.KindInterrupted {
			t.Errorf("Master after Close: %v, want interrupted", err)
		}
	})
	t.Run("stubborn", func(t *testing.T) {
		o, _ := fakeOwner(t, "stubborn", "controlpath none\n", true)
		m, err := o.Master()
		if err != nil || m == nil {
			t.Fatalf("Master: %v, %v", m, err)
		}
		t0 := time.Now()
		err = o.Close()
		if err == nil || !strings.Contains(err.Error(), "was killed") {
			t.Errorf("Close: %v, want an error saying the master had to be killed", err)
		}
		if d := time.Since(t0); d < masterStopGrace || d > masterStopGrace+3*time.Second {
			t.Errorf("Close took %v, want about %v", d, masterStopGrace)
		}
		if m.alive() {
			t.Error("the master outlived Close")
		}
	})
	t.Run("deaf to the first SIGTERM", func(t *testing.T) {
		o, _ := fakeOwner(t, "deafonce", "controlpath none\n", true)
		m, err := o.Master()
		if err != nil || m == nil {
			t.Fatalf("Master: %v, %v", m, err)
		}
		t0 := time.Now()
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v; the second SIGTERM should have ended it", err)
		}
		if d := time.Since(t0); d < termAgain || d > masterStopGrace {
			t.Errorf("Close took %v, want between %v and %v", d, termAgain, masterStopGrace)
		}
	})
	t.Run("kill", func(t *testing.T) {
		o, _ := fakeOwner(t, "stubborn", "controlpath none\n", true)
		m, err := o.Master()
		if err != nil || m == nil {
			t.Fatalf("Master: %v, %v", m, err)
		}
		t0 := time.Now()
		o.Kill()
		select {
		case <-m.exited:
		case <-time.After(masterStopGrace):
			t.Fatal("Kill did not end the master at once")
		}
		if d := time.Since(t0); d > time.Second {
			t.Errorf("Kill took %v", d)
		}
	})
}
