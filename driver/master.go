package driver

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Connection sharing for batch mode.
//
// Every `sftp -b` script is a new ssh process; on its own each would pay
// the whole handshake (about 0.2 s to a loopback server, far more over a
// real network) and a login. Scripts therefore ride one connection through
// OpenSSH's own multiplexing: sftper starts `ssh -N` as a ControlMaster with
// its socket in a private temporary directory, and every script's ssh asks
// that master for a new channel (ControlMaster=no, ControlPath=socket)
// instead of connecting. The master is sftper's child: it is stopped at
// the end, on a signal (and by the kernel if sftper dies: Pdeathsig), and
// started again if it dies. If the user's own configuration already shares
// connections (a ControlPath), sftper leaves that alone and starts nothing.

// sharing is what batch mode decided about connection sharing.
type sharing int

const (
	shareUndecided sharing = iota
	shareOurs              // sftper runs a ControlMaster
	shareUsers             // the user's configuration shares connections
	shareNone              // sharing is impossible; every script connects
)

// errNoSharing wraps the reason sharing is impossible, as opposed to a
// failure to connect at all.
type errNoSharing struct{ why string }

func (e *errNoSharing) Error() string { return e.why }

// sshProgram is the ssh that sftp would run: its -S option, else "ssh".
func sshProgram(prog []string) string {
	if len(prog) > 1 {
		args := prog[1:]
		for i, a := range args {
			if a == "--" {
				break
			}
			if a == "-S" && i+1 < len(args) {
				return args[i+1]
			}
			if strings.HasPrefix(a, "-S") {
				return a[2:]
			}
		}
	}
	return "ssh"
}

// sshArgs turns the user's sftp options into ssh's: the same, except that
// sftp's -P port is ssh's -p.
func sshArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "-P" && (i == 0 || args[i-1] != "-o") {
			a = "-p"
		}
		out[i] = a
	}
	return out
}

// sshDestination is the destination in ssh's terms: an sftp:// URL
// becomes the equivalent ssh:// one.
func sshDestination(d string) string {
	if len(d) >= 7 && strings.EqualFold(d[:7], "sftp://") {
		return "ssh://" + d[7:]
	}
	return d
}

// readSettings asks ssh how it would connect (ssh -G, with the user's
// options and destination: their configuration as ssh reads it) and keeps
// the answer. Called once, before the first connection.
func (cfg *Config) readSettings() {
	args := append(append([]string{"-G"}, sshArgs(cfg.Args)...), "--", sshDestination(cfg.Destination))
	cmd := exec.Command(sshProgram(cfg.Program), args...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		cfg.Log.Printf("could not read your ssh configuration (ssh -G: %v: %s); leaving keep-alives and connection sharing to it",
			err, strings.TrimSpace(stderr.String()))
		return
	}
	cfg.settings = map[string]string{}
	for _, ln := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(ln, " "); ok {
			cfg.settings[k] = v
		}
	}
}

// Keep-alives when the user's configuration has none: ssh then notices a
// dead server after 3 unanswered probes 15 s apart, within a minute, not
// when TCP gives up hours later.
const (
	aliveInterval = "15"
	aliveCount    = "3"
)

// keepAlive returns the options that turn keep-alives on, unless the
// user's configuration sets a ServerAliveInterval itself (or could not be
// read). An explicit 0 cannot be told from none: ssh -G prints 0 for both.
func (cfg *Config) keepAlive() []string {
	if cfg.settings == nil || cfg.settings["serveraliveinterval"] != "0" {
		return nil
	}
	for i, a := range cfg.Args {
		// -o ServerAliveInterval=0 on sftper's command line: the
		// user's explicit choice of none.
		if i > 0 && cfg.Args[i-1] == "-o" && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a)), "serveraliveinterval") {
			return nil
		}
	}
	return []string{"-o", "ServerAliveInterval=" + aliveInterval, "-o", "ServerAliveCountMax=" + aliveCount}
}

// userSharing returns the ControlPath the user's configuration sets, or "".
func (cfg *Config) userSharing() string {
	if v := cfg.settings["controlpath"]; v != "none" {
		return v
	}
	return ""
}

// socketPath is safe in a ControlPath option unquoted and unexpanded, and
// fits a Unix socket's 108 bytes with the 17 that ssh appends while it
// creates the socket.
var socketPath = regexp.MustCompile(`^/[A-Za-z0-9/._-]{1,88}$`)

// master is one running ControlMaster.
type master struct {
	cmd    *exec.Cmd
	socket string
	exited chan struct{}
	watch  *procWatch // nil if the process cannot be watched

	mu        sync.Mutex
	stderr    []string      // what ssh said, CRs removed (bounded)
	serverKey string        // "TYPE SHA256:..." as ssh logged it at debug level
	software  string        // the server's software version, as ssh logged it at debug level
	versioned chan struct{} // closed once software is known (ssh logs it before it authenticates)
	ready     bool          // after which stderr lines are logged instead
	stopping  bool          // after which they are dropped (ssh's goodbye statistics)
	refused   bool          // ssh said it could not set up the socket
}

// startMaster starts ssh as a ControlMaster on socket and waits, at most
// timeout, until its socket exists: ssh only creates it once it has
// authenticated. The error is an *errNoSharing when the master could not
// offer sharing (the socket could not be made), a *ConnError when ssh could
// not connect.
func startMaster(cfg *Config, socket string, timeout time.Duration, env []string) (*master, error) {
	args := []string{
		// sftp forces these for its own ssh; the master must not
		// forward anything either.
		"-o", "ForwardX11=no", "-o", "ForwardAgent=no", "-o", "ClearAllForwardings=yes", "-o", "PermitLocalCommand=no",
		"-o", "ControlMaster=yes", "-o", "ControlPath=" + socket, "-o", "ControlPersist=no",
		// ssh names the server's key fingerprint only at debug level
		// when BatchMode stops it from asking; sftper shows it in the
		// error for an unknown key, and drops every other debug line.
		"-o", "LogLevel=DEBUG1",
	}
	args = append(append(args, sshArgs(cfg.Args)...), cfg.keepAlive()...)
	if cfg.Secret != nil {
		// ssh asks for the secret through askpass, which BatchMode
		// would rule out; with no terminal and askpass forced, it
		// still cannot ask anything else of anyone but sftper.
		args = append(args, "-o", "BatchMode=no")
	}
	// After the user's options, so that theirs win, as with sftp -b.
	args = append(args, "-o", "BatchMode=yes", "-N", "-T", "--", sshDestination(cfg.Destination))
	cmd := exec.Command(sshProgram(cfg.Program), args...)
	cmd.Env = childEnv(append(append(os.Environ(), cfg.Env...), env...))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = errW
	if err := cmd.Start(); err != nil {
		errR.Close()
		errW.Close()
		return nil, &errNoSharing{fmt.Sprintf("cannot start %s: %v", cmd.Path, err)}
	}
	errW.Close()
	m := &master{cmd: cmd, socket: socket, exited: make(chan struct{}), versioned: make(chan struct{})}
	m.watch, _ = watchProc(cmd.Process.Pid)
	readDone := make(chan struct{})
	go m.readStderr(errR, cfg, readDone)
	go func() {
		cmd.Wait()
		<-readDone
		close(m.exited)
		if m.watch != nil {
			m.watch.Close()
		}
	}()

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(socket); err == nil {
			// ssh logged the server's version before it authenticated,
			// so it is in the pipe by now; let readStderr get to it, so
			// that oneSFTPAtATime is known before any spare starts.
			select {
			case <-m.versioned:
			case <-time.After(versionWait):
			}
			m.mu.Lock()
			m.ready = true
			m.mu.Unlock()
			return m, nil
		}
		select {
		case <-tick.C:
			m.mu.Lock()
			refused := m.refused
			m.mu.Unlock()
			if refused {
				m.stop()
				return nil, &errNoSharing{m.said()}
			}
		case <-m.exited:
			m.stop()
			m.mu.Lock()
			refused := m.refused
			m.mu.Unlock()
			if refused {
				return nil, &errNoSharing{m.said()}
			}
			return nil, &ConnError{Msg: connectFailed(m.reason())}
		case <-deadline.C:
			m.stop()
			msg := fmt.Sprintf("connect timed out after %s", timeout)
			if said := m.said(); said != "" {
				msg += ": " + said
			}
			return nil, &ConnError{Msg: msg}
		}
	}
}

// versionWait bounds the wait for the server's version line once the
// master is up: it is already written by then (ssh logs it before it
// authenticates), so this only covers a reader goroutine slow to run.
const versionWait = time.Second

// muxTrouble is how ssh says it cannot listen on the control socket.
var muxTrouble = regexp.MustCompile(`unix_listener|ControlSocket|control socket|mux_|multiplex`)

func (m *master) readStderr(r *os.File, cfg *Config, done chan<- struct{}) {
	defer close(done)
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		ln := strings.TrimSpace(strings.ReplaceAll(sc.Text(), "\r", ""))
		if debug, ok := strings.CutPrefix(ln, "debug1: "); ok {
			if key, ok := strings.CutPrefix(debug, "Server host key: "); ok {
				m.mu.Lock()
				m.serverKey = key
				m.mu.Unlock()
			}
			if _, sw, ok := strings.Cut(debug, ", remote software version "); ok && strings.HasPrefix(debug, "Remote protocol version ") {
				m.mu.Lock()
				if m.software == "" {
					m.software = sw
					close(m.versioned)
				}
				m.mu.Unlock()
			}
			continue
		}
		if ln == "" {
			continue
		}
		m.mu.Lock()
		if m.ready {
			stopping := m.stopping
			m.mu.Unlock()
			if !stopping {
				cfg.Log.Printf("ssh (connection master): %s", ln)
			}
			continue
		}
		if muxTrouble.MatchString(ln) {
			m.refused = true
		}
		if len(m.stderr) < 50 {
			m.stderr = append(m.stderr, ln)
		}
		m.mu.Unlock()
	}
}

// said is what ssh printed before the master was up, on one line.
func (m *master) said() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.stderr, "; ")
}

// reason says why the master exited; it waits for the exit to be reaped
// (alive can know of it a moment before).
func (m *master) reason() string {
	<-m.exited
	m.mu.Lock()
	msg, ok := hostKeyFailure(m.stderr, m.serverKey)
	m.mu.Unlock()
	if !ok {
		msg = m.said()
	}
	return withStatus(msg, exitStatus("ssh", m.cmd.ProcessState))
}

// alive reports whether the master is still running, exactly: a master
// that has just died is dead here at once, before the goroutine that
// waits for it has run, so no script is ever given lines over it.
func (m *master) alive() bool {
	select {
	case <-m.exited:
		return false
	default:
	}
	return m.watch == nil || !m.watch.Exited()
}

// oneSFTPAtATime reports whether the server mixes up the SFTP streams of
// channels that carry data at the same time, so that scripts must not
// overlap at all: ProFTPD's mod_sftp (1.3.8, and its main branch as of
// 2026) assembles incoming SFTP packets in one buffer per connection, not
// per channel (curr_pkt and curr_buf in contrib/mod_sftp/fxp.c). An SFTP
// WRITE (32 KiB of data plus its header) spans two SSH packets; when a
// packet of another channel arrives in between, such as the INIT and
// REALPATH of a script starting while an upload runs, its bytes are taken
// into the upload's packet: the upload stalls or the server's process
// aborts ("malloc assertion failure"), taking the connection with it. It
// identifies itself as "SSH-2.0-mod_sftp" or "SSH-2.0-mod_sftp/VERSION".
// Valid once the master is up (ssh logs the version before it
// authenticates).
func (m *master) oneSFTPAtATime() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.software == "mod_sftp" || strings.HasPrefix(m.software, "mod_sftp/")
}

// args are the options that make a script's ssh use the master.
func (m *master) args() []string {
	return []string{"-o", "ControlMaster=no", "-o", "ControlPath=" + m.socket}
}

// stop ends the master: SIGTERM lets ssh close the connection and remove its
// socket; it is killed if it has not exited within two seconds. The socket
// is removed in any case.
func (m *master) stop() {
	m.mu.Lock()
	m.stopping = true
	m.mu.Unlock()
	syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(2 * time.Second):
		syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.exited
	}
	syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL) // stragglers: a ProxyCommand
	os.Remove(m.socket)
}

// kill ends the master at once, for signals.
func (m *master) kill() {
	syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	os.Remove(m.socket)
}
