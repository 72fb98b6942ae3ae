package sshdtest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// requireOpenSSH skips when sshd or sftp is missing, except in CI.
func requireOpenSSH(t *testing.T) {
	t.Helper()
	_, errSSHD := findSSHD("")
	_, errSFTP := exec.LookPath("sftp")
	if err := errors.Join(errSSHD, errSFTP); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("OpenSSH missing in CI: %v", err)
		}
		t.Skipf("OpenSSH missing: %v", err)
	}
}

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	requireOpenSSH(t)
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.Log())
		}
		s.Cleanup()
	})
	return s
}

// batch runs `sftp -b -` with commands on stdin and returns its combined
// output and exit code.
func batch(t *testing.T, config, commands string) (string, int) {
	t.Helper()
	cmd := exec.Command("sftp", "-F", config, "-b", "-", Alias)
	cmd.Stdin = strings.NewReader(commands)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("sftp hung; output so far:\n%s", out.String())
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

func TestStartLoginHome(t *testing.T) {
	s := start(t, Options{})
	out, code := batch(t, s.SSHConfig, "pwd\nput "+s.SSHConfig+" uploaded\n")
	if code != 0 {
		fi, err := os.Stat(s.Home)
		t.Fatalf("sftp exit %d (home %v %+v, user %s uid %d):\n%s", code, err, fi.Sys(), s.User, s.UID, out)
	}
	if want := "Remote working directory: " + s.Home + "\n"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	fi, err := os.Stat(filepath.Join(s.Home, "uploaded"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != s.UID {
		t.Errorf("uploaded file owned by uid %d, want the login user's %d", uid, s.UID)
	}
	if os.Geteuid() == 0 && s.User != TestUser {
		t.Errorf("as root the login user is %q, want %q", s.User, TestUser)
	}
	if n := strings.Count(s.Log(), "Accepted publickey for "+s.User); n != 1 {
		t.Errorf("%d accepted logins in the log, want 1", n)
	}
}

func TestPermissionsAreReal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory the login user cannot write")
	}
	s := start(t, Options{})
	if err := os.Mkdir(filepath.Join(s.Home, "rootdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, code := batch(t, s.SSHConfig, "put "+s.SSHConfig+" rootdir/x\n")
	if code == 0 || !strings.Contains(out, "Permission denied") {
		t.Fatalf("put into a root-owned dir: exit %d, want a Permission denied failure:\n%s", code, out)
	}
}

// readUntil reads from a pty until want appears or the deadline passes.
func readUntil(t *testing.T, f *os.File, want string) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(15 * time.Second)
	for !bytes.Contains(got, []byte(want)) {
		f.SetReadDeadline(deadline)
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q: %v; read so far: %q", want, err, got)
		}
	}
	return string(got)
}

// onPty starts sftp on a pty the way a user would type it, so ssh can ask.
func onPty(t *testing.T, config string) *os.File {
	t.Helper()
	cmd := exec.Command("sftp", "-F", config, Alias)
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		f.Close()
	})
	return f
}

func TestHostKeyPromptConfig(t *testing.T) {
	s := start(t, Options{})
	config, kh, err := s.HostKeyPromptConfig()
	if err != nil {
		t.Fatal(err)
	}
	got := readUntil(t, onPty(t, config), "(yes/no/[fingerprint])? ")
	if !strings.Contains(got, "authenticity of host '[127.0.0.1]:") || !strings.Contains(got, "SHA256:") {
		t.Errorf("unexpected host key question: %q", got)
	}
	if b, err := os.ReadFile(kh); err != nil || len(b) != 0 {
		t.Errorf("known_hosts %s: %q, %v; want it empty", kh, b, err)
	}
}

func TestPasswordPromptConfig(t *testing.T) {
	s := start(t, Options{PasswordAuth: true})
	config, err := s.PasswordPromptConfig()
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, onPty(t, config), s.User+"@127.0.0.1's password: ")

	plain := start(t, Options{})
	if _, err := plain.PasswordPromptConfig(); err == nil {
		t.Error("PasswordPromptConfig on a server without PasswordAuth: no error")
	}
}

func TestUnauthorizedKeyConfig(t *testing.T) {
	s := start(t, Options{})
	config, err := s.UnauthorizedKeyConfig()
	if err != nil {
		t.Fatal(err)
	}
	out, code := batch(t, config, "pwd\n")
	if code != 255 || !strings.Contains(out, "Permission denied (publickey)") {
		t.Fatalf("exit %d, want 255 and Permission denied:\n%s", code, out)
	}
}

// session starts an interactive-less sftp that stays connected until its
// stdin closes, and waits until the server has accepted it.
func session(t *testing.T, s *Server) (*exec.Cmd, io.WriteCloser, <-chan struct{}) {
	t.Helper()
	before := strings.Count(s.Log(), "Accepted publickey")
	cmd := exec.Command("sftp", "-F", s.SSHConfig, "-b", "-", Alias)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(s.Log(), "Accepted publickey") == before {
		if time.Now().After(deadline) {
			t.Fatalf("sftp session not accepted; log:\n%s", s.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd, stdin, done
}

func listenerPid(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

func TestStopEndsSessions(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*Server) error
	}{
		{"Stop", (*Server).Stop},
		{"Kill", (*Server).Kill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Options{})
			_, _, done := session(t, s)
			pid := listenerPid(s)
			kids, err := Descendants(pid)
			if err != nil || len(kids) == 0 {
				t.Fatalf("listener %d has no session processes (%v, %v)", pid, kids, err)
			}
			if err := tc.stop(s); err != nil {
				t.Fatal(err)
			}
			for _, p := range append(kids, pid) {
				if Alive(p) {
					t.Errorf("sshd process %d still alive after %s", p, tc.name)
				}
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("sftp client still connected after the server stopped")
			}
			if s.Running() {
				t.Error("Running() after stop")
			}
			if err := tc.stop(s); err != nil {
				t.Errorf("second %s: %v", tc.name, err)
			}

			port := s.Port
			if err := s.Restart(); err != nil {
				t.Fatal(err)
			}
			if s.Port != port {
				t.Fatalf("restarted on port %d, want %d", s.Port, port)
			}
			out, code := batch(t, s.SSHConfig, "pwd\n")
			if code != 0 || !strings.Contains(out, s.Home) {
				t.Fatalf("after restart: exit %d:\n%s", code, out)
			}
		})
	}
}

func TestCleanupRemovesDir(t *testing.T) {
	requireOpenSSH(t)
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := listenerPid(s)
	s.Cleanup()
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("Dir still there after Cleanup: %v", err)
	}
	if Alive(pid) {
		t.Errorf("listener %d alive after Cleanup", pid)
	}
}

func TestUnsearchableParent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root's login user is a different account")
	}
	requireOpenSSH(t)
	_, err := Start(Options{Parent: t.TempDir()}) // 0700
	if err == nil || !strings.Contains(err.Error(), "not searchable") {
		t.Fatalf("Start under a 0700 parent: %v, want a 'not searchable' error", err)
	}
}

func TestReadStatOddName(t *testing.T) {
	// A process whose name contains ") (" must still parse.
	dir := t.TempDir()
	exe := filepath.Join(dir, "a) (b")
	if err := os.Symlink("/bin/sleep", exe); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	info, err := readStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if info.ppid != os.Getpid() {
		t.Errorf("ppid %d, want %d", info.ppid, os.Getpid())
	}
	kids, err := Descendants(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range kids {
		found = found || k == cmd.Process.Pid
	}
	if !found {
		t.Errorf("Descendants(self) = %v, lacks %d", kids, cmd.Process.Pid)
	}
}
