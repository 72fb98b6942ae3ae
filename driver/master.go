package driver

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sftper/sftper/proto"
)

// Connection sharing: the ControlMaster itself. The connection owner
// (owner.go) decides when there is one and owns it.
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
func keepAlive(cfg *Config, settings Settings) []string {
	if !settings.NoKeepAlive() {
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

// master is one running ControlMaster.
type master struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc // ends the master through cmd.Cancel (see stop)
	socket string
	exited chan struct{}
	watch  *procWatch // nil if the process cannot be watched

	listening chan struct{} // closed once ssh has logged its mux listener: the socket is in place
	refused   chan struct{} // closed once ssh has said it cannot offer the socket

	mu        sync.Mutex
	stderr    []string      // what ssh said, CRs removed (bounded)
	serverKey string        // "TYPE SHA256:..." as ssh logged it at debug level
	software  string        // the server's software version, as ssh logged it at debug level
	versioned chan struct{} // closed once software is known (ssh logs it before it authenticates)
	ready     bool          // after which stderr lines are logged instead
	stopping  bool          // after which they are dropped (ssh's goodbye statistics)
	killed    bool          // kill was called: a SIGKILL is no news to stop
}

// masterStopGrace is how long a master has, after SIGTERM, to close its
// connection and remove its socket before it is killed: ssh sends the
// server its SSH_MSG_DISCONNECT, waits until that is written, and exits,
// 7-15 ms here to a loopback server. Two seconds is many round trips even
// to a distant server; a master that takes longer is hung on a dead
// network, where a goodbye cannot arrive anyway.
const masterStopGrace = 2 * time.Second

// termAgain is when a master that has not exited after SIGTERM gets a
// second one. OpenSSH 9.2's client loop waits in poll(2), not ppoll with
// the signal mask (later versions fixed that): a SIGTERM that arrives
// between its check of the quit flag and the poll is handled but does not
// wake it, and ssh sleeps until the poll's timeout (the keep-alive
// interval, 15 s). Seen here a few times in a hundred stops on a busy
// machine; stuck in poll with SIGTERM already handled. The second signal
// interrupts that poll. 250 ms is far longer than a healthy exit takes.
const termAgain = 250 * time.Millisecond

// startMaster starts ssh as a ControlMaster on socket and waits, at most
// timeout, until ssh says it listens there: ssh only sets up the socket
// once it has authenticated, and logs "channel N: new mux listener" (at
// LogLevel DEBUG1, which the master runs at) only after the socket has been
// linked into its final place (muxserver_listen in OpenSSH's mux.c: link(2)
// from the temporary name, then channel_new, which logs). The error is an
// *errNoSharing when the master could not offer sharing (the socket could
// not be made), a *ConnError (with its Kind) when ssh could not connect.
//
// started, called as soon as ssh runs, lets the owner keep the master
// among those a Kill ends while it is still connecting; if it returns
// false (the owner is ending), the master is killed and startMaster fails.
func startMaster(cfg *Config, settings Settings, socket string, timeout time.Duration, env []string, started func(*master) bool) (*master, error) {
	args := []string{
		// sftp forces these for its own ssh; the master must not
		// forward anything either.
		"-o", "ForwardX11=no", "-o", "ForwardAgent=no", "-o", "ClearAllForwardings=yes", "-o", "PermitLocalCommand=no",
		"-o", "ControlMaster=yes", "-o", "ControlPath=" + socket, "-o", "ControlPersist=no",
		// ssh names the server's key fingerprint only at debug level
		// when BatchMode stops it from asking; sftper shows it in the
		// error for an unknown key, and drops every other debug line.
		// The mux listener's line says the socket is ready.
		"-o", "LogLevel=DEBUG1",
	}
	args = append(append(args, sshArgs(cfg.Args)...), keepAlive(cfg, settings)...)
	if cfg.Secret != nil {
		// ssh asks for the secret through askpass, which BatchMode
		// would rule out; with no terminal and askpass forced, it
		// still cannot ask anything else of anyone but sftper.
		args = append(args, "-o", "BatchMode=no")
	}
	// After the user's options, so that theirs win, as with sftp -b.
	args = append(args, "-o", "BatchMode=yes", "-N", "-T", "--", sshDestination(cfg.Destination))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, sshProgram(cfg.Program), args...)
	cmd.Env = childEnv(append(append(os.Environ(), cfg.Env...), env...))
	cmd.SysProcAttr = sessionAttr(syscall.SIGTERM)
	// SIGTERM lets ssh close the connection and remove its socket; the
	// whole group, for a ProxyCommand. WaitDelay kills ssh if that
	// takes longer than masterStopGrace.
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = masterStopGrace
	errR, errW, err := os.Pipe()
	if err != nil {
		cancel()
		return nil, err
	}
	cmd.Stderr = errW
	if err := cmd.Start(); err != nil {
		cancel()
		errR.Close()
		errW.Close()
		return nil, &errNoSharing{fmt.Sprintf("cannot start %s: %v", cmd.Path, err)}
	}
	errW.Close()
	m := &master{
		cmd: cmd, cancel: cancel, socket: socket, exited: make(chan struct{}),
		listening: make(chan struct{}), refused: make(chan struct{}), versioned: make(chan struct{}),
	}
	m.watch, _ = watchProc(cmd.Process.Pid)
	readDone := make(chan struct{})
	go m.readStderr(errR, cfg, readDone)
	if !started(m) {
		m.kill()
		go func() { cmd.Wait(); <-readDone }()
		return nil, stoppingError()
	}
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
	select {
	case <-m.listening:
		// ssh logged the server's version before it authenticated, so
		// it is in the pipe by now; let readStderr get to it, so that
		// oneSFTPAtATime is known before any spare starts.
		select {
		case <-m.versioned:
		case <-time.After(versionWait):
		}
		m.mu.Lock()
		m.ready = true
		m.mu.Unlock()
		return m, nil
	case <-m.refused:
		m.stop()
		return nil, &errNoSharing{m.said()}
	case <-m.exited:
		m.stop()
		select {
		case <-m.refused:
			return nil, &errNoSharing{m.said()}
		default:
		}
		reason, kind := m.reason()
		msg, kind := connectFailed(reason, kind)
		return nil, &ConnError{Msg: msg, Kind: kind}
	case <-deadline.C:
		m.stop()
		msg := fmt.Sprintf("connect timed out after %s", timeout)
		if said := m.said(); said != "" {
			msg += ": " + said
		}
		return nil, &ConnError{Msg: msg, Kind: proto.KindTimeout}
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
	listening, refused := false, false
	for sc.Scan() {
		ln := strings.TrimSpace(strings.ReplaceAll(sc.Text(), "\r", ""))
		if debug, ok := strings.CutPrefix(ln, "debug1: "); ok {
			if !listening && muxListening(debug, m.socket) {
				listening = true
				close(m.listening)
			}
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
		if muxTrouble.MatchString(ln) && !refused {
			refused = true
			close(m.refused)
		}
		if len(m.stderr) < 50 {
			m.stderr = append(m.stderr, ln)
		}
		m.mu.Unlock()
	}
}

// muxListening reports whether debug (a debug1 line of ssh's, without
// its prefix) is ssh announcing the mux listener on socket:
// "channel 0: new mux listener [SOCKET] (inactive timeout: 0)" in
// OpenSSH 9, without the timeout in older ones.
func muxListening(debug, socket string) bool {
	_, rest, ok := strings.Cut(debug, ": new mux listener [")
	return ok && strings.HasPrefix(debug, "channel ") && strings.HasPrefix(rest, socket+"]")
}

// said is what ssh printed before the master was up, on one line.
func (m *master) said() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.stderr, "; ")
}

// reason says why the master exited, and the kind when ssh refused the
// server's host key; it waits for the exit to be reaped (alive can know
// of it a moment before).
func (m *master) reason() (string, proto.Kind) {
	<-m.exited
	m.mu.Lock()
	msg, kind, ok := hostKeyFailure(m.stderr, m.serverKey)
	m.mu.Unlock()
	if !ok {
		msg = m.said()
	}
	return withStatus(msg, exitStatus("ssh", m.cmd.ProcessState)), kind
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

// args are the options that make a child's ssh ride the master.
func (m *master) args() []string { return riding(m.socket) }

// riding are the options that make an ssh ride the master listening at
// socket, and only that. OpenSSH's mux client falls back to a login of its
// own when the master refuses it a session (the server's MaxSessions
// reached: muxclient in mux.c returns -1 after "session request failed",
// and ssh goes on to connect), which would be a second login nobody asked
// for, with the user's credentials, unseen. A ProxyCommand that fails at
// once makes that fallback fail instead, so the refusal is the child's
// error: riding the master runs no ProxyCommand, only a connection of its
// own would. (Given ahead of the user's options, it wins over their
// ProxyCommand or ProxyJump, which the master has used already.)
func riding(socket string) []string {
	return []string{"-o", "ControlMaster=no", "-o", "ControlPath=" + socket, "-o", "ProxyCommand=false"}
}

// withoutJump is the user's options less -J, for an ssh that rides a
// master: the master has made the jump already, and ssh refuses -J beside
// riding's ProxyCommand ("Cannot specify -J with ProxyCommand"). A
// ProxyJump in the user's configuration files is no such clash: riding's
// option comes first, and the first value wins.
func withoutJump(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-J" && (i == 0 || args[i-1] != "-o"):
			i++ // and its value
		case strings.HasPrefix(a, "-J") && (i == 0 || args[i-1] != "-o"):
		default:
			out = append(out, a)
		}
	}
	return out
}

// stop ends the master: cmd.Cancel sends SIGTERM, which lets ssh close
// the connection and remove its socket (once more after termAgain: see
// there), and exec kills ssh if it has not exited within masterStopGrace
// (WaitDelay). Whatever is left of its
// process group (a ProxyCommand) is killed, and the socket is removed in
// any case. The error says that ssh had to be killed.
func (m *master) stop() error {
	m.mu.Lock()
	m.stopping = true
	m.mu.Unlock()
	termed := false
	select {
	case <-m.exited:
	default:
		termed = true
		m.cancel()
		again := time.NewTimer(termAgain)
		grace := time.NewTimer(masterStopGrace)
		select {
		case <-m.exited:
		case <-again.C:
			signalGroup(m.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-m.exited:
			case <-grace.C:
				// The whole group: a ProxyCommand that ignores
				// SIGTERM holds ssh's stderr, and so m.exited, as
				// long as it lives (WaitDelay kills ssh alone).
				signalGroup(m.cmd.Process.Pid, syscall.SIGKILL)
				<-m.exited
			}
		}
		again.Stop()
		grace.Stop()
	}
	m.cancel()
	signalGroup(m.cmd.Process.Pid, syscall.SIGKILL) // stragglers
	os.Remove(m.socket)
	m.mu.Lock()
	killed := m.killed
	m.mu.Unlock()
	if ws, ok := m.cmd.ProcessState.Sys().(syscall.WaitStatus); termed && !killed && ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return fmt.Errorf("the connection master (ssh) did not exit within %s of SIGTERM and was killed", masterStopGrace)
	}
	return nil
}

// kill ends the master at once, for signals.
func (m *master) kill() {
	m.mu.Lock()
	m.stopping, m.killed = true, true
	m.mu.Unlock()
	signalGroup(m.cmd.Process.Pid, syscall.SIGKILL)
	m.cancel()
	os.Remove(m.socket)
}

// signalGroup signals the process group that pid leads (every child
// sftper starts leads its own: Setsid). A group that is gone is no error:
// os.ErrProcessDone, as exec's Cancel expects.
func signalGroup(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pid, sig); err != nil {
		if err == syscall.ESRCH {
			return os.ErrProcessDone
		}
		return err
	}
	return nil
}
