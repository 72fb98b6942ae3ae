package integration

import (
	"bytes"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// Connecting as OpenSSH users do: secrets, host keys, jump hosts, failures
// and keep-alives, against real servers, in both modes.

// passwordFile writes secret to a file of mode perm and returns its path.
func passwordFile(t *testing.T, secret string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(secret+"\n"), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return p
}

// noLeak wants secret nowhere it must not be: sftper's stderr, any process's
// command line, the environment of any process but sftper itself (which
// may have been given it there), and any file under dirs.
func noLeak(t *testing.T, s *sftper, secret string, dirs ...string) {
	t.Helper()
	if strings.Contains(s.p.Stderr(), secret) {
		t.Error("the secret is in sftper's stderr")
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); bytes.Contains(cmd, []byte(secret)) {
			t.Errorf("the secret is in the command line of process %d: %q", pid, cmd)
		}
		if pid == s.p.Pid() {
			continue
		}
		if env, _ := os.ReadFile("/proc/" + e.Name() + "/environ"); bytes.Contains(env, []byte(secret)) {
			t.Errorf("the secret is in the environment of process %d (%s)", pid, cmdline(pid))
		}
	}
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil || !de.Type().IsRegular() {
				return nil
			}
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(secret)) && filepath.Base(p) != "secret" {
				t.Errorf("the secret is in the file %s", p)
			}
			return nil
		})
	}
}

// TestPasswordAuth: a real password, from --password-file or
// SFTPER_PASSWORD, given to ssh at its prompt (session) or through askpass
// (batch), never anywhere else.
func TestPasswordAuth(t *testing.T) { eachMode(t, testPasswordAuth) }

func testPasswordAuth(t *testing.T, m mode) {
	server := startServer(t, sshdtest.Options{Password: true})
	config, err := server.PasswordPromptConfig()
	if err != nil {
		t.Fatal(err)
	}
	password := string(server.Password)
	for _, from := range []string{"file", "env"} {
		t.Run(from, func(t *testing.T) {
			tmp := t.TempDir()
			o := runOpts{mode: m, framing: client.Text, server: server, env: []string{"TMPDIR=" + tmp}}
			args := []string{"-F", config, sshdtest.Alias}
			if from == "file" {
				args = append([]string{"--password-file", passwordFile(t, password, 0o600)}, args...)
			} else {
				o.env = append(o.env, "SFTPER_PASSWORD="+password)
			}
			s := start(t, o, args...)
			res := s.must("ok", listdir("."))
			checkListing(t, res, server.Home)
			src := filepath.Join(s.dir, "f")
			writeFile(t, nil, src, []byte("with a password"))
			s.must("ok", put(src, "f-"+from))
			noLeak(t, s, password, s.dir, tmp, server.Dir)
			s.finish()
			noLeak(t, s, password, s.dir, tmp)
		})
	}
}

// TestWrongPassword: a wrong secret is an "authentication failed" error at
// once, tried once per request, never in a loop.
func TestWrongPassword(t *testing.T) { eachMode(t, testWrongPassword) }

func testWrongPassword(t *testing.T, m mode) {
	for _, method := range []string{"password", "keyboard-interactive"} {
		t.Run(method, func(t *testing.T) {
			opts := sshdtest.Options{Password: true}
			if method == "keyboard-interactive" {
				opts = sshdtest.Options{KbdInteractive: true}
			}
			server := startServer(t, opts)
			config, err := server.PasswordPromptConfig()
			if method == "keyboard-interactive" {
				config, err = server.KbdInteractiveConfig()
			}
			if err != nil {
				t.Fatal(err)
			}
			wrong := "not-" + string(server.Password)
			s := start(t, runOpts{mode: m, framing: client.Text, server: server},
				"--password-file", passwordFile(t, wrong, 0o600), "-F", config, sshdtest.Alias)
			for i := range 2 { // the next request tries again, once
				res, took := timed(s, listdir("."))
				if res.Status != "error" || !strings.Contains(res.Message, "authentication failed") {
					t.Errorf("attempt %d: %s, want an authentication failed error", i, res.Raw)
				}
				if took > promptBound {
					t.Errorf("attempt %d took %v, want < %v", i, took, promptBound)
				}
			}
			noLeak(t, s, wrong)
			s.finish()
			if n := server.Logins(); n != 0 {
				t.Errorf("%d logins with a wrong password", n)
			}
		})
	}
}

// TestKbdInteractive: PAM's keyboard-interactive prompt gets the password.
func TestKbdInteractive(t *testing.T) { eachMode(t, testKbdInteractive) }

func testKbdInteractive(t *testing.T, m mode) {
	server := startServer(t, sshdtest.Options{KbdInteractive: true})
	config, err := server.KbdInteractiveConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, runOpts{mode: m, framing: client.Text, server: server, env: []string{"SFTPER_PASSWORD=" + string(server.Password)}},
		"-F", config, sshdtest.Alias)
	checkListing(t, s.must("ok", listdir(".")), server.Home)
	s.finish()
}

// TestPassphraseKey: the secret unlocks a key protected by a passphrase.
func TestPassphraseKey(t *testing.T) { eachMode(t, testPassphraseKey) }

func testPassphraseKey(t *testing.T, m mode) {
	server := startServer(t, sshdtest.Options{})
	config, _, passphrase, err := server.PassphraseKeyConfig()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("right", func(t *testing.T) {
		s := start(t, runOpts{mode: m, framing: client.Text, server: server},
			"--password-file", passwordFile(t, string(passphrase), 0o600), "-F", config, sshdtest.Alias)
		checkListing(t, s.must("ok", listdir(".")), server.Home)
		noLeak(t, s, string(passphrase), s.dir)
		s.finish()
	})
	t.Run("wrong", func(t *testing.T) {
		s := start(t, runOpts{mode: m, framing: client.Text, server: server},
			"--password-file", passwordFile(t, "wrong-"+string(passphrase), 0o600), "-F", config, sshdtest.Alias)
		res, took := timed(s, listdir("."))
		if res.Status != "error" || !strings.Contains(res.Message, "authentication failed") {
			t.Errorf("%s, want an authentication failed error", res.Raw)
		}
		if took > promptBound {
			t.Errorf("took %v", took)
		}
		s.finish()
	})
}

// TestPasswordFileMode: a password file others may read is refused before
// anything runs.
func TestPasswordFileMode(t *testing.T) {
	needSSH(t)
	for _, perm := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		code, _, stderr := runOnce(t, "--password-file", passwordFile(t, "s3cret-value", perm), "-F", srv.SSHConfig, sshdtest.Alias)
		if code != 2 || !strings.Contains(stderr, "others may read it") {
			t.Errorf("mode %04o: exit %d, stderr %q; want exit 2 and a refusal", perm, code, stderr)
		}
		if strings.Contains(stderr, "s3cret-value") {
			t.Errorf("mode %04o: the secret is in stderr", perm)
		}
	}
}

// TestChangedHostKey: a changed host key is an error naming the known_hosts
// line, and nothing is transferred.
func TestChangedHostKey(t *testing.T) { eachMode(t, testChangedHostKey) }

func testChangedHostKey(t *testing.T, m mode) {
	config, kh, line, err := srv.ChangedHostKeyConfig()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(kh)
	s := start(t, runOpts{mode: m, framing: client.Text}, "-F", config, sshdtest.Alias)
	src := filepath.Join(s.dir, "f")
	writeFile(t, nil, src, []byte("must not arrive"))
	name := "changed-key-" + string(m)
	res, took := timed(s, put(src, name))
	for _, want := range []string{"CHANGED", kh + ":" + strconv.Itoa(line), "SHA256:", "nothing was transferred"} {
		if res.Status != "error" || !strings.Contains(res.Message, want) {
			t.Errorf("%s: want an error containing %q", res.Raw, want)
		}
	}
	if took > promptBound {
		t.Errorf("took %v", took)
	}
	if exists(filepath.Join(srv.Home, name)) {
		t.Error("the file was uploaded despite the changed host key")
	}
	s.finish()
	if after, _ := os.ReadFile(kh); !bytes.Equal(before, after) {
		t.Errorf("known_hosts changed: %q", after)
	}
}

// TestJumpHosts: -J, ProxyJump and ProxyCommand reach a second server
// through the first, whose log shows the forwarding.
func TestJumpHosts(t *testing.T) { eachMode(t, testJumpHosts) }

func testJumpHosts(t *testing.T, m mode) {
	jump := startServer(t, sshdtest.Options{LogLevel: "DEBUG1"})
	target := startServer(t, sshdtest.Options{})
	for _, kind := range []string{"ProxyJump", "ProxyCommand", "-J"} {
		t.Run(kind, func(t *testing.T) {
			var config string
			var err error
			if kind == "ProxyCommand" {
				config, err = sshdtest.ProxyCommandConfig(jump, target)
			} else {
				config, err = sshdtest.ProxyJumpConfig(jump, target)
			}
			if err != nil {
				t.Fatal(err)
			}
			logins := target.Logins()
			args := []string{"-F", config, sshdtest.TargetAlias}
			if kind == "-J" {
				// The jump on the command line, the target without
				// its ProxyJump: -J wins over the configuration.
				args = []string{"-F", config, "-J", sshdtest.JumpAlias, sshdtest.TargetAlias}
			}
			s := start(t, runOpts{mode: m, framing: client.Text, server: target}, args...)
			checkListing(t, s.must("ok", listdir(".")), target.Home)
			s.finish()
			if target.Logins() <= logins {
				t.Error("the target logged no login")
			}
			if !jump.ForwardedTo(target.Port) {
				t.Errorf("the jump host's log shows no forwarding to port %d", target.Port)
			}
		})
	}
}

// TestConnectFailures: each way of failing to connect answers error with
// ssh's own reason, in bounded time, and the next request tries again.
func TestConnectFailures(t *testing.T) { eachMode(t, testConnectFailures) }

func testConnectFailures(t *testing.T, m mode) {
	noSFTP := startServer(t, sshdtest.Options{NoSFTP: true})
	closer := closingListener(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string // any of them
	}{
		{"unknown host name", []string{"-o", "StrictHostKeyChecking=yes", "nosuchhost.invalid"}, []string{"Could not resolve hostname"}},
		{"no sftp subsystem", []string{"-F", noSFTP.SSHConfig, sshdtest.Alias}, []string{"subsystem request failed"}},
		// The close may reach ssh as a FIN or, when it had sent its
		// banner already, as a reset.
		{"server closes the connection", bareArgs(closer), []string{"Connection closed by", "Connection reset by"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, runOpts{mode: m, framing: client.Text}, tc.args...)
			for i := range 2 {
				res, took := timed(s, listdir("."))
				if res.Status != "error" || !containsAny(res.Message, tc.want) {
					t.Errorf("attempt %d: %s, want an error with %q", i, res.Raw, tc.want)
				}
				if took > promptBound {
					t.Errorf("attempt %d took %v", i, took)
				}
			}
			s.finish()
		})
	}
}

// closingListener accepts TCP connections and closes them at once: a
// server that hangs up.
func closingListener(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// TestKeepAlives: with no ServerAliveInterval in the user's configuration,
// the ssh that holds the connection probes the server every 15 s; with one,
// the user's stands.
func TestKeepAlives(t *testing.T) { eachMode(t, testKeepAlives) }

func testKeepAlives(t *testing.T, m mode) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  bool
	}{
		{"config sets none", nil, true},
		{"user sets one", []string{"-o", "ServerAliveInterval=7"}, false},
		{"user turns them off", []string{"-o", "ServerAliveInterval=0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, runOpts{mode: m, framing: client.Text}, append(tc.extra, defaultArgs()...)...)
			s.must("ok", listdir("."))
			found := false
			for pid, name := range children(t, s.p.Pid()) {
				if name == "ssh" && strings.Contains(cmdline(pid), "ServerAliveInterval=15") {
					found = true
				}
			}
			if found != tc.want {
				t.Errorf("an ssh with ServerAliveInterval=15 among sftper's children: %v, want %v", found, tc.want)
			}
			s.finish()
		})
	}
}

// TestPortsAndUsers: the port and user from the URL, -P and the
// configuration combine as OpenSSH combines them.
func TestPortsAndUsers(t *testing.T) { eachMode(t, testPortsAndUsers) }

func testPortsAndUsers(t *testing.T, m mode) {
	good := strconv.Itoa(srv.Port)
	bad := strconv.Itoa(closingListener(t))
	// The same configuration with the wrong port for the host.
	b, err := os.ReadFile(srv.SSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	badConfig := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(badConfig, bytes.Replace(b, []byte("Port "+good), []byte("Port "+bad), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"config port and user", []string{"-F", srv.SSHConfig, sshdtest.Alias}},
		{"-P beats the config", []string{"-F", badConfig, "-P", good, sshdtest.Alias}},
		{"URL port beats the config", []string{"-F", badConfig, "sftp://" + sshdtest.Alias + ":" + good}},
		{"-o Port beats -P", []string{"-F", badConfig, "-o", "Port=" + good, "-P", bad, sshdtest.Alias}},
		{"URL user", []string{"-F", srv.SSHConfig, "sftp://" + srv.User + "@" + sshdtest.Alias}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, runOpts{mode: m, framing: client.Text}, tc.args...)
			s.must("ok", listdir("."))
			s.finish()
		})
	}
}

// TestAgent: a key held by ssh-agent (SSH_AUTH_SOCK) just works, as it
// does for sftp.
func TestAgent(t *testing.T) { eachMode(t, testAgent) }

func testAgent(t *testing.T, m mode) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for deadline := time.Now().Add(5 * time.Second); !exists(sock); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent did not start")
		}
	}
	add := exec.Command("ssh-add", srv.KeyFile)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	// The server's configuration without its key file: only the agent
	// holds the key.
	b, err := os.ReadFile(srv.SSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, ln := range strings.Split(string(b), "\n") {
		if f := strings.Fields(ln); len(f) > 0 && (f[0] == "IdentityFile" || f[0] == "IdentitiesOnly" || f[0] == "IdentityAgent") {
			continue
		}
		lines = append(lines, ln)
	}
	config := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(config, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir() // no ~/.ssh keys of the user running the tests
	s := start(t, runOpts{mode: m, framing: client.Text, env: []string{"SSH_AUTH_SOCK=" + sock, "HOME=" + home}},
		"-F", config, "-o", "IdentitiesOnly=no", sshdtest.Alias)
	checkListing(t, s.must("ok", listdir(".")), srv.Home)
	s.finish()
}
