// Package sshdtest runs a throwaway OpenSSH sshd on 127.0.0.1 for
// integration tests and demos.
//
// Start renders an sshd_config, a host key, a client key, authorized_keys,
// known_hosts and an ssh_config into a fresh temporary directory, starts
// the system sshd on a free loopback port and waits until it answers. The
// client side needs nothing but the ssh_config: `sftp -F s.SSHConfig
// sftper-test` logs in without reading ~/.ssh or /etc/ssh.
//
// As root the login account is the unprivileged TestUser (created on first
// use), so permission checks on the server are real. As any other user
// that user logs in to an sshd running with its own privileges; its
// account must not be locked ("!" or, on some systems, "*" in the password
// field, as for "nobody"), since sshd runs with UsePAM no.
//
// Options.Password and Options.KbdInteractive give the login account a
// real random password (root only). Other fixtures: a key with a
// passphrase (PassphraseKeyConfig), a known_hosts with a wrong key
// (ChangedHostKeyConfig), two servers chained with ProxyJump or
// ProxyCommand (ProxyJumpConfig, ProxyCommandConfig), a server without
// the sftp subsystem (Options.NoSFTP), a port that closes every
// connection (Closer), and counters over the log (Logins, ForwardedTo).
// A server that dies under a logged-in client is Kill or Stop. StartProFTPD
// runs ProFTPD's mod_sftp instead of sshd, set up the same way.
//
// Accounts created here (TestUser, and TestUser2, TestUser3... when
// several password servers run at once) are kept, as useradd made them,
// for the next run; a password given to one is replaced by "*" again when
// its server is cleaned up.
//
// The package does not install OpenSSH, does not touch the system sshd or
// its configuration, and never needs a testing.T: every failure is an
// error, so a demo program can use it too.
package sshdtest

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Alias is the Host name in Server.SSHConfig.
const Alias = "sftper-test"

// Options change how Start sets the server up. The zero value is a
// public-key-only server.
type Options struct {
	// PasswordAuth makes sshd offer the "password" method. Nobody can log
	// in with it (the account has no password, or one that only another
	// running server knows); it exists so that ssh asks for one, see
	// PasswordPromptConfig.
	PasswordAuth bool

	// Password makes sshd offer the "password" method (checked by sshd
	// against /etc/shadow, UsePAM no) and gives the login account a fresh
	// random password, Server.Password, set with chpasswd. Needs root:
	// otherwise Start returns an error wrapping ErrNeedRoot. See
	// PasswordPromptConfig.
	//
	// Each running password server has an account of its own: TestUser,
	// or TestUser2, TestUser3... (up to 16) while other servers, in this
	// process or another, hold the first ones; Server.User says which.
	// Cleanup sets the password back to "*".
	Password bool

	// KbdInteractive makes sshd offer "keyboard-interactive" through PAM
	// (UsePAM yes, PAM service "sshd", so /etc/pam.d/sshd) and gives the
	// login account a random password as Password does; PAM's pam_unix
	// asks for it with "Password: ". With Password as well, both methods
	// are offered, and "password" goes through PAM too. Needs root. See
	// KbdInteractiveConfig.
	KbdInteractive bool

	// NoSFTP leaves the sftp subsystem out of sshd_config: logins work,
	// and sftp then fails with "subsystem request failed on channel 0".
	NoSFTP bool

	// LogLevel is sshd's LogLevel (default VERBOSE, which logs every
	// accepted login). ForwardedTo needs DEBUG1 or a DEBUG level: sshd
	// 9.2 logs forwarded (direct-tcpip) connections at DEBUG1 only.
	LogLevel string

	// Parent is where the temporary directory is created (default
	// os.TempDir()). It and all its ancestors must be searchable by the
	// login user.
	Parent string

	// SSHD is the sshd binary (default: "sshd" from PATH, else
	// /usr/sbin/sshd).
	SSHD string

	// ReadyTimeout bounds the wait for sshd to accept connections
	// (default 10s).
	ReadyTimeout time.Duration

	// ExtraConfig lines are appended to sshd_config (sshd keeps the first
	// value of most keywords: one the config sets already is not changed
	// this way).
	ExtraConfig []string

	// MaxSessions is sshd's limit on sessions (channels) per connection;
	// 0 means 20, more than the suite opens.
	MaxSessions int

	// SFTPServer, if set, is the sftp subsystem's program instead of
	// OpenSSH's internal-sftp: Gesftpserver, say. Sessions then start
	// in the login account's home directory, not Home (such a server
	// has no -d): use absolute paths.
	SFTPServer string
}

// Gesftpserver is where Debian's gesftpserver (package gesftpserver)
// lives: an SFTP server nobody here wrote, run as sshd's subsystem.
const Gesftpserver = "/usr/libexec/gesftpserver"

// Server is one running (or stopped) sshd and the files around it.
type Server struct {
	Port int
	User string
	UID  int
	GID  int

	// Password is the login account's password when the server was
	// started with Options.Password or Options.KbdInteractive, else "".
	// It prints as "[redacted]"; string(s.Password) is the password.
	Password Secret

	Dir        string // temporary root (0755) holding everything below
	Home       string // sftp login directory, owned by User, 0755
	SSHConfig  string // ssh_config with Host Alias pointing at this server
	SSHDConfig string // the rendered sshd_config
	KeyFile    string // client private key, listed in authorized_keys
	KnownHosts string // known_hosts holding this server's host key
	LogFile    string // sshd's stderr, appended to across restarts

	// Only for a ProFTPD server (StartProFTPD): its configuration, and
	// its trace when asked for one. LogFile holds proftpd's stderr, its
	// SystemLog and its SFTPLog.
	ProFTPDConfig string
	TraceLog      string

	opts    Options
	sshd    string
	proftpd *proftpdSetup // set when the server is ProFTPD's mod_sftp (StartProFTPD)
	keygen  string
	hostPub string // "ssh-ed25519 AAAA..." without comment

	mu      sync.Mutex
	cmd     *exec.Cmd     // the listener, nil when stopped
	done    chan struct{} // closed when cmd has been waited for
	log     *os.File
	release func() // gives back a password account; nil if none held

	filesMu sync.Mutex // serialises appends to authorized_keys

	seq atomic.Int64 // names the extra ssh_config files
}

// Start creates the directory, keys and configs and starts sshd. On error
// nothing is left running and the directory is removed.
func Start(opts Options) (*Server, error) {
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 10 * time.Second
	}
	s := &Server{opts: opts}
	var err error
	if s.sshd, err = findSSHD(opts.SSHD); err != nil {
		return nil, err
	}
	if s.keygen, err = exec.LookPath("ssh-keygen"); err != nil {
		return nil, fmt.Errorf("ssh-keygen not found: %w", err)
	}
	account := TestUser
	if opts.Password || opts.KbdInteractive {
		if account, err = s.claimPasswordAccount(); err != nil {
			return nil, err
		}
	}
	if s.User, s.UID, s.GID, err = loginUser(account); err != nil {
		s.releaseAccount()
		return nil, err
	}
	if s.release != nil {
		pw, err := newSecret()
		if err == nil {
			err = setPassword(s.User, pw)
		}
		if err != nil {
			s.releaseAccount()
			return nil, err
		}
		s.Password = pw
	}
	if os.Geteuid() == 0 {
		// sshd insists on its privilege separation directory when root.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, err
		}
	}
	parent := opts.Parent
	if parent == "" {
		parent = os.TempDir()
	}
	if err := checkSearchable(parent); err != nil {
		s.releaseAccount()
		return nil, err
	}
	if s.Dir, err = os.MkdirTemp(parent, "sshdtest-"); err != nil {
		s.releaseAccount()
		return nil, err
	}
	if err := s.setup(); err != nil {
		os.RemoveAll(s.Dir)
		s.releaseAccount()
		return nil, err
	}
	return s, nil
}

// homeAndKey makes what every kind of server here starts from: Home,
// owned by the login user and reachable through Dir, and the client key.
func (s *Server) homeAndKey() error {
	// MkdirTemp makes 0700; the login user must reach Home through it
	// (and proftpd refuses log files in a directory others can write).
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return err
	}
	s.Home = filepath.Join(s.Dir, "home")
	if err := os.Mkdir(s.Home, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(s.Home, 0o755); err != nil { // despite the umask
		return err
	}
	if err := s.Chown(s.Home); err != nil {
		return err
	}
	s.KeyFile = filepath.Join(s.Dir, "id_ed25519")
	return s.newKey(s.KeyFile)
}

// clientFiles reads the server's host public key (hostKey.pub) and names
// the files a client needs: known_hosts and ssh_config, written later.
func (s *Server) clientFiles(hostKey string) error {
	hp, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return err
	}
	f := strings.Fields(string(hp))
	if len(f) < 2 {
		return fmt.Errorf("unexpected host public key %q", hp)
	}
	s.hostPub = f[0] + " " + f[1]
	s.KnownHosts = filepath.Join(s.Dir, "known_hosts")
	s.SSHConfig = filepath.Join(s.Dir, "ssh_config")
	return nil
}

func (s *Server) setup() error {
	if err := s.homeAndKey(); err != nil {
		return err
	}
	hostKey := filepath.Join(s.Dir, "ssh_host_ed25519_key")
	if err := s.newKey(hostKey); err != nil {
		return err
	}
	pub, err := os.ReadFile(s.KeyFile + ".pub")
	if err != nil {
		return err
	}
	// sshd reads authorized_keys as the login user.
	if err := os.WriteFile(filepath.Join(s.Dir, "authorized_keys"), pub, 0o644); err != nil {
		return err
	}
	if err := s.clientFiles(hostKey); err != nil {
		return err
	}
	s.SSHDConfig = filepath.Join(s.Dir, "sshd_config")
	s.LogFile = filepath.Join(s.Dir, "sshd.log")

	// A port is free when we look and may be taken when sshd binds it;
	// on "Address already in use" pick another.
	var lastErr error
	for range 5 {
		if s.Port, err = freePort(); err != nil {
			return err
		}
		if err := s.writeConfigs(hostKey); err != nil {
			return err
		}
		lastErr = s.launch()
		if lastErr == nil {
			return nil
		}
		if !errors.Is(lastErr, errAddrInUse) {
			return lastErr
		}
	}
	return lastErr
}

func (s *Server) newKey(path string) error {
	out, err := exec.Command(s.keygen, "-q", "-t", "ed25519", "-N", "", "-C", "sshdtest", "-f", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ssh-keygen %s: %v: %s", path, err, out)
	}
	return nil
}

func (s *Server) writeConfigs(hostKey string) error {
	logLevel := s.opts.LogLevel
	if logLevel == "" {
		logLevel = "VERBOSE"
	}
	lines := []string{
		"ListenAddress 127.0.0.1",
		"Port " + strconv.Itoa(s.Port),
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + filepath.Join(s.Dir, "authorized_keys"),
		"StrictModes no",
		"UsePAM " + yesNo(s.opts.KbdInteractive),
		"PubkeyAuthentication yes",
		"PasswordAuthentication " + yesNo(s.opts.PasswordAuth || s.opts.Password),
		"KbdInteractiveAuthentication " + yesNo(s.opts.KbdInteractive),
		"PermitRootLogin no",
		"AllowUsers " + s.User,
		"PidFile none",
		"LogLevel " + logLevel,
		"MaxStartups 100",
		"MaxSessions " + strconv.Itoa(cmp.Or(s.opts.MaxSessions, 20)),
		"LoginGraceTime 30",
		"PrintMotd no",
		"X11Forwarding no",
		"AllowTcpForwarding yes", // ProxyJump through this server
		"Banner none",
		// OpenSSH >= 9.8 refuses a source address for a while after
		// failed logins or killed sessions, which tests do on purpose.
		// Dropped below if this sshd does not know the option.
		"PerSourcePenalties no",
	}
	switch {
	case s.opts.NoSFTP:
	case s.opts.SFTPServer != "":
		lines = append(lines, "Subsystem sftp "+s.opts.SFTPServer)
	default:
		// Sessions start in Home, whatever the passwd entry says.
		lines = append(lines, "Subsystem sftp internal-sftp -u 022 -d "+s.Home)
	}
	lines = append(lines, s.opts.ExtraConfig...)
	if err := writeLines(s.SSHDConfig, lines); err != nil {
		return err
	}
	if err := s.checkSSHDConfig(); err != nil {
		return err
	}
	kh := fmt.Sprintf("[127.0.0.1]:%d %s\n", s.Port, s.hostPub)
	if err := os.WriteFile(s.KnownHosts, []byte(kh), 0o644); err != nil {
		return err
	}
	return s.writeClientConfig(s.SSHConfig, []string{
		"IdentityFile " + s.KeyFile,
		"IdentitiesOnly yes",
		"UserKnownHostsFile " + s.KnownHosts,
		"StrictHostKeyChecking yes",
	})
}

// checkSSHDConfig runs `sshd -t`, dropping PerSourcePenalties when this
// sshd predates it.
func (s *Server) checkSSHDConfig() error {
	for range 2 {
		out, err := exec.Command(s.sshd, "-t", "-f", s.SSHDConfig).CombinedOutput()
		if err == nil {
			return nil
		}
		if !bytes.Contains(out, []byte("PerSourcePenalties")) {
			return fmt.Errorf("sshd -t -f %s: %v: %s", s.SSHDConfig, err, out)
		}
		b, rerr := os.ReadFile(s.SSHDConfig)
		if rerr != nil {
			return rerr
		}
		b = bytes.ReplaceAll(b, []byte("PerSourcePenalties no\n"), nil)
		if werr := os.WriteFile(s.SSHDConfig, b, 0o644); werr != nil {
			return werr
		}
	}
	return errors.New("sshd -t keeps rejecting PerSourcePenalties")
}

// writeClientConfig writes an ssh_config for Alias with the common lines
// and extra ones.
func (s *Server) writeClientConfig(path string, extra []string) error {
	return writeLines(path, s.hostBlock(Alias, extra))
}

// hostBlock is the ssh_config "Host alias" section for this server: the
// common lines, then extra ones.
func (s *Server) hostBlock(alias string, extra []string) []string {
	return s.hostBlockPort(alias, s.Port, extra)
}

// hostBlockPort is hostBlock aimed at another port.
func (s *Server) hostBlockPort(alias string, port int, extra []string) []string {
	lines := []string{
		"Host " + alias,
		"  HostName 127.0.0.1",
		"  Port " + strconv.Itoa(port),
		"  User " + s.User,
		"  GlobalKnownHostsFile /dev/null",
		"  UpdateHostKeys no",
		"  ControlMaster no",
		"  ControlPath none",
	}
	for _, l := range extra {
		lines = append(lines, "  "+l)
	}
	return lines
}

func writeLines(path string, lines []string) error {
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

var errAddrInUse = errors.New("address already in use")

// launch starts the listener and waits until it has bound the port and
// speaks SSH. The caller holds no lock; launch takes s.mu.
func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("server already running")
	}
	logf, err := os.OpenFile(s.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	start, err := logf.Seek(0, 2)
	if err != nil {
		logf.Close()
		return err
	}
	name := "sshd"
	cmd := exec.Command(s.sshd, "-D", "-e", "-f", s.SSHDConfig)
	// The log line proves that our sshd holds the port (another process
	// could have grabbed it); the banner proves it serves.
	listening := fmt.Sprintf("Server listening on 127.0.0.1 port %d.", s.Port)
	banner := "SSH-2.0-"
	if s.proftpd != nil {
		// ProFTPD logs nothing once it has bound the port; only it
		// answers with mod_sftp's identification.
		name = "proftpd"
		cmd = s.proftpd.command()
		listening, banner = "", "SSH-2.0-mod_sftp"
	}
	cmd.Stdout = logf
	cmd.Stderr = logf
	// If the test binary dies without cleaning up, take the listener along.
	cmd.SysProcAttr = dieWithTest()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.cmd, s.done, s.log = cmd, done, logf

	deadline := time.Now().Add(s.opts.ReadyTimeout)
	for {
		select {
		case <-done:
			s.cmd, s.done = nil, nil
			s.log.Close()
			s.log = nil
			tail := s.logSince(start)
			if strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("%s on port %d: %w", name, s.Port, errAddrInUse)
			}
			return fmt.Errorf("%s exited during start-up (%v); log:\n%s", name, cmd.ProcessState, tail)
		default:
		}
		if strings.Contains(s.logSince(start), listening) && s.banner(banner) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			err := fmt.Errorf("%s not ready on port %d after %v; log:\n%s", name, s.Port, s.opts.ReadyTimeout, s.logSince(start))
			s.stopLocked(syscall.SIGKILL, 0)
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// banner dials the port and reads the SSH identification string, which
// must start with prefix.
func (s *Server) banner(prefix string) error {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, prefix) {
		return fmt.Errorf("unexpected banner %q", line)
	}
	return nil
}

func (s *Server) logSince(off int64) string {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if off > int64(len(b)) {
		off = 0
	}
	return string(b[off:])
}

// Addr is "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Running reports whether the listener is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Stop ends the listener and every per-connection sshd below it, so open
// sessions are cut. It sends SIGTERM, and SIGKILL to whatever is still
// alive after 3 seconds. Files are kept; Restart brings the server back.
// Stopping a stopped server is a no-op.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(syscall.SIGTERM, 3*time.Second)
}

// Kill sends SIGKILL to the listener and all its descendants at once, the
// way a crashing server host looks to a client.
//
// What a logged-in OpenSSH 9.2 client shows (TestKilledAfterLogin): ssh
// prints "Connection to 127.0.0.1 closed by remote host." and sftp at once
// "\rConnection closed.  " on its terminal, but an interactive sftp stays
// at its prompt until a command needs the server (pwd does not); sftp -b
// fails at its next command and exits 255. For a connection closed before
// the SSH handshake, see Closer.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(syscall.SIGKILL, 0)
}

func (s *Server) stopLocked(sig syscall.Signal, grace time.Duration) error {
	if s.cmd == nil {
		return nil
	}
	root := s.cmd.Process.Pid
	// Freeze first: a listener killed before its children would orphan
	// them, and they could no longer be found by walking from root.
	pids, ferr := freezeTree(root)
	if len(pids) == 0 {
		pids = []int{root}
	}
	for _, p := range pids {
		signal(p, sig)
		signal(p, syscall.SIGCONT)
	}
	err := waitGone(pids, s.done, grace)
	if err != nil && sig != syscall.SIGKILL {
		for _, p := range pids {
			signal(p, syscall.SIGKILL)
		}
		err = waitGone(pids, s.done, 5*time.Second)
	} else if err != nil {
		err = waitGone(pids, s.done, 5*time.Second)
	}
	s.cmd, s.done = nil, nil
	if s.log != nil {
		s.log.Close()
		s.log = nil
	}
	return errors.Join(ferr, err)
}

// waitGone waits until the listener has been reaped and every other pid is
// dead, for at most grace (at least a moment, so SIGKILL can land).
func waitGone(pids []int, done chan struct{}, grace time.Duration) error {
	if grace < 500*time.Millisecond {
		grace = 500 * time.Millisecond
	}
	deadline := time.After(grace)
	select {
	case <-done:
	case <-deadline:
		return fmt.Errorf("sshd listener %d still running", pids[0])
	}
	for {
		var alive []int
		for _, p := range pids[1:] {
			if Alive(p) {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 {
			return nil
		}
		select {
		case <-deadline:
			return fmt.Errorf("sshd processes still running: %v", alive)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Restart starts sshd again on the same port with the same keys and
// configuration, stopping it first if it is running.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	// The old listener is gone and sshd sets SO_REUSEADDR, but some other
	// program may have taken the port meanwhile; give it a moment back.
	var err error
	for range 10 {
		if err = s.launch(); !errors.Is(err, errAddrInUse) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

// Cleanup stops the server, puts back the "*" password of an account
// that had a real one and removes Dir. It is meant for defer and
// t.Cleanup, so it reports nothing.
func (s *Server) Cleanup() {
	s.Stop()
	s.releaseAccount()
	if err := os.RemoveAll(s.Dir); err != nil {
		// As non-root, a test may have left a directory without write
		// permission; give them back and try again.
		filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(s.Dir)
	}
}

// Log returns what sshd has logged so far, across restarts.
func (s *Server) Log() string {
	return s.logSince(0)
}

// Chown gives path, and everything below it if it is a directory, to the
// login user without following symlinks. As non-root the files already
// belong to the login user and Chown does nothing.
func (s *Server) Chown(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, s.UID, s.GID)
	})
}

// HostKeyPromptConfig writes an ssh_config for Alias whose known_hosts is
// a fresh empty file and whose StrictHostKeyChecking is "ask", so ssh asks
// "The authenticity of host ... can't be established" unless it runs in
// batch mode. It returns the config and the known_hosts path (a test checks
// that it stays empty).
func (s *Server) HostKeyPromptConfig() (config, knownHosts string, err error) {
	n := s.seq.Add(1)
	knownHosts = filepath.Join(s.Dir, fmt.Sprintf("known_hosts_empty_%d", n))
	if err := os.WriteFile(knownHosts, nil, 0o644); err != nil {
		return "", "", err
	}
	config = filepath.Join(s.Dir, fmt.Sprintf("ssh_config_hostkey_%d", n))
	err = s.writeClientConfig(config, []string{
		"IdentityFile " + s.KeyFile,
		"IdentitiesOnly yes",
		"UserKnownHostsFile " + knownHosts,
		"StrictHostKeyChecking ask",
	})
	return config, knownHosts, err
}

// PasswordPromptConfig writes an ssh_config for Alias that trusts the host
// key but offers no key and no agent and uses only the "password" method,
// so that against a server started with Options.PasswordAuth or
// Options.Password ssh asks "USER@127.0.0.1's password: " (and, after a
// wrong answer, prints "Permission denied, please try again.").
func (s *Server) PasswordPromptConfig() (string, error) {
	if !s.opts.PasswordAuth && !s.opts.Password {
		return "", errors.New("PasswordPromptConfig needs a server started with Options.PasswordAuth or Options.Password")
	}
	return s.noKeyConfig("password")
}

// UnauthorizedKeyConfig writes an ssh_config for Alias that trusts the
// host key but logs in with a freshly made key the server does not know,
// so authentication fails with "Permission denied (publickey...)".
func (s *Server) UnauthorizedKeyConfig() (string, error) {
	n := s.seq.Add(1)
	key := filepath.Join(s.Dir, fmt.Sprintf("id_unknown_%d", n))
	if err := s.newKey(key); err != nil {
		return "", err
	}
	config := filepath.Join(s.Dir, fmt.Sprintf("ssh_config_unauthorized_%d", n))
	return config, s.writeClientConfig(config, []string{
		"IdentityFile " + key,
		"IdentitiesOnly yes",
		"IdentityAgent none",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UserKnownHostsFile " + s.KnownHosts,
		"StrictHostKeyChecking yes",
	})
}

func findSSHD(path string) (string, error) {
	if path == "" {
		p, err := exec.LookPath("sshd")
		if err != nil {
			p = "/usr/sbin/sshd"
		}
		path = p
	}
	// sshd re-executes itself and refuses a relative path.
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("sshd not found: %w", err)
	}
	return abs, nil
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkSearchable makes sure the login user can walk from / to dir, and
// that dir can be written into sshd_config unquoted.
func checkSearchable(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if strings.ContainsAny(abs, " \t\"'%\\#") {
		return fmt.Errorf("sshdtest: directory %q has characters sshd_config cannot take unquoted", abs)
	}
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if os.Geteuid() == 0 && fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("sshdtest: %s is not searchable by others (mode %v); the login user %s could not reach its home", p, fi.Mode().Perm(), TestUser)
		}
		if p == "/" {
			return nil
		}
	}
}

// StartsInHome reports whether sftp sessions start in Home, so that paths
// relative to Home work: true but for a server with another SFTPServer
// (see Options.SFTPServer).
func (s *Server) StartsInHome() bool { return s.opts.SFTPServer == "" }
