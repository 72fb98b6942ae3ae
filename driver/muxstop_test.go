package driver

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/integration/sshdtest"
)

// What stopMaster sends, byte for byte: a hello (version 4, no
// extensions), then MUX_C_TERMINATE with request id 1.
const (
	wireClientHello = "\x00\x00\x00\x08" + "\x00\x00\x00\x01" + "\x00\x00\x00\x04"
	wireTerminate   = "\x00\x00\x00\x08" + "\x10\x00\x00\x05" + "\x00\x00\x00\x01"
)

// A master's hello as OpenSSH 9 sends it: version 4, extension "info" = "0".
const wireMasterHello = "\x00\x00\x00\x15" + "\x00\x00\x00\x01" + "\x00\x00\x00\x04" +
	"\x00\x00\x00\x04info" + "\x00\x00\x00\x010"

// fakeMaster is a master's side scripted in wire bytes: for each entry
// of script it reads one packet of the client's (all are 12 bytes long)
// and writes the entry. After the script it waits for the client to
// close, or with hangUp closes the connection itself.
type fakeMaster struct {
	script []string
	hangUp bool
}

// startFakeMaster listens on a socket in a new directory and serves one
// connection as m says. The channel gets every byte the client sent.
func startFakeMaster(t *testing.T, m fakeMaster) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cm1")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	sent := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		// Never hang the test: every client closes well before this.
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var got bytes.Buffer
		for _, w := range m.script {
			if k, _ := io.CopyN(&got, c, int64(len(wireClientHello))); k < int64(len(wireClientHello)) {
				break
			}
			io.WriteString(c, w)
		}
		if !m.hangUp {
			io.Copy(&got, c)
		}
		sent <- got.String()
	}()
	return path, sent
}

func TestStopMasterFake(t *testing.T) {
	const (
		okReply  = "\x00\x00\x00\x08" + "\x80\x00\x00\x01" + "\x00\x00\x00\x01"
		bigValue = muxPacketMax - 4 - 4 - (4 + 1) - 4 // makes the hello below exactly muxPacketMax long
	)
	isProtocol := func(substr string) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			var pe *muxProtocolError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), substr) {
				t.Errorf("got %v, want a *muxProtocolError saying %q", err, substr)
			}
		}
	}
	isRefused := func(denied bool, reason string) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			var re *muxRefusedError
			if !errors.As(err, &re) || re.denied != denied || re.reason != reason {
				t.Errorf("got %v, want a *muxRefusedError{denied: %v, reason: %q}", err, denied, reason)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		master fakeMaster
		sent   string // what the client must have sent
		check  func(*testing.T, error)
	}{
		{
			name:   "ok",
			master: fakeMaster{script: []string{wireMasterHello, okReply}},
			sent:   wireClientHello + wireTerminate,
		},
		{
			name:   "hello without extensions",
			master: fakeMaster{script: []string{"\x00\x00\x00\x08" + "\x00\x00\x00\x01" + "\x00\x00\x00\x04", okReply}},
			sent:   wireClientHello + wireTerminate,
		},
		{
			name: "hello of exactly the maximum",
			master: fakeMaster{script: []string{
				"\x00\x04\x00\x00" + "\x00\x00\x00\x01" + "\x00\x00\x00\x04" +
					"\x00\x00\x00\x01x" + "\x00\x03\xff\xef" + strings.Repeat("v", bigValue),
				okReply,
			}},
			sent: wireClientHello + wireTerminate,
		},
		{
			name:   "closed after the request, as OpenSSH 9.2's master does",
			master: fakeMaster{script: []string{wireMasterHello, ""}, hangUp: true},
			sent:   wireClientHello + wireTerminate,
		},
		{
			name: "permission denied",
			master: fakeMaster{script: []string{wireMasterHello,
				"\x00\x00\x00\x1d" + "\x80\x00\x00\x02" + "\x00\x00\x00\x01" + "\x00\x00\x00\x11Permission denied"}},
			sent:  wireClientHello + wireTerminate,
			check: isRefused(true, "Permission denied"),
		},
		{
			name: "failure",
			master: fakeMaster{script: []string{wireMasterHello,
				"\x00\x00\x00\x1f" + "\x80\x00\x00\x03" + "\x00\x00\x00\x01" + "\x00\x00\x00\x13unsupported request"}},
			sent:  wireClientHello + wireTerminate,
			check: isRefused(false, "unsupported request"),
		},
		{
			name: "denied without a reason",
			master: fakeMaster{script: []string{wireMasterHello,
				"\x00\x00\x00\x0a" + "\x80\x00\x00\x02" + "\x00\x00\x00\x01" + "\x00\x00"}},
			sent:  wireClientHello + wireTerminate,
			check: isProtocol("without a reason"),
		},
		{
			name:   "wrong hello version",
			master: fakeMaster{script: []string{"\x00\x00\x00\x08" + "\x00\x00\x00\x01" + "\x00\x00\x00\x05", okReply}},
			sent:   wireClientHello, // no request to a master it does not understand
			check:  isProtocol("version 5 (want 4)"),
		},
		{
			name:   "no hello",
			master: fakeMaster{script: []string{okReply, okReply}},
			sent:   wireClientHello,
			check:  isProtocol("message 0x80000001 where the master's hello belongs"),
		},
		{
			name:   "hello without a version",
			master: fakeMaster{script: []string{"\x00\x00\x00\x04" + "\x00\x00\x00\x01", okReply}},
			sent:   wireClientHello,
			check:  isProtocol("without a version"),
		},
		{
			name: "malformed extension",
			master: fakeMaster{script: []string{
				"\x00\x00\x00\x0f" + "\x00\x00\x00\x01" + "\x00\x00\x00\x04" + "\x00\x00\x00\x04inf", okReply}},
			sent:  wireClientHello,
			check: isProtocol("malformed extension"),
		},
		{
			name:   "closed before the hello",
			master: fakeMaster{script: []string{""}, hangUp: true},
			sent:   wireClientHello,
			check:  isProtocol("closed the connection before its hello"),
		},
		{
			name:   "wrong request id",
			master: fakeMaster{script: []string{wireMasterHello, "\x00\x00\x00\x08" + "\x80\x00\x00\x01" + "\x00\x00\x00\x02"}},
			sent:   wireClientHello + wireTerminate,
			check:  isProtocol("to request 2, not ours (1)"),
		},
		{
			name:   "reply without a request id",
			master: fakeMaster{script: []string{wireMasterHello, "\x00\x00\x00\x04" + "\x80\x00\x00\x01"}},
			sent:   wireClientHello + wireTerminate,
			check:  isProtocol("without a request id"),
		},
		{
			name:   "unexpected reply",
			master: fakeMaster{script: []string{wireMasterHello, "\x00\x00\x00\x08" + "\x80\x00\x00\x05" + "\x00\x00\x00\x01"}},
			sent:   wireClientHello + wireTerminate,
			check:  isProtocol("reply 0x80000005 to terminate"),
		},
		{
			// Only the length arrives, and the connection stays
			// open: the client must not wait for (or allocate) the
			// rest.
			name:   "oversized hello",
			master: fakeMaster{script: []string{"\x00\x04\x00\x01"}},
			sent:   wireClientHello,
			check:  isProtocol("a packet of 262145 bytes"),
		},
		{
			name:   "oversized reply",
			master: fakeMaster{script: []string{wireMasterHello, "\xff\xff\xff\xff"}},
			sent:   wireClientHello + wireTerminate,
			check:  isProtocol("a packet of 4294967295 bytes"),
		},
		{
			name:   "empty packet",
			master: fakeMaster{script: []string{"\x00\x00\x00\x00"}},
			sent:   wireClientHello,
			check:  isProtocol("a packet of 0 bytes"),
		},
		{
			name:   "reply cut short",
			master: fakeMaster{script: []string{wireMasterHello, "\x00\x00\x00\x08" + "\x80\x00"}, hangUp: true},
			sent:   wireClientHello + wireTerminate,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("got %v, want io.ErrUnexpectedEOF", err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.check == nil {
				tc.check = func(t *testing.T, err error) {
					if err != nil {
						t.Errorf("got %v, want nil", err)
					}
				}
			}
			// Every case ends without waiting: long before this.
			const timeout = 5 * time.Second
			path, sent := startFakeMaster(t, tc.master)
			start := time.Now()
			err := stopMaster(path, timeout)
			if d := time.Since(start); d > timeout/2 {
				t.Errorf("stopMaster took %v", d)
			}
			tc.check(t, err)
			if errors.Is(err, errNoMaster) {
				t.Errorf("%v wraps errNoMaster", err)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("%v does not name %s", err, path)
			}
			if diff := cmp.Diff(tc.sent, <-sent); diff != "" {
				t.Errorf("the client sent (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStopMasterTimeout(t *testing.T) {
	// A master that reads the request and never answers.
	for name, m := range map[string]fakeMaster{
		"no hello": {script: []string{""}},
		"no reply": {script: []string{wireMasterHello, ""}},
	} {
		t.Run(name, func(t *testing.T) {
			path, sent := startFakeMaster(t, m)
			const timeout = 300 * time.Millisecond
			start := time.Now()
			err := stopMaster(path, timeout)
			d := time.Since(start)
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("got %v, want os.ErrDeadlineExceeded", err)
			}
			if d < timeout || d > timeout+2*time.Second {
				t.Errorf("stopMaster returned after %v, want just after %v", d, timeout)
			}
			<-sent // the connection was closed
		})
	}
}

func TestStopMasterNoMaster(t *testing.T) {
	dir := t.TempDir()
	// A socket file whose listener is gone, as a killed master leaves it.
	dead := filepath.Join(dir, "cm2")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: dead, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if fi, err := os.Lstat(dead); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("%s: %v, %v; want a socket", dead, fi, err)
	}
	for path, errno := range map[string]error{
		filepath.Join(dir, "cm1"): syscall.ENOENT,
		dead:                      syscall.ECONNREFUSED,
	} {
		err := stopMaster(path, time.Second)
		if !errors.Is(err, errNoMaster) || !errors.Is(err, errno) {
			t.Errorf("stopMaster(%s) = %v, want errNoMaster and %v", path, err, errno)
		}
	}
	// A failure of another kind is not errNoMaster.
	long := filepath.Join(dir, strings.Repeat("x", 200))
	if err := stopMaster(long, time.Second); err == nil || errors.Is(err, errNoMaster) {
		t.Errorf("stopMaster(a path too long for a socket) = %v, want an error other than errNoMaster", err)
	}
}

// realMaster is `ssh -N` running as a ControlMaster.
type realMaster struct {
	exited chan struct{} // closed once Wait has returned
	err    error         // Wait's, once exited is closed
	stderr bytes.Buffer
}

// startRealMaster starts `ssh -N` as a ControlMaster of srv on socket, with
// extra environment and options, and waits until `ssh -O check` finds it.
// It is killed, if still running, when the test ends.
func startRealMaster(t *testing.T, srv *sshdtest.Server, socket string, env []string, opts ...string) *realMaster {
	t.Helper()
	args := []string{"-F", srv.SSHConfig, "-o", "ControlPath=" + socket, "-o", "ControlPersist=no"}
	args = append(args, opts...)
	cmd := exec.Command("ssh", append(args, "-N", "-T", sshdtest.Alias)...)
	cmd.Env = append(os.Environ(), env...)
	m := &realMaster{exited: make(chan struct{})}
	cmd.Stderr = &m.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		m.err = cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-m.exited
		if t.Failed() {
			t.Logf("the master's stderr:\n%s", m.stderr.String())
		}
	})
	// Its socket is the only sign that the master is ready: ask there.
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-m.exited:
			t.Fatalf("the master exited before it listened: %v", m.err)
		default:
		}
		check := exec.Command("ssh", "-F", srv.SSHConfig, "-o", "ControlPath="+socket, "-O", "check", sshdtest.Alias)
		out, err := check.CombinedOutput()
		if err == nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh -O check, 20s after the master started: %v\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStopMasterRealSSH stops a real OpenSSH master.
func TestStopMasterRealSSH(t *testing.T) {
	srv := startSSHD(t)

	t.Run("exit", func(t *testing.T) {
		socket := filepath.Join(t.TempDir(), "cm1")
		m := startRealMaster(t, srv, socket, nil, "-o", "ControlMaster=yes")
		if _, err := os.Lstat(socket); err != nil {
			t.Fatal(err)
		}
		if err := stopMaster(socket, 5*time.Second); err != nil {
			t.Fatalf("stopMaster: %v", err)
		}
		// Once it agreed, the master only closes its connection and
		// removes its socket.
		const exitWithin = 5 * time.Second
		select {
		case <-m.exited:
			t.Logf("the master exited: %v", m.err)
		case <-time.After(exitWithin):
			t.Fatalf("the master still runs %v after it agreed to exit", exitWithin)
		}
		if _, err := os.Lstat(socket); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the master's socket after its exit: %v, want it gone", err)
		}
		if err := stopMaster(socket, time.Second); !errors.Is(err, errNoMaster) {
			t.Errorf("stopMaster once the master is gone = %v, want errNoMaster", err)
		}
	})

	t.Run("denied", func(t *testing.T) {
		// ControlMaster=ask asks through askpass before it exits; an
		// askpass that fails is a no.
		socket := filepath.Join(t.TempDir(), "cm1")
		m := startRealMaster(t, srv, socket,
			[]string{"SSH_ASKPASS=/bin/false", "SSH_ASKPASS_REQUIRE=force"}, "-o", "ControlMaster=ask")
		err := stopMaster(socket, 5*time.Second)
		var re *muxRefusedError
		if !errors.As(err, &re) || !re.denied || re.reason != "Permission denied" {
			t.Fatalf("stopMaster = %v, want MUX_S_PERMISSION_DENIED \"Permission denied\"", err)
		}
		// Still there, and still answering.
		check := exec.Command("ssh", "-F", srv.SSHConfig, "-o", "ControlPath="+socket, "-O", "check", sshdtest.Alias)
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("ssh -O check after the refusal: %v\n%s", err, out)
		}
		select {
		case <-m.exited:
			t.Errorf("the master exited (%v) though it refused", m.err)
		default:
		}
	})
}

// startSSHD starts a throwaway sshd for the test. Without OpenSSH the
// test is skipped, and fails in CI.
func startSSHD(t *testing.T) *sshdtest.Server {
	t.Helper()
	_, errSSH := exec.LookPath("ssh")
	if errSSH == nil {
		if _, err := exec.LookPath("sshd"); err != nil {
			_, errSSH = os.Stat("/usr/sbin/sshd")
		}
	}
	if errSSH != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("OpenSSH missing, and CI is set: %v", errSSH)
		}
		t.Skipf("OpenSSH missing: %v", errSSH)
	}
	srv, err := sshdtest.Start(sshdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd log:\n%s", srv.Log())
		}
		srv.Cleanup()
	})
	return srv
}
