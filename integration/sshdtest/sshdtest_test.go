package sshdtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/go-cmp/cmp"
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
	return runSFTP(t, nil, commands, "-F", config, "-b", "-", Alias)
}

// runSFTP runs sftp with args, stdin and, if env is not nil, that
// environment, and returns its combined output and exit code.
func runSFTP(t *testing.T, env []string, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("sftp", args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
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

// term is a program running on a pty, its output collected by a goroutine
// (a read deadline on the pty is not relied upon).
type term struct {
	f    *os.File
	mu   sync.Mutex
	buf  []byte // output not yet consumed by readUntil
	err  error  // the read error that ended the output
	more chan struct{}
}

// onPty starts sftp on a pty the way a user would type it, so ssh can ask.
func onPty(t *testing.T, config string) *term {
	t.Helper()
	return ptySFTP(t, nil, "-F", config, Alias)
}

// ptySFTP starts sftp with args on a pty and, if env is not nil, that
// environment.
func ptySFTP(t *testing.T, env []string, args ...string) *term {
	t.Helper()
	cmd := exec.Command("sftp", args...)
	cmd.Env = env
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{f: f, more: make(chan struct{}, 1)}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			tm.mu.Lock()
			tm.buf = append(tm.buf, b[:n]...)
			tm.err = err
			tm.mu.Unlock()
			select {
			case tm.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		f.Close()
	})
	return tm
}

// readUntil waits up to 15 seconds for want in the output and returns the
// output up to and including it, which later calls do not see again.
func readUntil(t *testing.T, tm *term, want string) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		tm.mu.Lock()
		i := bytes.Index(tm.buf, []byte(want))
		got, err := string(tm.buf), tm.err
		if i >= 0 {
			got = string(tm.buf[:i+len(want)])
			tm.buf = tm.buf[i+len(want):]
		}
		tm.mu.Unlock()
		if i >= 0 {
			return got
		}
		if err != nil {
			t.Fatalf("waiting for %q: %v; read so far: %q", want, err, got)
		}
		select {
		case <-tm.more:
		case <-timeout:
			t.Fatalf("waiting for %q: timed out; read so far: %q", want, got)
		}
	}
}

// write types s on the terminal.
func (tm *term) write(t *testing.T, s string) {
	t.Helper()
	if _, err := tm.f.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
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

// startPassword starts a server with a real password, which only root can
// set: elsewhere the test skips, except in CI.
func startPassword(t *testing.T, opts Options) *Server {
	t.Helper()
	requireOpenSSH(t)
	s, err := Start(opts)
	if errors.Is(err, ErrNeedRoot) {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run as root: %v", err)
		}
		t.Skip(err)
	}
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

// askpass makes an SSH_ASKPASS helper that answers every question with
// answer and notes the questions, and returns the environment for ssh and
// a function that returns the questions asked so far. The answer is kept
// in a 0600 file in a 0700 directory; it is in no command line.
func askpass(t *testing.T, answer string) (env []string, prompts func() []string) {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "answer")
	asked := filepath.Join(dir, "prompts")
	script := filepath.Join(dir, "askpass")
	if err := os.WriteFile(secret, []byte(answer+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := "#!/bin/sh\nprintf '%s\\n' \"$1\" >> " + asked + "\nexec cat " + secret + "\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	env = append(environWithout("DISPLAY", "WAYLAND_DISPLAY", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE"),
		"SSH_ASKPASS="+script, "SSH_ASKPASS_REQUIRE=force")
	return env, func() []string {
		b, _ := os.ReadFile(asked)
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
}

// shadowPassword is the password field of name in /etc/shadow.
func shadowPassword(t *testing.T, name string) string {
	t.Helper()
	e, err := shadowEntry(name)
	if err != nil || e == nil {
		t.Fatalf("no /etc/shadow entry for %s (%v)", name, err)
	}
	return e[1]
}

// noSecretIn fails if secret appears in the server's log or in any file
// under its directory.
func noSecretIn(t *testing.T, s *Server, secret Secret) {
	t.Helper()
	if secret == "" {
		t.Fatal("empty secret")
	}
	filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret", p)
		}
		return nil
	})
}

func TestPasswordLogin(t *testing.T) {
	s := startPassword(t, Options{Password: true})
	if len(s.Password) < 20 {
		t.Fatalf("password of %d characters", len(s.Password))
	}
	if h := shadowPassword(t, s.User); !strings.HasPrefix(h, "$") {
		t.Fatalf("%s has no password hash in /etc/shadow", s.User)
	}
	config, err := s.PasswordPromptConfig()
	if err != nil {
		t.Fatal(err)
	}

	// BatchMode=no must come before -b, which sets it to yes.
	env, prompts := askpass(t, string(s.Password))
	out, code := runSFTP(t, env, "pwd\n", "-F", config, "-o", "BatchMode=no", "-b", "-", Alias)
	if code != 0 || !strings.Contains(out, "Remote working directory: "+s.Home) {
		t.Fatalf("password login: exit %d:\n%s", code, out)
	}
	if want := []string{s.User + "@127.0.0.1's password: "}; !cmp.Equal(prompts(), want) {
		t.Errorf("askpass was asked %q, want %q", prompts(), want)
	}
	if n := strings.Count(s.Log(), "Accepted password for "+s.User+" from 127.0.0.1"); n != 1 || s.Logins() != 1 {
		t.Errorf("%d 'Accepted password' lines, Logins() = %d; want 1, 1", n, s.Logins())
	}

	wrong, _ := askpass(t, "not-"+string(s.Password))
	out, code = runSFTP(t, wrong, "pwd\n", "-F", config, "-o", "BatchMode=no", "-b", "-", Alias)
	if code != 255 || !strings.Contains(out, "Permission denied, please try again.") {
		t.Errorf("wrong password: exit %d, want 255 and a retry message:\n%s", code, out)
	}
	if s.Logins() != 1 {
		t.Errorf("Logins() = %d after a failed login, want 1", s.Logins())
	}
	noSecretIn(t, s, s.Password)

	s.Cleanup()
	if h := shadowPassword(t, s.User); h != "*" {
		t.Errorf("after Cleanup %s's password field is not \"*\" again", s.User)
	}
}

func TestKbdInteractiveLogin(t *testing.T) {
	s := startPassword(t, Options{KbdInteractive: true})
	config, err := s.KbdInteractiveConfig()
	if err != nil {
		t.Fatal(err)
	}
	// Typed on the terminal, as a user would.
	tm := ptySFTP(t, nil, "-F", config, Alias)
	readUntil(t, tm, "("+s.User+"@127.0.0.1) Password: ")
	tm.write(t, string(s.Password)+"\n")
	readUntil(t, tm, "sftp> ")
	tm.write(t, "bye\n")
	if n := strings.Count(s.Log(), "Accepted keyboard-interactive/pam for "+s.User); n != 1 {
		t.Errorf("%d 'Accepted keyboard-interactive/pam' lines, want 1", n)
	}

	// Through askpass, as a wrapper without a terminal would.
	env, prompts := askpass(t, string(s.Password))
	out, code := runSFTP(t, env, "pwd\n", "-F", config, "-o", "BatchMode=no", "-b", "-", Alias)
	if code != 0 || !strings.Contains(out, s.Home) {
		t.Fatalf("keyboard-interactive login through askpass: exit %d:\n%s", code, out)
	}
	if want := []string{"(" + s.User + "@127.0.0.1) Password: "}; !cmp.Equal(prompts(), want) {
		t.Errorf("askpass was asked %q, want %q", prompts(), want)
	}

	// PAM's account and session checks also pass for a key login.
	if out, code := batch(t, s.SSHConfig, "pwd\n"); code != 0 {
		t.Fatalf("key login with UsePAM yes: exit %d:\n%s", code, out)
	}
	if s.Logins() != 3 {
		t.Errorf("Logins() = %d, want 3", s.Logins())
	}
	noSecretIn(t, s, s.Password)

	if _, err := s.PasswordPromptConfig(); err == nil {
		t.Error("PasswordPromptConfig on a keyboard-interactive-only server: no error")
	}
}

func TestPasswordAndKbdInteractive(t *testing.T) {
	s := startPassword(t, Options{Password: true, KbdInteractive: true})
	for _, get := range []func() (string, error){s.PasswordPromptConfig, s.KbdInteractiveConfig} {
		config, err := get()
		if err != nil {
			t.Fatal(err)
		}
		env, _ := askpass(t, string(s.Password))
		if out, code := runSFTP(t, env, "pwd\n", "-F", config, "-o", "BatchMode=no", "-b", "-", Alias); code != 0 {
			t.Fatalf("%s: exit %d:\n%s", config, code, out)
		}
	}
	// With UsePAM yes the password method is PAM's too, but sshd logs it
	// under its own name.
	log := s.Log()
	if !strings.Contains(log, "Accepted password for ") || !strings.Contains(log, "Accepted keyboard-interactive/pam for ") {
		t.Errorf("log lacks one of the two methods:\n%s", log)
	}
}

func TestPasswordServersAtOnce(t *testing.T) {
	// Each server has an account of its own, so neither changes the
	// other's password.
	a := startPassword(t, Options{Password: true})
	b := startPassword(t, Options{Password: true})
	if a.User == b.User || a.Password == b.Password {
		t.Fatalf("two servers share account %s or its password", a.User)
	}
	for _, s := range []*Server{a, b} {
		config, err := s.PasswordPromptConfig()
		if err != nil {
			t.Fatal(err)
		}
		env, _ := askpass(t, string(s.Password))
		if out, code := runSFTP(t, env, "pwd\n", "-F", config, "-o", "BatchMode=no", "-b", "-", Alias); code != 0 {
			t.Fatalf("login as %s: exit %d:\n%s", s.User, code, out)
		}
	}
}

func TestPasswordNeedsRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can set passwords")
	}
	requireOpenSSH(t)
	for _, opts := range []Options{{Password: true}, {KbdInteractive: true}} {
		s, err := Start(opts)
		if err == nil {
			s.Cleanup()
		}
		if !errors.Is(err, ErrNeedRoot) {
			t.Errorf("Start(%+v) as uid %d: %v, want ErrNeedRoot", opts, os.Geteuid(), err)
		}
	}
}

func TestSecretDoesNotPrint(t *testing.T) {
	const pw = "hunter2-not-really"
	s := &Server{Password: Secret(pw)}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%10.3s"} {
		for _, arg := range []any{s.Password, s, struct{ P Secret }{s.Password}} {
			if got := fmt.Sprintf(format, arg); strings.Contains(got, pw) || strings.Contains(got, fmt.Sprintf("%x", pw)) {
				t.Errorf("Sprintf(%q, %T) shows the secret: %s", format, arg, got)
			}
		}
	}
	if string(s.Password) != pw {
		t.Error("string(Secret) is not the secret")
	}
}

func TestPassphraseKeyConfig(t *testing.T) {
	s := start(t, Options{})
	config, key, passphrase, err := s.PassphraseKeyConfig()
	if err != nil {
		t.Fatal(err)
	}
	tm := ptySFTP(t, nil, "-F", config, Alias)
	readUntil(t, tm, "Enter passphrase for key '"+key+"': ")
	tm.write(t, string(passphrase)+"\n")
	readUntil(t, tm, "sftp> ")
	tm.write(t, "bye\n")
	if s.Logins() != 1 {
		t.Errorf("Logins() = %d, want 1", s.Logins())
	}

	// In batch mode ssh cannot ask, so the key is skipped.
	out, code := batch(t, config, "pwd\n")
	if code != 255 || !strings.Contains(out, "Permission denied (publickey)") {
		t.Errorf("batch mode: exit %d, want 255 and Permission denied:\n%s", code, out)
	}
	env, prompts := askpass(t, string(passphrase))
	out, code = runSFTP(t, env, "pwd\n", "-F", config, "-o", "BatchMode=no", "-b", "-", Alias)
	if code != 0 {
		t.Errorf("passphrase through askpass: exit %d:\n%s", code, out)
	}
	if want := []string{"Enter passphrase for key '" + key + "': "}; !cmp.Equal(prompts(), want) {
		t.Errorf("askpass was asked %q, want %q", prompts(), want)
	}
	noSecretIn(t, s, passphrase)
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %v, %v; want mode 0600", fi.Mode(), err)
	}
}

func TestChangedHostKeyConfig(t *testing.T) {
	s := start(t, Options{})
	config, kh, line, err := s.ChangedHostKeyConfig()
	if err != nil {
		t.Fatal(err)
	}
	out, code := batch(t, config, "pwd\n")
	for _, want := range []string{
		"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
		fmt.Sprintf("Offending ED25519 key in %s:%d\r\n", kh, line),
		fmt.Sprintf("Host key for [127.0.0.1]:%d has changed and you have requested strict checking.", s.Port),
		"Host key verification failed.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code != 255 || s.Logins() != 0 {
		t.Errorf("exit %d, %d logins; want 255, 0", code, s.Logins())
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

func TestProxyJump(t *testing.T) {
	a := start(t, Options{LogLevel: "DEBUG1"})
	b := start(t, Options{})
	for _, tc := range []struct {
		name   string
		config func(a, b *Server) (string, error)
	}{
		{"ProxyJump", ProxyJumpConfig},
		{"ProxyCommand", ProxyCommandConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config, err := tc.config(a, b)
			if err != nil {
				t.Fatal(err)
			}
			offA, offB := a.LogOffset(), b.LogOffset()
			out, code := runSFTP(t, nil, "pwd\n", "-F", config, "-b", "-", TargetAlias)
			if code != 0 || !strings.Contains(out, "Remote working directory: "+b.Home) {
				t.Fatalf("sftp %s: exit %d:\n%s\nA's log:\n%s", TargetAlias, code, out, a.Log())
			}
			if a.LoginsSince(offA) != 1 || b.LoginsSince(offB) != 1 {
				t.Errorf("logins on A %d, on B %d; want 1 each", a.LoginsSince(offA), b.LoginsSince(offB))
			}
			if !a.ForwardedTo(b.Port) {
				t.Errorf("A's log has no forwarding to B's port %d:\n%s", b.Port, a.Log())
			}
			if strings.Contains(a.Log(), "subsystem 'sftp'") {
				t.Error("A served sftp itself")
			}
		})
	}
	if a.ForwardedTo(a.Port) {
		t.Error("ForwardedTo(A's own port) is true")
	}

	// At VERBOSE nothing shows the forwarding.
	config, err := ProxyJumpConfig(b, a)
	if err != nil {
		t.Fatal(err)
	}
	if out, code := runSFTP(t, nil, "pwd\n", "-F", config, "-b", "-", TargetAlias); code != 0 {
		t.Fatalf("jump through B: exit %d:\n%s", code, out)
	}
	if b.ForwardedTo(a.Port) {
		t.Error("ForwardedTo is true at LogLevel VERBOSE; the doc says sshd 9.2 does not log it")
	}
}

func TestNoSFTP(t *testing.T) {
	s := start(t, Options{NoSFTP: true})
	out, code := batch(t, s.SSHConfig, "pwd\n")
	if code != 255 || !strings.Contains(out, "subsystem request failed on channel 0") {
		t.Fatalf("exit %d, want 255 and 'subsystem request failed':\n%s", code, out)
	}
	if s.Logins() != 1 {
		t.Errorf("Logins() = %d, want 1: the login itself works", s.Logins())
	}
}

func TestLoginsWithControlMaster(t *testing.T) {
	s := start(t, Options{})
	for range 2 {
		if out, code := batch(t, s.SSHConfig, "pwd\n"); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	}
	if s.Logins() != 2 {
		t.Fatalf("Logins() = %d after two connections, want 2", s.Logins())
	}

	// One master connection; every sftp after it is a new session on it.
	sock := filepath.Join(t.TempDir(), "cm")
	master := exec.Command("ssh", "-F", s.SSHConfig, "-o", "ControlMaster=yes", "-o", "ControlPath="+sock, "-N", Alias)
	if err := master.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		master.Process.Kill()
		master.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("ssh", "-F", s.SSHConfig, "-o", "ControlPath="+sock, "-O", "check", Alias).Run() != nil {
		if time.Now().After(deadline) {
			t.Fatal("control master not up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	off := s.LogOffset()
	for range 5 {
		out, code := runSFTP(t, nil, "pwd\n", "-F", s.SSHConfig, "-o", "ControlPath="+sock, "-b", "-", Alias)
		if code != 0 {
			t.Fatalf("sftp over the master: exit %d:\n%s", code, out)
		}
	}
	if n := s.LoginsSince(off); n != 0 {
		t.Errorf("%d logins for 5 sessions over the master, want 0", n)
	}
	if s.Logins() != 3 {
		t.Errorf("Logins() = %d, want 3 (two plain, one master)", s.Logins())
	}
	if n := strings.Count(s.Log(), "Starting session: subsystem 'sftp'"); n != 7 {
		t.Errorf("%d sftp sessions in the log, want 7", n)
	}
}

func TestKilledAfterLogin(t *testing.T) {
	s := start(t, Options{})
	// Interactive: ssh and sftp say so at once, but sftp stays at its
	// prompt until a command needs the server.
	tm := onPty(t, s.SSHConfig)
	readUntil(t, tm, "sftp> ")
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	got := readUntil(t, tm, "Connection closed.")
	if !strings.Contains(got, "Connection to 127.0.0.1 closed by remote host.") {
		t.Errorf("after Kill the terminal shows %q", got)
	}

	// Batch: the next command fails and sftp exits 255.
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	cmd, stdin, done := session(t, s)
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "ls\n")
	stdin.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("sftp still running after the server was killed")
	}
	if code := cmd.ProcessState.ExitCode(); code != 255 {
		t.Errorf("batch sftp exit %d (%v) after Kill, want 255", code, cmd.ProcessState)
	}
}

func TestCloser(t *testing.T) {
	s := start(t, Options{})
	c, err := StartCloser()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	config, err := s.PortConfig(c.Port)
	if err != nil {
		t.Fatal(err)
	}
	out, code := batch(t, config, "pwd\n")
	if code != 255 || !strings.Contains(out, "kex_exchange_identification: Connection closed by remote host") {
		t.Errorf("exit %d, want 255 and a closed connection:\n%s", code, out)
	}
	if c.Accepted() != 1 {
		t.Errorf("Accepted() = %d, want 1", c.Accepted())
	}
	c.Close()
	out, code = batch(t, config, "pwd\n")
	if want := fmt.Sprintf("port %d: Connection refused", c.Port); code != 255 || !strings.Contains(out, want) {
		t.Errorf("after Close: exit %d, want 255 and %q:\n%s", code, want, out)
	}
}

// TestProFTPD starts a ProFTPD mod_sftp server, logs in with sftp, checks
// that the login directory is Home and that an upload lands there as the
// login user, and that Cleanup leaves no process and no directory behind.
func TestProFTPD(t *testing.T) {
	requireOpenSSH(t)
	s, err := StartProFTPD(ProFTPDOptions{})
	if errors.Is(err, ErrNoProFTPD) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	cleaned := false
	t.Cleanup(func() {
		if !cleaned {
			t.Logf("proftpd log:\n%s", s.Log())
			s.Cleanup()
		}
	})
	local := filepath.Join(t.TempDir(), "up.txt")
	if err := os.WriteFile(local, []byte("proftpd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := batch(t, s.SSHConfig, "pwd\nput "+local+" up.txt\n")
	if code != 0 || !strings.Contains(out, "Remote working directory: "+s.Home) {
		t.Fatalf("sftp exit %d, output:\n%s", code, out)
	}
	fi, err := os.Stat(filepath.Join(s.Home, "up.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != s.UID || fi.Mode().Perm() != 0o644 {
		t.Errorf("uploaded file: uid %d mode %v, want uid %d mode 0644", st.Uid, fi.Mode().Perm(), s.UID)
	}
	if !strings.Contains(s.Log(), "mod_sftp") {
		t.Errorf("the log holds nothing from mod_sftp:\n%s", s.Log())
	}

	s.mu.Lock()
	pid := s.cmd.Process.Pid
	s.mu.Unlock()
	s.Cleanup()
	cleaned = true
	if Alive(pid) {
		t.Errorf("proftpd %d still running after Cleanup", pid)
	}
	if _, err := os.Stat(s.Dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Cleanup left %s: %v", s.Dir, err)
	}
}
