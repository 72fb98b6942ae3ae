package sshdtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ProFTPD's mod_sftp as a second kind of server: an SSH server of its own,
// not OpenSSH, with its own channel handling and limits. StartProFTPD runs
// it the way Start runs sshd: a fresh temporary directory holding its
// configuration, an RSA host key, the client key (authorized in the RFC
// 4716 form mod_sftp reads, from `ssh-keygen -e`), its logs, pid and
// scoreboard files, and an ssh_config for Alias; `proftpd -n` in the
// foreground as a child, on a free 127.0.0.1 port, with no FTP listener.
//
// The Server it returns logs in the same unprivileged TestUser (as root),
// starts sessions in Home, and has Stop, Kill, Restart, Cleanup, Log,
// LogFile, Chown, SSHConfig, KeyFile and KnownHosts as for sshd. The other
// fixtures (password accounts, host-key and jump configs, Logins) are
// sshd's only.
//
// Debian packages the daemon as proftpd-core and mod_sftp as
// proftpd-mod-crypto; integration/install-openssh.sh installs both.

// ProFTPDOptions change how StartProFTPD sets the server up.
type ProFTPDOptions struct {
	// Trace, when not empty, is ProFTPD's Trace directive ("ssh2:10
	// sftp:10", channel:level pairs), written to Server.TraceLog.
	Trace string

	// ExtraConfig lines are appended to proftpd.conf.
	ExtraConfig []string

	// Parent is where the temporary directory is created (default
	// os.TempDir()), as in Options.
	Parent string

	// ReadyTimeout bounds the wait for proftpd to accept connections
	// (default 10s).
	ReadyTimeout time.Duration
}

// proftpdSetup is what launch needs to run proftpd.
type proftpdSetup struct {
	prog   string // the proftpd binary
	config string // its proftpd.conf
}

func (p *proftpdSetup) command() *exec.Cmd {
	// -n: in the foreground, as our child, never a daemon; -q: no
	// start-up chatter on stderr beyond errors.
	return exec.Command(p.prog, "-n", "-q", "-c", p.config)
}

// ErrNoProFTPD is wrapped by StartProFTPD's error when proftpd or its
// mod_sftp is not installed.
var ErrNoProFTPD = errors.New("ProFTPD with mod_sftp is not installed (Debian: apt-get install proftpd-core proftpd-mod-crypto)")

// StartProFTPD creates the directory, keys and configs and starts proftpd
// with mod_sftp. On error nothing is left running and the directory is
// removed. It returns an error wrapping ErrNoProFTPD when proftpd or
// mod_sftp is missing.
func StartProFTPD(opts ProFTPDOptions) (*Server, error) {
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 10 * time.Second
	}
	prog, err := exec.LookPath("proftpd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/proftpd"); serr != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoProFTPD, err)
		}
		prog = "/usr/sbin/proftpd"
	}
	load, err := sftpModule(prog)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: Options{ReadyTimeout: opts.ReadyTimeout}}
	if s.keygen, err = exec.LookPath("ssh-keygen"); err != nil {
		return nil, fmt.Errorf("ssh-keygen not found: %w", err)
	}
	if s.User, s.UID, s.GID, err = loginUser(TestUser); err != nil {
		return nil, err
	}
	parent := opts.Parent
	if parent == "" {
		parent = os.TempDir()
	}
	if err := checkSearchable(parent); err != nil {
		return nil, err
	}
	if s.Dir, err = os.MkdirTemp(parent, "proftpdtest-"); err != nil {
		return nil, err
	}
	s.ProFTPDConfig = filepath.Join(s.Dir, "proftpd.conf")
	s.proftpd = &proftpdSetup{prog: prog, config: s.ProFTPDConfig}
	if err := s.setupProFTPD(opts, load); err != nil {
		os.RemoveAll(s.Dir)
		return nil, err
	}
	return s, nil
}

// sftpModule returns the LoadModule lines that give prog mod_sftp: none
// when it is compiled in, else the module directory holding mod_sftp.so.
func sftpModule(prog string) ([]string, error) {
	out, err := exec.Command(prog, "-l").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s -l: %v: %s", prog, err, out)
	}
	if strings.Contains(string(out), "mod_sftp.c") {
		return nil, nil
	}
	for _, dir := range []string{"/usr/lib/proftpd", "/usr/libexec/proftpd", "/usr/lib64/proftpd"} {
		if _, err := os.Stat(filepath.Join(dir, "mod_sftp.so")); err == nil {
			return []string{"ModulePath " + dir, "LoadModule mod_sftp.c"}, nil
		}
	}
	return nil, fmt.Errorf("%w: no mod_sftp.so beside %s", ErrNoProFTPD, prog)
}

func (s *Server) setupProFTPD(opts ProFTPDOptions, load []string) error {
	if err := s.homeAndKey(); err != nil {
		return err
	}
	// mod_sftp reads authorized keys in RFC 4716 form ("---- BEGIN SSH2
	// PUBLIC KEY ----"), which ssh-keygen -e converts to.
	rfc4716, err := exec.Command(s.keygen, "-e", "-f", s.KeyFile+".pub").Output()
	if err != nil {
		return fmt.Errorf("ssh-keygen -e -f %s.pub: %v", s.KeyFile, err)
	}
	authorized := filepath.Join(s.Dir, "authorized_keys.rfc4716")
	if err := os.WriteFile(authorized, rfc4716, 0o644); err != nil {
		return err
	}
	// An RSA host key, in PEM form: the one kind every mod_sftp reads
	// (2048 bits: a throwaway key, made in a fraction of 3072's time).
	hostKey := filepath.Join(s.Dir, "ssh_host_rsa_key")
	out, err := exec.Command(s.keygen, "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-C", "proftpdtest", "-f", hostKey).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ssh-keygen %s: %v: %s", hostKey, err, out)
	}
	if err := s.clientFiles(hostKey); err != nil {
		return err
	}
	s.LogFile = filepath.Join(s.Dir, "proftpd.log")
	if opts.Trace != "" {
		s.TraceLog = filepath.Join(s.Dir, "trace.log")
	}

	var lastErr error
	for range 5 {
		if s.Port, err = freePort(); err != nil {
			return err
		}
		if err := s.writeProFTPDConfig(opts, load, hostKey, authorized); err != nil {
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

func (s *Server) writeProFTPDConfig(opts ProFTPDOptions, load []string, hostKey, authorized string) error {
	lines := []string{
		`ServerName "sftper-test"`,
		// One listener, the only server, on 127.0.0.1:PORT alone.
		"ServerType standalone",
		"DefaultAddress 127.0.0.1",
		"SocketBindTight on",
		"Port " + strconv.Itoa(s.Port),
		"UseIPv6 off",
		"UseReverseDNS off",
		// The daemon's own files live in Dir, none in /run or /var.
		"PidFile " + filepath.Join(s.Dir, "proftpd.pid"),
		"ScoreboardFile " + filepath.Join(s.Dir, "proftpd.scoreboard"),
		"WtmpLog off",
		"<IfModule mod_delay.c>",
		"  DelayEngine off", // its table would be /run/proftpd/proftpd.delay
		"</IfModule>",
		"<IfModule mod_ctrls.c>",
		"  ControlsEngine off", // its socket would be /run/proftpd/proftpd.sock
		"</IfModule>",
		// Everything logged goes to one file that tests read.
		"SystemLog " + s.LogFile,
		"TransferLog none",
	}
	if os.Geteuid() == 0 {
		// Connections run as the login user before login, too (the
		// listener alone stays root, to bind and to switch users).
		g, err := user.LookupGroupId(strconv.Itoa(s.GID))
		if err != nil {
			return err
		}
		lines = append(lines, "User "+s.User, "Group "+g.Name)
	}
	lines = append(lines,
		// Logins: the system account, public keys only, no PAM, no
		// /etc/ftpusers or /etc/shells checks; sessions start in Home,
		// whatever the passwd entry says (TestUser's is /nonexistent).
		"AuthOrder mod_auth_unix.c",
		"<IfModule mod_auth_pam.c>",
		"  AuthPAM off",
		"</IfModule>",
		"UseFtpUsers off",
		"RequireValidShell off",
		"DefaultChdir "+s.Home,
		"<Limit LOGIN>",
		"  AllowUser "+s.User,
		"  DenyAll",
		"</Limit>",
		// As OpenSSH's sftp-server: uploads may replace files, new
		// files are 0644.
		"AllowOverwrite on",
		"Umask 022",
	)
	lines = append(lines, load...)
	lines = append(lines,
		// The listener speaks SSH (mod_sftp), not FTP.
		"SFTPEngine on",
		"SFTPLog "+s.LogFile,
		"SFTPHostKey "+hostKey,
		"SFTPAuthMethods publickey",
		"SFTPAuthorizedUserKeys file:"+authorized,
		// SFTPMaxChannels stays at its default (10 channels open at
		// once per connection), as servers run it.
	)
	if opts.Trace != "" {
		lines = append(lines, "TraceLog "+s.TraceLog, "Trace "+opts.Trace)
	}
	lines = append(lines, opts.ExtraConfig...)
	if err := writeLines(s.proftpd.config, lines); err != nil {
		return err
	}
	if out, err := exec.Command(s.proftpd.prog, "-t", "-q", "-c", s.proftpd.config).CombinedOutput(); err != nil {
		return fmt.Errorf("proftpd -t -c %s: %v: %s", s.proftpd.config, err, out)
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
