package sshdtest

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrNeedRoot is wrapped by the error Start returns for Options.Password
// and Options.KbdInteractive when not running as root: only root can set
// a password, and sshd checks one only as root.
var ErrNeedRoot = errors.New("only root can give the login account a password")

// Secret is a password or passphrase made for a test. Whatever the fmt
// verb, it prints as "[redacted]", so that logging a Server or an error
// does not reveal it; string(x) is the secret itself.
type Secret string

// String returns "[redacted]", not the secret.
func (Secret) String() string { return "[redacted]" }

// Format prints "[redacted]" for every verb, %#v and %x included.
func (Secret) Format(f fmt.State, verb rune) { io.WriteString(f, "[redacted]") }

// newSecret returns 24 random characters from [A-Za-z0-9_-], which survive
// chpasswd, ssh-keygen's prompt and a terminal in canonical mode alike.
func newSecret() (Secret, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return Secret(base64.RawURLEncoding.EncodeToString(b)), nil
}

// claimPasswordAccount checks that a password server can work here and
// reserves an account for it (see claimAccount). It sets s.release.
func (s *Server) claimPasswordAccount() (string, error) {
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("sshdtest: Options.Password and Options.KbdInteractive: %w (running as uid %d)", ErrNeedRoot, os.Geteuid())
	}
	if s.opts.KbdInteractive {
		// sshd's PAM service is named after its binary; Debian's is "sshd".
		if _, err := os.Stat("/etc/pam.d/sshd"); err != nil {
			return "", fmt.Errorf("sshdtest: Options.KbdInteractive needs the PAM service of openssh-server: %w", err)
		}
		// pam_nologin, in Debian's /etc/pam.d/sshd, refuses every
		// account but root while one of these exists (systemd creates
		// /run/nologin during boot and shutdown).
		for _, f := range []string{"/etc/nologin", "/run/nologin"} {
			if _, err := os.Stat(f); err == nil {
				return "", fmt.Errorf("sshdtest: Options.KbdInteractive: %s exists, so PAM refuses every login but root's", f)
			}
		}
	}
	name, unlock, err := claimAccount()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.release = func() {
		// Only accounts that got a password have one to take back;
		// resetting a "*" again is harmless.
		if accountExists(name) {
			resetPassword(name)
		}
		unlock()
	}
	s.mu.Unlock()
	return name, nil
}

// releaseAccount takes back the password of the server's account and lets
// other servers claim it. Calling it again does nothing.
func (s *Server) releaseAccount() {
	s.mu.Lock()
	release := s.release
	s.release = nil
	s.mu.Unlock()
	if release != nil {
		release()
	}
}

// noKeyConfig writes an ssh_config for Alias that trusts the host key,
// has no key and no agent, and authenticates with method only.
func (s *Server) noKeyConfig(method string) (string, error) {
	name := strings.ReplaceAll(method, "-", "")
	config := filepath.Join(s.Dir, fmt.Sprintf("ssh_config_%s_%d", name, s.seq.Add(1)))
	return config, s.writeClientConfig(config, []string{
		"PubkeyAuthentication no",
		"IdentityFile none",
		"IdentitiesOnly yes",
		"IdentityAgent none",
		"PasswordAuthentication " + yesNo(method == "password"),
		"KbdInteractiveAuthentication " + yesNo(method == "keyboard-interactive"),
		"PreferredAuthentications " + method,
		"UserKnownHostsFile " + s.KnownHosts,
		"StrictHostKeyChecking yes",
	})
}

// KbdInteractiveConfig writes an ssh_config for Alias that trusts the host
// key but offers no key and no agent and uses only "keyboard-interactive",
// so that against a server started with Options.KbdInteractive ssh shows
// PAM's prompt as "(USER@127.0.0.1) Password: ". A wrong answer is asked
// again after a pause (pam_unix's delay), with no message in between.
func (s *Server) KbdInteractiveConfig() (string, error) {
	if !s.opts.KbdInteractive {
		return "", errors.New("KbdInteractiveConfig needs a server started with Options.KbdInteractive")
	}
	return s.noKeyConfig("keyboard-interactive")
}

// PassphraseKeyConfig makes another client key, encrypted with a fresh
// random passphrase, authorises it on the server, and writes an ssh_config
// for Alias that logs in with that key only (IdentitiesOnly yes,
// IdentityAgent none, publickey only), so ssh asks
// "Enter passphrase for key 'KEYFILE': ". In batch mode ssh cannot ask and
// the login fails with "Permission denied (publickey)".
//
// The passphrase goes to ssh-keygen through a pipe, never through its
// arguments or a file.
func (s *Server) PassphraseKeyConfig() (config, keyFile string, passphrase Secret, err error) {
	n := s.seq.Add(1)
	keyFile = filepath.Join(s.Dir, fmt.Sprintf("id_passphrase_%d", n))
	if passphrase, err = newSecret(); err != nil {
		return "", "", "", err
	}
	if err := s.newEncryptedKey(keyFile, passphrase); err != nil {
		return "", "", "", err
	}
	if err := s.authorize(keyFile + ".pub"); err != nil {
		return "", "", "", err
	}
	config = filepath.Join(s.Dir, fmt.Sprintf("ssh_config_passphrase_%d", n))
	err = s.writeClientConfig(config, []string{
		"IdentityFile " + keyFile,
		"IdentitiesOnly yes",
		"IdentityAgent none",
		"AddKeysToAgent no",
		"PreferredAuthentications publickey",
		"UserKnownHostsFile " + s.KnownHosts,
		"StrictHostKeyChecking yes",
	})
	if err != nil {
		return "", "", "", err
	}
	return config, keyFile, passphrase, nil
}

// newEncryptedKey runs ssh-keygen without -N, so that it asks for the
// passphrase twice, and answers on its stdin. ssh-keygen reads a
// passphrase from /dev/tty when it can open one and from an askpass
// program when told to; it runs in a new session without a controlling
// terminal and with askpass forbidden, so stdin is what is left.
func (s *Server) newEncryptedKey(path string, passphrase Secret) error {
	cmd := exec.Command(s.keygen, "-q", "-t", "ed25519", "-C", "sshdtest-passphrase", "-f", path)
	cmd.Stdin = strings.NewReader(string(passphrase) + "\n" + string(passphrase) + "\n")
	cmd.Env = append(environWithout("DISPLAY", "WAYLAND_DISPLAY", "SSH_ASKPASS"), "SSH_ASKPASS_REQUIRE=never")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// The output holds the prompts, never the answers: nothing is echoed.
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ssh-keygen %s: %v: %s", path, err, out)
	}
	// Make sure the key did not end up unencrypted.
	if err := exec.Command(s.keygen, "-y", "-P", "", "-f", path).Run(); err == nil {
		return fmt.Errorf("ssh-keygen %s: the key opens without a passphrase", path)
	}
	return nil
}

// environWithout is os.Environ() without the named variables.
func environWithout(names ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// authorize appends a public key file to authorized_keys.
func (s *Server) authorize(pubFile string) error {
	pub, err := os.ReadFile(pubFile)
	if err != nil {
		return err
	}
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.Dir, "authorized_keys"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(pub); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ChangedHostKeyConfig writes an ssh_config for Alias whose known_hosts
// holds, for this server's "[127.0.0.1]:PORT", a host key the server does
// not have, on line 2 after a comment line. ssh then prints the
// "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!" block, naming the line
// as "Offending ED25519 key in KNOWNHOSTS:2", followed by "Host key for
// [127.0.0.1]:PORT has changed and you have requested strict checking." and
// "Host key verification failed.", and exits 255. It returns the config,
// the known_hosts path and the line number of the wrong key.
func (s *Server) ChangedHostKeyConfig() (config, knownHosts string, line int, err error) {
	n := s.seq.Add(1)
	other := filepath.Join(s.Dir, fmt.Sprintf("other_host_key_%d", n))
	if err := s.newKey(other); err != nil {
		return "", "", 0, err
	}
	pub, err := os.ReadFile(other + ".pub")
	if err != nil {
		return "", "", 0, err
	}
	os.Remove(other) // only the public half is needed
	f := strings.Fields(string(pub))
	if len(f) < 2 {
		return "", "", 0, fmt.Errorf("unexpected public key %q", pub)
	}
	knownHosts = filepath.Join(s.Dir, fmt.Sprintf("known_hosts_changed_%d", n))
	content := "# sshdtest: the next line is not this server's host key\n" +
		"[127.0.0.1]:" + strconv.Itoa(s.Port) + " " + f[0] + " " + f[1] + "\n"
	if err := os.WriteFile(knownHosts, []byte(content), 0o644); err != nil {
		return "", "", 0, err
	}
	config = filepath.Join(s.Dir, fmt.Sprintf("ssh_config_changed_%d", n))
	err = s.writeClientConfig(config, []string{
		"IdentityFile " + s.KeyFile,
		"IdentitiesOnly yes",
		"IdentityAgent none",
		"UserKnownHostsFile " + knownHosts,
		"StrictHostKeyChecking yes",
	})
	if err != nil {
		return "", "", 0, err
	}
	return config, knownHosts, 2, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
