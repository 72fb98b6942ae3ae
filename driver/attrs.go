package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// The attribute channel: an SFTP session of sftper's own, beside sftp's,
// on the same login, for what sftp cannot say exactly (see doc.go, "Exact
// attributes"). It is an `ssh -s HOST sftp` that rides the connection's
// ControlMaster (ControlMaster=no, ControlPath=its socket): the master
// opens one more channel on the connection it has, with no handshake and
// no login of its own. In session mode the master is the session's own ssh
// (started with ControlMaster=yes, see Session.spawn); in batch mode it is
// the master the scripts ride. Where there is no master of sftper's (the
// user's configuration shares connections itself, or sharing is
// impossible), the channel's ssh connects as the user's configuration
// says, as a script's would. sftpwire speaks SFTP on it.
//
// It is opened at the first call, not before (a run that lists nothing
// pays nothing), and again after it has been lost. Until its first VERSION
// shows a server that can serve two sessions at once (and on one that
// cannot), each call waits for the lines sent before it and holds up the
// lines sent after it (gate.go).
// Every answer is bounded: opening by the connect timeout, each request by
// the stall timeout (a server that answers nothing within it has stopped:
// the channel is closed and the next call opens a new one).

// AttrFunc is what a caller runs on the attribute channel: any number of
// requests on c, with ctx (see Conn.Attrs).
type AttrFunc func(ctx context.Context, c *sftpwire.Client) (any, error)

// Call is an AttrFunc running on the attribute channel.
type Call struct {
	done chan struct{}
	val  any
	err  error
}

func newCall() *Call { return &Call{done: make(chan struct{})} }

func (c *Call) end(v any, err error) {
	c.val, c.err = v, err
	close(c.done)
}

// CallDone returns a Call already answered with v and err: for a Conn
// that answers without a channel (a test's fake).
func CallDone(v any, err error) *Call {
	c := newCall()
	c.end(v, err)
	return c
}

// Done is closed when the call has its answer (Wait then returns at once).
func (c *Call) Done() <-chan struct{} { return c.done }

// Wait returns what the AttrFunc returned; its error is the function's own
// (a *sftpwire.StatusError for a request the server refused) or the
// channel's: a *ConnError when it could not be opened or was lost, ctx's
// error (see ctxError) if ctx ends first.
func (c *Call) Wait(ctx context.Context) (any, error) {
	select {
	case <-c.done:
		return c.val, c.err
	default:
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		return nil, ctxError(ctx)
	}
}

// attrChannel opens and keeps a Conn's attribute channel.
type attrChannel struct {
	cfg   *Config
	owner *connOwner
	// route connects the Conn if need be and returns the control socket
	// of sftper's own master to ride, "" when there is none.
	route func(ctx context.Context) (string, error)
	// suspect tells the Conn that the server stopped answering on the
	// connection the channel rides: the next request connects again,
	// as after a line that stalled.
	suspect func()
	// makeRoom, if set, asks the Conn to give back a session it holds
	// idle (a spare script, a child with nothing to do), when the server
	// refused the channel one: it reports whether it did.
	makeRoom func() bool

	openMu sync.Mutex    // held while opening: one opener at a time
	slots  chan struct{} // attrCallsAtOnce: calls running on the channel

	mu     sync.Mutex
	cur    *attrConn // the channel, once opened (or being opened)
	closed bool
}

func newAttrChannel(cfg *Config, owner *connOwner, route func(ctx context.Context) (string, error), suspect func()) *attrChannel {
	return &attrChannel{cfg: cfg, owner: owner, route: route, suspect: suspect, slots: make(chan struct{}, attrCallsAtOnce)}
}

// attrCallsAtOnce is how many calls run on the channel at the same time:
// enough that a stream of small ones (STATs, the renames of atomic PUTs
// from several sessions) keeps a round trip's worth in flight across a
// network instead of waiting a round trip each; bounded, so that a burst
// cannot start a goroutine and a request per call without limit. What a
// call may hold is its caller's to bound: LISTDIR keeps two listings at
// once (command.listingsAtOnce).
const attrCallsAtOnce = 32

// run runs f once the gate lets a call through, in the background.
func (a *attrChannel) run(ctx context.Context, g *gate, f AttrFunc) *Call {
	call := newCall()
	release, err := g.enter(ctx, calls)
	if err != nil {
		call.end(nil, err)
		return call
	}
	go func() {
		defer release()
		select {
		case a.slots <- struct{}{}:
			defer func() { <-a.slots }()
		case <-ctx.Done():
			call.end(nil, ctxError(ctx))
			return
		}
		ac, err := a.conn(ctx)
		if err != nil {
			call.end(nil, err)
			return
		}
		v, err := f(ctx, ac.client)
		err = ac.failure(ctx, err)
		var ce *ConnError
		if errors.As(err, &ce) && ce.Kind == proto.KindTimeout {
			a.suspect()
		}
		call.end(v, err)
	}()
	return call
}

// conn returns the open channel, opening one if there is none, the last
// one has ended, or it rides another connection than the Conn's lines do
// now: the Conn connects again after a lost or stalled connection (a new
// master, on a socket of a new name), and the channel must follow it, not
// stay on the old one, which may be hung.
func (a *attrChannel) conn(ctx context.Context) (*attrConn, error) {
	a.openMu.Lock()
	defer a.openMu.Unlock()
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return nil, stoppingError()
	}
	socket, err := a.route(ctx)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, stoppingError()
	}
	old := a.cur
	if old != nil && old.alive() && old.socket == socket {
		a.mu.Unlock()
		return old, nil
	}
	a.cur = nil
	a.mu.Unlock()
	if old != nil {
		go old.close()
	}
	ac, err := a.open(ctx, socket)
	var ce *ConnError
	if errors.As(err, &ce) && strings.Contains(ce.Msg, sessionRefused) && a.makeRoom != nil && a.makeRoom() {
		// The server takes no more sessions on the connection, and
		// the Conn has given one of its own back: once more.
		ac, err = a.open(ctx, socket)
	}
	return ac, err
}

// sessionRefused is what OpenSSH's mux client says when the master could
// not open it a session: the server refused one more (its MaxSessions).
const sessionRefused = "Session open refused by peer"

// attrConnectedWithin is the bound on opening when the Config gives no
// connect timeout (it always does, through withDefaults).
const attrConnectedWithin = DefaultConnectTimeout

// open starts the channel's ssh and waits for the server's VERSION.
func (a *attrChannel) open(ctx context.Context, socket string) (*attrConn, error) {
	if socket != "" {
		// ssh falls back to a login of its own when the master's
		// socket is not there; the master is gone, and with it the
		// connection the lines ride: say so instead.
		if _, err := os.Stat(socket); err != nil {
			return nil, &ConnError{Msg: "connection lost: the connection's master is gone (its control socket is missing)"}
		}
	}
	env, cerr := a.owner.askpassEnv()
	if cerr != nil {
		return nil, cerr
	}
	ac, err := startAttrConn(a.cfg, a.owner.Settings(), socket, env)
	if err != nil {
		return nil, &ConnError{Msg: fmt.Sprintf("cannot open an SFTP channel for attributes: %v", err), Kind: proto.KindConnectFailed}
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		ac.kill()
		return nil, stoppingError()
	}
	ac.timeout = a.cfg.StallTimeout
	ac.socket = socket
	a.cur = ac // from now on, Kill ends it
	a.mu.Unlock()

	timeout := a.cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = attrConnectedWithin
	}
	type opened struct {
		c   *sftpwire.Client
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		c, err := sftpwire.NewClient(ac.rw, sftpwire.Options{Timeout: a.cfg.StallTimeout})
		ch <- opened{c, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var o opened
	select {
	case o = <-ch:
	case <-timer.C:
		ac.kill()
		o = <-ch
		o.err = &ConnError{Msg: fmt.Sprintf("connect failed: the SFTP channel for attributes did not open within %s", timeout), Kind: proto.KindTimeout}
	case <-ctx.Done():
		ac.kill()
		<-ch
		o.err = ctxError(ctx)
	}
	if o.err != nil {
		ac.kill()
		a.mu.Lock()
		if a.cur == ac {
			a.cur = nil
		}
		a.mu.Unlock()
		var ce *ConnError
		if errors.As(o.err, &ce) || ctx.Err() != nil {
			return nil, o.err
		}
		msg, kind := ac.whyNot(o.err)
		return nil, &ConnError{Msg: msg, Kind: kind}
	}
	a.mu.Lock()
	ac.client = o.c
	a.mu.Unlock()
	// Lines and calls may go together from now on, unless this server
	// cannot serve two sessions at once (see gate).
	a.owner.gate.setOpen(!o.c.Version().ModSFTP())
	return ac, nil
}

// close ends the channel cleanly: the client's stream is closed, so ssh
// sees the end of its input and closes the channel.
func (a *attrChannel) close() error {
	a.mu.Lock()
	a.closed = true
	ac := a.cur
	a.cur = nil
	a.mu.Unlock()
	if ac == nil {
		return nil
	}
	return ac.close()
}

// kill ends the channel at once.
func (a *attrChannel) kill() {
	a.mu.Lock()
	a.closed = true
	ac := a.cur
	a.mu.Unlock()
	if ac != nil {
		ac.kill()
	}
}

// attrConn is one attribute channel: its ssh and the SFTP client on it.
type attrConn struct {
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	rw      *pipeRW
	client  *sftpwire.Client // set once VERSION has come
	timeout time.Duration    // for each answer (the stall timeout)
	socket  string           // the master's control socket it rides, "" for none of sftper's
	exited  chan struct{}

	mu     sync.Mutex
	stderr []string // the last lines ssh printed
}

// startAttrConn starts `ssh ... -s -- HOST sftp` (or what the user's
// --sftp-command asks sftp to run instead) with pipes for its input and
// output.
func startAttrConn(cfg *Config, settings Settings, socket string, env []string) (*attrConn, error) {
	name, args := attrCommand(cfg, settings, socket)
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = childEnv(append(append(os.Environ(), cfg.Env...), env...))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	// As every child of sftper's: a process group of its own, and it
	// dies with sftper (see startProcess).
	cmd.SysProcAttr = sessionAttr(syscall.SIGKILL)
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = processKillWait
	err = cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		cancel()
		inW.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ac := &attrConn{cmd: cmd, cancel: cancel, rw: &pipeRW{r: outR, w: inW}, exited: make(chan struct{})}
	go ac.readStderr(errR, cfg)
	go func() {
		cmd.Wait()
		close(ac.exited)
	}()
	return ac, nil
}

// attrCommand is the channel's command line: the ssh that sftp would run
// (its -S), with the options sftp gives its ssh, then the master's socket
// or nothing, the user's options, keep-alives and the batch-mode rules of
// a master (see startMaster), and the subsystem that sftp would ask for
// (its -s; "sftp" by default). With the user's sftp -D (a local server
// program, no ssh at all) it is that program.
func attrCommand(cfg *Config, settings Settings, socket string) (string, []string) {
	server, direct := sftpServer(cfg.Program)
	if direct {
		return server, nil
	}
	args := []string{"-o", "ForwardX11=no", "-o", "ForwardAgent=no", "-o", "ClearAllForwardings=yes", "-o", "PermitLocalCommand=no",
		// Never a master itself, whatever the configuration says: it
		// rides one or connects on its own.
		"-o", "ControlMaster=no"}
	user := cfg.Args
	if socket != "" {
		args = append(args, riding(socket)...)
		user = withoutJump(user)
	}
	args = append(append(args, sshArgs(user)...), keepAlive(cfg, settings)...)
	if cfg.Secret != nil {
		args = append(args, "-o", "BatchMode=no") // see startMaster
	}
	args = append(args, "-o", "BatchMode=yes", "-T")
	if strings.Contains(server, "/") {
		// sftp -s /path runs the path as a command, not a subsystem.
		return sshProgram(cfg.Program), append(args, "--", sshDestination(cfg.Destination), server)
	}
	return sshProgram(cfg.Program), append(args, "-s", "--", sshDestination(cfg.Destination), server)
}

// sftpServer reads the user's sftp options for what serves SFTP: -s
// SUBSYSTEM or -s /PATH (default "sftp"), or -D PATH, a local server
// (direct).
func sftpServer(prog []string) (server string, direct bool) {
	server = "sftp"
	if len(prog) < 2 {
		return server, false
	}
	args := prog[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		for _, opt := range []string{"-s", "-D"} {
			v, ok := "", false
			switch {
			case a == opt && i+1 < len(args):
				v, ok = args[i+1], true
			case strings.HasPrefix(a, opt) && len(a) > 2:
				v, ok = a[2:], true
			}
			if !ok {
				continue
			}
			if opt == "-D" {
				return v, true
			}
			server = v
		}
	}
	return server, false
}

func (ac *attrConn) readStderr(r *os.File, cfg *Config) {
	defer r.Close()
	buf := make([]byte, 4096)
	var partial string
	for {
		n, err := r.Read(buf)
		if n > 0 {
			text := partial + string(buf[:n])
			lines := strings.Split(text, "\n")
			partial = lines[len(lines)-1]
			if len(partial) > 4096 {
				partial = partial[:4096]
			}
			ac.mu.Lock()
			for _, ln := range lines[:len(lines)-1] {
				ln = strings.TrimRight(ln, "\r")
				if ln == "" {
					continue
				}
				cfg.Log.Printf("ssh (attribute channel): %s", ln)
				ac.stderr = append(ac.stderr, ln)
				if len(ac.stderr) > 20 {
					ac.stderr = ac.stderr[1:]
				}
			}
			ac.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// said is what ssh printed, on one line.
func (ac *attrConn) said() string {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return strings.Join(decoded(ac.stderr), "; ")
}

// alive reports whether the channel can take requests.
func (ac *attrConn) alive() bool {
	if ac.client == nil {
		return false
	}
	select {
	case <-ac.client.Done():
		return false
	case <-ac.exited:
		return false
	default:
		return true
	}
}

// whyNot is the message and kind for a channel that did not open: what
// ssh said, read as a connection's failure (a master gone, a login
// refused, a host key), else the stream's own error.
func (ac *attrConn) whyNot(err error) (string, proto.Kind) {
	select {
	case <-ac.exited:
	case <-time.After(time.Second): // ssh prints its reason, then exits
	}
	said := ac.said()
	ac.mu.Lock()
	lines := append([]string(nil), ac.stderr...)
	ac.mu.Unlock()
	if msg, kind, ok := hostKeyFailure(decoded(lines), ""); ok {
		return msg, kind
	}
	if said == "" {
		said = err.Error()
	}
	return connectFailed("the SFTP channel for attributes: "+said, "")
}

// failure turns the error of an AttrFunc into the call's: the server's
// refusals as they are, a stream that ended into a *ConnError (the
// channel is then done with: the next call opens another).
func (ac *attrConn) failure(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var closed *sftpwire.ClosedError
	if !errors.As(err, &closed) {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return ctxError(ctx)
		}
		return err
	}
	ac.kill()
	switch {
	case errors.Is(closed.Err, sftpwire.ErrTimeout):
		return &ConnError{Msg: fmt.Sprintf("timed out: the server sent no answer for %s on the attribute channel; it was closed, and the next request opens a new one (--stall-timeout sets the limit)", ac.timeout), Sent: true, Kind: proto.KindTimeout}
	case errors.Is(closed.Err, sftpwire.ErrClientClosed):
		return stoppingError()
	}
	msg := "connection lost: " + closed.Error()
	if said := ac.said(); said != "" {
		msg += "; ssh said: " + said
	}
	return &ConnError{Msg: msg, Sent: true}
}

// attrCloseGrace is how long ssh has to close the channel and exit once
// its input has ended, before it is killed.
const attrCloseGrace = 2 * time.Second

// close closes the stream (the client, reading it, then ends too) and
// waits a moment for ssh to exit.
func (ac *attrConn) close() error {
	ac.rw.Close()
	select {
	case <-ac.exited:
		return nil
	case <-time.After(attrCloseGrace):
		ac.kill()
		<-ac.exited
		return fmt.Errorf("the attribute channel's ssh did not exit within %s of its input ending, and was killed", attrCloseGrace)
	}
}

// kill ends ssh (and its process group) at once.
func (ac *attrConn) kill() {
	ac.cancel()
	ac.rw.Close()
}

// pipeRW is the channel's stream: ssh's output to read, its input to
// write. Closing closes both, which ends a blocked Read (pipes are
// non-blocking files in Go).
type pipeRW struct {
	r, w *os.File
	once sync.Once
}

func (p *pipeRW) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *pipeRW) Write(b []byte) (int, error) { return p.w.Write(b) }

func (p *pipeRW) Close() error {
	p.once.Do(func() {
		p.w.Close()
		p.r.Close()
	})
	return nil
}

var _ io.ReadWriteCloser = (*pipeRW)(nil)

// channelWarmup opens the attribute channel once, in the background, ahead
// of a second sftp session (see Session.channelFirst and
// Scripts.channelFirst). The zero value has not begun.
type channelWarmup struct {
	done chan struct{} // closed once the channel has opened, or failed to
}

// ready reports whether the channel has opened or failed to. The first
// call starts opening it on a and then runs then, without any lock held,
// once ready reports true: so what then starts (more sessions, the lines
// that waited) already sees the channel as open. Called with the owner's
// lock held.
func (w *channelWarmup) ready(a *attrChannel, g *gate, then func()) bool {
	if w.done == nil {
		w.done = make(chan struct{})
		done := w.done
		go func() {
			a.run(context.Background(), g, func(context.Context, *sftpwire.Client) (any, error) { return nil, nil }).Wait(context.Background())
			close(done)
			then()
		}()
	}
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}
