package driver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/proto"
)

// Scripts is batch mode: every command line runs in a generated `sftp -b -`
// script, so OpenSSH's batch semantics hold: ssh runs with BatchMode=yes
// and no terminal (it never stops to ask anything; given a secret, it asks
// sftper alone, through askpass), and sftp stops a script at the first
// line that fails, with status 1.
//
// A script holds the lines that are waiting when it starts: one request's,
// or, when requests are pipelined, every request queued behind the script
// that was running. Each line is followed by a marker comment, as in a
// Session, so its output is exactly attributed; the script's first line is
// a marker alone, whose echo means that ssh has connected. When a line
// fails, sftp stops the script there: that line gets sftp's reason, and
// the lines after it, which never ran, go into the next script. So every
// line's outcome is its own, and no line runs after a failed one in the
// same script.
//
// Scripts share one connection through a ControlMaster (see master.go)
// when they can; when they cannot, each pays for its own connection and
// sftper says so once. The connection owner (owner.go) decides which,
// and owns the masters, their socket directory and the askpass server;
// each script is a scriptChild (script.go).
type Scripts struct {
	cfg   Config
	owner *connOwner
	attrs *attrChannel // rides the scripts' master (attrs.go)

	mu       sync.Mutex
	idle     *sync.Cond // signalled when a script ends
	closed   bool
	link     *link
	waiting  []*Pending            // sent, not yet in a script, in order
	running  int                   // scripts running now, given lines
	most     int                   // scripts that may run at once: cfg.Sessions, 1 on a server that takes one at a time
	spares   []*scriptChild        // scripts started ahead, waiting for lines
	live     map[*scriptChild]bool // every sftp running, for Kill
	killed   bool
	noSpares bool          // the server refused a spare its session, or cannot take one (oneSFTPAtATime)
	warm     channelWarmup // the attribute channel opened before a second script (see channelFirst)
	env      []string      // for every ssh: how to reach askpass
}

var _ Conn = (*Scripts)(nil)

// link is what scripts run over once connected: the master (nil without
// sharing) and what the first script learnt of the working directory.
type link struct {
	broken atomic.Bool // a request over it timed out: connect again
	ready  chan struct{}
	err    *ConnError // valid after ready
	master *master
	cwd    string
	cwdErr error
}

// NewScripts returns batch mode's Conn, not connected yet.
func NewScripts(cfg Config) *Scripts {
	s := &Scripts{cfg: cfg.withDefaults(), live: map[*scriptChild]bool{}}
	s.most = max(1, s.cfg.Sessions)
	s.owner = newConnOwner(&s.cfg)
	s.attrs = newAttrChannel(&s.cfg, s.owner, s.controlSocket, s.dropLink)
	s.attrs.makeRoom = s.makeRoom
	s.idle = sync.NewCond(&s.mu)
	return s
}

// Start begins connecting (the master, then a first script) in the
// background.
func (s *Scripts) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.link == nil {
		s.link = s.connect()
	}
	return nil
}

// Send queues a line for the next script and starts one if fewer are
// running than may (one, unless --sessions says more).
func (s *Scripts) Send(ctx context.Context, line string, keep LineFunc) (*Pending, error) {
	release, err := s.owner.gate.enter(ctx, lines)
	if err != nil {
		return nil, err
	}
	if _, err := s.connected(ctx); err != nil {
		release()
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		release()
		return nil, ErrClosed
	}
	p := newPending(line, s.killScripts)
	p.take = keep
	s.waiting = append(s.waiting, p)
	if s.running < s.most {
		s.runNext()
	}
	releaseWhenDone(p, release)
	return p, nil
}

// Attrs runs f on the attribute channel (see Conn).
func (s *Scripts) Attrs(ctx context.Context, f AttrFunc) *Call {
	return s.attrs.run(ctx, &s.owner.gate, f)
}

// dropLink makes the next request connect again: the connection stopped
// answering the attribute channel.
func (s *Scripts) dropLink() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.link != nil && !s.link.broken.Swap(true) {
		s.cfg.Log.Printf("batch mode: the server stopped answering; the next request connects again")
	}
}

// controlSocket connects if need be and returns the socket of the master
// the scripts ride, "" when they ride none of sftper's.
func (s *Scripts) controlSocket(ctx context.Context) (string, error) {
	l, err := s.connected(ctx)
	if err != nil {
		return "", err
	}
	if l.master == nil {
		return "", nil
	}
	return l.master.socket, nil
}

// Resolve joins a relative path to the working directory that the first
// script read.
func (s *Scripts) Resolve(ctx context.Context, p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return p, nil
	}
	l, err := s.connected(ctx)
	if err != nil {
		return "", err
	}
	return resolve(l.cwd, l.cwdErr, p)
}

// connected returns the link once connected, connecting first if there is
// none or the master has died since.
func (s *Scripts) connected(ctx context.Context) (*link, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if l := s.link; l != nil && l.stale() {
		if m := l.master; m != nil && !l.broken.Load() {
			// Not under s.mu: the reason waits for the exit to be
			// reaped.
			go func() {
				reason, _ := m.reason()
				s.cfg.Log.Printf("the connection master is gone (%s); connecting again", reason)
			}()
		}
		if l.master != nil {
			s.owner.retire(l.master)
		}
		s.link = nil
	}
	if s.link == nil {
		s.link = s.connect()
	}
	l := s.link
	s.mu.Unlock()
	select {
	case <-l.ready:
	case <-ctx.Done():
		return nil, ctxError(ctx)
	}
	if l.err != nil {
		s.mu.Lock()
		if s.link == l {
			s.link = nil // the next request tries again
		}
		s.mu.Unlock()
		return nil, l.err
	}
	return l, nil
}

func (l *link) stale() bool {
	select {
	case <-l.ready:
	default:
		return false
	}
	return l.err != nil || l.broken.Load() || (l.master != nil && !l.master.alive())
}

// connect starts establishing a link in the background. Called with s.mu
// held.
func (s *Scripts) connect() *link {
	l := &link{ready: make(chan struct{})}
	go func() {
		defer close(l.ready)
		if err := s.startMaster(l); err != nil {
			l.err = err
			return
		}
		var connected bool
		l.cwd, l.cwdErr, l.err, connected = s.firstScript(l)
		if l.err != nil && !connected && l.master != nil && l.master.alive() {
			// The master is up but the script never got a session
			// through it, and the reason stays in the master (ssh
			// -N prints nothing of a refused subsystem or session).
			// Once, directly, to learn ssh's own reason, or to find
			// that the server does not take sessions over a shared
			// connection.
			direct := &link{}
			direct.cwd, direct.cwdErr, direct.err, _ = s.firstScript(direct)
			if direct.err == nil {
				s.owner.giveUpSharing("the server refused a session over the shared connection (MaxSessions?)")
				s.owner.retire(l.master)
				l.master = nil
			}
			l.cwd, l.cwdErr, l.err = direct.cwd, direct.cwdErr, direct.err
		}
		if l.err == nil {
			s.mu.Lock()
			if s.link == l {
				s.refill()
			}
			s.mu.Unlock()
		}
	}()
	return l
}

// startMaster gives l a master of the owner's if sharing is possible.
func (s *Scripts) startMaster(l *link) *ConnError {
	m, err := s.owner.Master()
	if err != nil {
		var ce *ConnError
		if !errors.As(err, &ce) {
			ce = &ConnError{Msg: err.Error(), Kind: proto.KindConnectFailed}
		}
		return ce
	}
	env, cerr := s.owner.askpassEnv() // started by Master
	s.mu.Lock()
	defer s.mu.Unlock()
	if cerr != nil || s.closed {
		if m != nil {
			s.owner.retire(m)
		}
		if cerr != nil {
			return cerr
		}
		return &ConnError{Msg: ErrClosed.Error(), Kind: proto.KindInterrupted}
	}
	s.env = env
	if m == nil {
		return nil
	}
	l.master = m
	// The master knows the server by now (see gate).
	s.owner.gate.setOpen(!m.oneSFTPAtATime())
	if m.oneSFTPAtATime() && !s.noSpares {
		// A spare connecting while a script uploads would corrupt the
		// upload (see oneSFTPAtATime): start each script only when the
		// one before it has ended, which runNext already does.
		s.noSpares = true
		s.most = 1
		s.cfg.Log.Printf("batch mode: the server (ProFTPD's mod_sftp) cannot serve two SFTP sessions on one connection at the same time; running scripts strictly one after another, none kept ready")
	}
	return nil
}

// firstScript checks the link by running the starting-directory steps (cd
// to the starting directory, pwd) in a script of their own, and reads the
// working directory from it.
func (s *Scripts) firstScript(l *link) (cwd string, cwdErr error, cerr *ConnError, connected bool) {
	var steps []*Pending
	if s.cfg.StartDir != "" {
		line, err := batch.Chdir(s.cfg.StartDir)
		if err != nil {
			return "", nil, &ConnError{Msg: fmt.Sprintf("starting directory %q: %v", s.cfg.StartDir, err), Kind: proto.KindConnectFailed}, false
		}
		steps = append(steps, newPending(line, s.killScripts))
	}
	steps = append(steps, newPending(batch.Pwd, s.killScripts))
	s.mu.Lock()
	c, err := s.launch(l)
	if err == nil {
		err = c.assign(steps)
	}
	s.mu.Unlock()
	if err != nil {
		return "", nil, launchFailed(err), false
	}
	<-c.ended
	connected = c.first.err == nil
	for _, p := range steps {
		var ce *ConnError
		if errors.As(p.err, &ce) {
			return "", nil, ce, connected
		}
	}
	// startDir asks for the same lines, in the same order: answer each
	// from the script's output.
	i := 0
	cwd, cwdErr, err = startDir(&s.cfg, func(string) ([]string, error) {
		p := steps[i]
		i++
		select {
		case <-p.done:
			return p.lines, p.err
		default:
			return nil, errors.New("not run: the step before it failed")
		}
	})
	if err != nil {
		return "", nil, &ConnError{Msg: err.Error(), Kind: startDirKind(err)}, connected
	}
	return cwd, cwdErr, nil, connected
}

// runNext runs the waiting lines: in one script, a spare if one is ready,
// else a new one; with room for several scripts, shared out among as many
// as there is room for, so that no script holds most of the lines while
// others could run. While the attribute channel is still opening (see
// channelFirst) one script runs, and it takes only its share of what
// --sessions allows: the rest wait for the channel and then go to scripts
// side by side, rather than all to the one script that happened to be
// first. Called with s.mu held.
func (s *Scripts) runNext() {
	most := s.most
	if most > 1 && !s.channelFirst() {
		most = 1
	}
	for len(s.waiting) > 0 && s.running < most {
		free := s.most - s.running
		n := (len(s.waiting) + free - 1) / free
		lines := s.waiting[:n:n]
		s.waiting = s.waiting[n:]
		if len(s.waiting) == 0 {
			s.waiting = nil
		}
		s.runScript(lines)
	}
}

// runScript runs lines in one script: a spare if one is ready, else a new
// one. Called with s.mu held.
func (s *Scripts) runScript(lines []*Pending) {
	c, err := s.takeSpare(lines)
	if c == nil && err == nil {
		if c, err = s.launch(s.link); err == nil {
			err = c.assign(lines)
		}
	}
	if err != nil {
		for _, p := range lines {
			p.err = launchFailed(err)
			p.end()
		}
		return
	}
	s.running++
	s.refill()
	go func() {
		<-c.ended
		c.qmu.Lock()
		stalled := c.stalled
		c.qmu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.running--
		if stalled && c.link == s.link && c.link != nil && !c.link.broken.Swap(true) {
			// The connection under a request that hung is suspect:
			// the next request connects again rather than queue
			// behind whatever hangs there.
			s.cfg.Log.Printf("batch mode: a request timed out; the next request connects again")
		}
		// Lines that never ran because an earlier one failed go first.
		s.waiting = append(c.unrun, s.waiting...)
		if s.killed {
			for _, p := range s.waiting {
				p.err = stoppingError()
				p.end()
			}
			s.waiting = nil
		}
		if len(s.waiting) > 0 {
			s.runNext()
		}
		s.idle.Broadcast()
	}()
}

// spares is how many scripts are kept started ahead of need when sftper
// runs the connection master: each is an sftp already connected through
// the master (an SFTP session open on the server), waiting for its lines.
// Starting sftp and ssh costs about 10 ms of CPU, which would otherwise
// come between every request and its result; two at once use both cores
// of a small machine.
const spares = 2

// takeSpare gives lines to the oldest spare that is still alive; nil if
// there is none. Called with s.mu held.
func (s *Scripts) takeSpare(lines []*Pending) (*scriptChild, error) {
	for i := 0; i < len(s.spares); i++ {
		c := s.spares[i]
		// A spare of an older link, or of a master that is gone, dies
		// with its master: never give it lines.
		if c.link != s.link || !c.link.master.alive() {
			c.kill()
			s.spares = slices.Delete(s.spares, i, i+1)
			i--
			continue
		}
		select {
		case <-c.watched: // connected, and its ssh watched (see assign)
		default:
			continue // not yet: a fresh script is as quick
		}
		s.spares = slices.Delete(s.spares, i, i+1)
		if c.first.err == nil && c.assign(lines) == nil {
			return c, nil
		}
		i-- // it failed or died while waiting: try the next
	}
	return nil, nil
}

// refill starts spares up to the count, when scripts share sftper's master.
// Called with s.mu held.
func (s *Scripts) refill() {
	l := s.link
	if s.closed || s.noSpares || l == nil || l.master == nil || !l.master.alive() || !s.channelFirst() {
		return
	}
	for len(s.spares) < spares {
		c, err := s.launch(l)
		if err != nil {
			return
		}
		s.spares = append(s.spares, c)
	}
}

// launch starts one script over l with only its first line, a marker whose
// echo means connected; assign gives it the rest. A script that has not
// connected within the connect timeout is stopped. Called with s.mu held.
func (s *Scripts) launch(l *link) (*scriptChild, error) {
	if s.killed {
		return nil, errStopping
	}
	var extra []string
	rides := l != nil && l.master != nil && l.master.alive()
	if rides {
		extra = l.master.args()
	} else {
		// Connecting on its own: askpass for the secret (before
		// sftp's own BatchMode=yes, so that this wins).
		if s.cfg.Secret != nil {
			extra = []string{"-o", "BatchMode=no"}
		}
	}
	c, err := startScript(&s.cfg, s.owner.Settings(), l, extra, rides, s.env)
	if err != nil {
		return nil, err
	}
	c.refused = func(msg string) bool { return s.refusedOne(c, msg) }
	s.live[c] = true
	first := c.first
	go func() {
		t := time.NewTimer(s.cfg.ConnectTimeout)
		defer t.Stop()
		select {
		case <-first.done:
			c.pipes.restoreBlocking() // see childPipes
			logChatter(s.cfg.Log, first.lines)
			if first.err == nil {
				c.watchIdleSSH()
			}
			close(c.watched)
		case <-t.C:
			c.qmu.Lock()
			seen := describe(first.lines, "")
			c.qmu.Unlock()
			msg := fmt.Sprintf("connect timed out after %s", s.cfg.ConnectTimeout)
			if seen != "" {
				msg += ": " + seen
			}
			if l != nil && l.master != nil && !l.broken.Swap(true) {
				// A channel the connection could not open in all that
				// time: the connection is hung, and the next request
				// connects again rather than wait on it too.
				s.cfg.Log.Printf("batch mode: a script could not open a session over the shared connection within %s; the next request connects again", s.cfg.ConnectTimeout)
			}
			c.stop(msg, proto.KindTimeout)
		case <-c.ended:
		}
		<-c.ended
		c.close() // reaped; releases the pipes
		c.qmu.Lock()
		if c.ssh != nil {
			c.ssh.Close()
		}
		c.qmu.Unlock()
		s.mu.Lock()
		delete(s.live, c)
		if slices.Contains(s.spares, c) {
			s.spares = slices.DeleteFunc(s.spares, func(x *scriptChild) bool { return x == c })
			if c.first.err != nil && c.link == s.link && !c.link.broken.Load() && c.link.master.alive() && !s.noSpares {
				// The server refused it a session over a connection
				// that is otherwise fine, likely a limit on sessions
				// per connection: keep to one at a time. (A spare of
				// a connection that is being replaced or is hung
				// says nothing of the server's limits.)
				s.noSpares = true
				s.cfg.Log.Printf("batch mode: a script kept ready could not open a session (%v); no longer keeping scripts ready", c.first.err)
			}
		}
		s.mu.Unlock()
	}()
	return c, nil
}

// channelFirst reports, with several scripts at once, whether the
// attribute channel has been opened (or has failed to open), and starts
// opening it if not: before a second script, or a spare. A server that
// limits sessions per connection would otherwise give every session to
// scripts and refuse the channel that atomic uploads and every listing
// need, while a script refused is only one fewer at once. With one script
// at a time it is opened when first needed, as ever. Called with s.mu
// held.
func (s *Scripts) channelFirst() bool {
	if s.cfg.Sessions <= 1 {
		return true
	}
	return s.warm.ready(s.attrs, &s.owner.gate, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.waiting) > 0 {
			s.runNext()
		}
		s.refill()
	})
}

// makeRoom gives back a spare script's session, for the attribute
// channel, which the server refused one: it holds sessions that nothing
// uses yet. No more are kept ready from then on. It reports whether there
// was one to give back.
func (s *Scripts) makeRoom() bool {
	s.mu.Lock()
	var c *scriptChild
	if len(s.spares) > 0 {
		c = s.spares[0]
		s.spares = slices.Delete(s.spares, 0, 1)
	}
	if c != nil && !s.noSpares {
		s.noSpares = true
		s.cfg.Log.Printf("batch mode: the server takes no more sessions on the connection than are in use; no longer keeping scripts ready")
	}
	s.mu.Unlock()
	if c == nil {
		return false
	}
	c.stdin.Close() // a spare given no lines ends at the end of its input
	select {
	case <-c.ended:
	case <-time.After(closeGrace):
		c.kill()
		<-c.ended
	}
	return true
}

// refusedOne reports whether c, a script that could not connect, was
// refused one more session by a server that takes no more (OpenSSH's
// MaxSessions, say), while the connection is fine: then the scripts kept
// ready give their sessions back (and none are kept from then on), fewer
// scripts run at once if others are running, and c's lines go to another
// script. With nothing to give back and nothing else running, the lines
// fail with the server's refusal.
func (s *Scripts) refusedOne(c *scriptChild, msg string) bool {
	s.mu.Lock()
	if !strings.Contains(msg, sessionRefused) || c.link != s.link || c.link == nil || c.link.master == nil || !c.link.master.alive() {
		s.mu.Unlock()
		return false
	}
	spares := s.spares
	s.spares = nil
	if !s.noSpares {
		s.noSpares = true
		s.cfg.Log.Printf("batch mode: the server takes no more sessions on the connection than are in use; no longer keeping scripts ready")
	}
	others := s.running - 1 // c was counted when it was given lines
	if others >= 1 && others < s.most {
		s.most = others
		s.cfg.Log.Printf("batch mode: the server refused one more SFTP session on the connection (%s); going on with %d scripts at once", msg, others)
	}
	s.mu.Unlock()
	for _, sp := range spares {
		sp.stdin.Close() // a spare given no lines ends at the end of its input
	}
	for _, sp := range spares {
		select {
		case <-sp.ended:
		case <-time.After(closeGrace):
			sp.kill()
			<-sp.ended
		}
	}
	return len(spares) > 0 || others >= 1
}

// errStopping is launch's error once Kill has been called.
var errStopping = errors.New("sftper is stopping")

// launchFailed is the error for lines whose script could not be started.
func launchFailed(err error) *ConnError {
	if errors.Is(err, errStopping) {
		return stoppingError()
	}
	return &ConnError{Msg: "connect failed: " + err.Error(), Kind: proto.KindConnectFailed}
}

// Close lets every queued line run, then lets the spares end, and closes
// the connection owner (the masters, the socket directory, askpass). The
// error is what the owner could not end cleanly (see connOwner.Close).
func (s *Scripts) Close() error {
	defer sweeps.Wait() // see sweepParts
	s.mu.Lock()
	s.closed = true
	for s.running > 0 || len(s.waiting) > 0 {
		s.idle.Wait()
	}
	l := s.link
	s.mu.Unlock()
	if l != nil {
		<-l.ready
	}
	s.mu.Lock()
	idle := s.spares
	s.spares = nil
	s.mu.Unlock()
	// A spare given no lines reads the end of its input and exits.
	for _, c := range idle {
		c.stdin.Close()
	}
	for _, c := range idle {
		<-c.ended
	}
	return errors.Join(s.attrs.close(), s.owner.Close())
}

// Kill stops every sftp and the master at once and removes the socket
// directory; what was in flight or waiting fails as interrupted.
func (s *Scripts) Kill() {
	s.mu.Lock()
	s.closed, s.killed = true, true
	waiting := s.waiting
	s.waiting = nil
	for _, p := range waiting {
		p.err = stoppingError()
		p.end()
	}
	children := s.children()
	s.mu.Unlock()
	for _, c := range children {
		c.stop("connection lost: sftper is stopping", proto.KindInterrupted)
	}
	s.attrs.kill()
	s.owner.Kill()
}

// children are the scripts running now. Called with s.mu held.
func (s *Scripts) children() []*scriptChild {
	var out []*scriptChild
	for c := range s.live {
		out = append(out, c)
	}
	return out
}

// killScripts stops the scripts running now (their lines fail); for a
// waiter that gives up.
func (s *Scripts) killScripts() {
	s.mu.Lock()
	children := s.children()
	s.mu.Unlock()
	for _, c := range children {
		c.kill()
	}
}
