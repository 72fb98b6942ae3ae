package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sftper/sftper/batch"
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
// sftper says so once.
type Scripts struct {
	cfg Config

	mu       sync.Mutex
	idle     *sync.Cond // signalled when a script ends
	closed   bool
	link     *link
	waiting  []*Pending       // sent, not yet in a script, in order
	running  *child           // the script running now, if any
	spares   []*child         // scripts started ahead, waiting for lines
	live     map[*child]bool  // every sftp running, for Kill
	masters  map[*master]bool // every master running, for Kill
	killed   bool
	noSpares bool // the server refused a spare its session, or cannot take one (oneSFTPAtATime)
	share    sharing
	askpass  *askpassServer // when there is a secret to give
	env      []string       // for every ssh: how to reach askpass
	dir      string         // private directory for control sockets, once made
	nsock    int
}

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
	s := &Scripts{cfg: cfg.withDefaults(), live: map[*child]bool{}, masters: map[*master]bool{}}
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

// Send queues a line for the next script and starts one if none is
// running.
func (s *Scripts) Send(ctx context.Context, line string, keep LineFunc) (*Pending, error) {
	if _, err := s.connected(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	p := newPending(line, s.killScripts)
	p.take = keep
	s.waiting = append(s.waiting, p)
	if s.running == nil {
		s.runNext()
	}
	return p, nil
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
			go func() { s.cfg.Log.Printf("the connection master is gone (%s); connecting again", m.reason()) }()
		}
		if l.master != nil {
			s.stopMaster(l.master)
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
		return nil, ctx.Err()
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
				s.mu.Lock()
				s.noSharing("the server refused a session over the shared connection (MaxSessions?)")
				s.stopMaster(l.master)
				s.mu.Unlock()
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

// startMaster gives l a master if sharing is possible.
func (s *Scripts) startMaster(l *link) *ConnError {
	s.mu.Lock()
	if s.share == shareUndecided {
		s.share = s.decideSharing()
	}
	if s.cfg.Secret != nil && s.askpass == nil {
		a, err := startAskpass(s.cfg.Secret, s.cfg.Log.Printf)
		var env []string
		if err == nil {
			env, err = a.env()
		}
		if err != nil {
			s.mu.Unlock()
			return &ConnError{Msg: fmt.Sprintf("cannot offer ssh the secret through askpass: %v", err)}
		}
		s.askpass, s.env = a, env
	}
	env := s.env
	share := s.share
	socket := ""
	if share == shareOurs {
		s.nsock++
		socket = filepath.Join(s.dir, "cm"+strconv.Itoa(s.nsock))
	}
	s.mu.Unlock()
	if share != shareOurs {
		return nil
	}
	m, err := startMaster(&s.cfg, socket, s.cfg.ConnectTimeout, env)
	var ns *errNoSharing
	switch {
	case errors.As(err, &ns):
		s.mu.Lock()
		s.noSharing(ns.why)
		s.mu.Unlock()
		return nil
	case err != nil:
		msg := err.Error()
		if s.askpass != nil {
			if m, ok := s.askpass.answers.rejected(); ok {
				msg = m + "; ssh said: " + strings.TrimPrefix(msg, "authentication failed: ")
			}
		}
		return &ConnError{Msg: msg}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		m.stop()
		return &ConnError{Msg: ErrClosed.Error()}
	}
	s.masters[m] = true
	l.master = m
	if m.oneSFTPAtATime() && !s.noSpares {
		// A spare connecting while a script uploads would corrupt the
		// upload (see oneSFTPAtATime): start each script only when the
		// one before it has ended, which runNext already does.
		s.noSpares = true
		s.cfg.Log.Printf("batch mode: the server (ProFTPD's mod_sftp) cannot serve two SFTP sessions on one connection at the same time; running scripts strictly one after another, none kept ready")
	}
	return nil
}

// decideSharing chooses once how scripts connect. Called with s.mu held.
func (s *Scripts) decideSharing() sharing {
	s.cfg.readSettings()
	if !s.cfg.Share {
		return shareNone
	}
	if s.cfg.settings == nil {
		s.noSharing("ssh -G could not read your configuration")
		return shareNone
	}
	if path := s.cfg.userSharing(); path != "" {
		s.cfg.Log.Printf("batch mode: using the connection sharing of your ssh configuration (ControlPath %s)", path)
		return shareUsers
	}
	dir, err := makeOwnDir(s.cfg.Log.Printf) // see leftovers.go
	if err != nil {
		s.noSharing(fmt.Sprintf("cannot make a directory for the control socket: %v", err))
		return shareNone
	}
	if !socketPath.MatchString(filepath.Join(dir, "cm0000")) {
		os.RemoveAll(dir) // and its owner file
		s.noSharing(fmt.Sprintf("the temporary directory %q is too long or unusual for a control socket path; set TMPDIR to a short plain path", dir))
		return shareNone
	}
	s.dir = dir
	return shareOurs
}

// noSharing says once that scripts will each connect on their own. Called
// with s.mu held.
func (s *Scripts) noSharing(why string) {
	if s.share != shareNone {
		s.cfg.Log.Printf("batch mode: cannot share one ssh connection between scripts (%s); every request pays a connection of its own", why)
	}
	s.share = shareNone
}

// firstScript checks the link by running the starting-directory steps (cd
// to the starting directory, pwd) in a script of their own, and reads the
// working directory from it.
func (s *Scripts) firstScript(l *link) (cwd string, cwdErr error, cerr *ConnError, connected bool) {
	var steps []*Pending
	if s.cfg.StartDir != "" {
		line, err := batch.Chdir(s.cfg.StartDir)
		if err != nil {
			return "", nil, &ConnError{Msg: fmt.Sprintf("starting directory %q: %v", s.cfg.StartDir, err)}, false
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
		return "", nil, &ConnError{Msg: "connect failed: " + err.Error()}, false
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
		return "", nil, &ConnError{Msg: err.Error()}, connected
	}
	return cwd, cwdErr, nil, connected
}

// runNext runs every waiting line in one script: a spare if one is ready,
// else a new one. Called with s.mu held.
func (s *Scripts) runNext() {
	lines := s.waiting
	s.waiting = nil
	c, err := s.takeSpare(lines)
	if c == nil && err == nil {
		if c, err = s.launch(s.link); err == nil {
			err = c.assign(lines)
		}
	}
	if err != nil {
		for _, p := range lines {
			p.err = &ConnError{Msg: "connect failed: " + err.Error()}
			close(p.done)
		}
		return
	}
	s.running = c
	s.refill()
	go func() {
		<-c.ended
		c.qmu.Lock()
		stalled := c.stalled
		c.qmu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.running = nil
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
				p.err = &ConnError{Msg: "connection lost: sftper is stopping"}
				close(p.done)
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
func (s *Scripts) takeSpare(lines []*Pending) (*child, error) {
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
	if s.closed || s.noSpares || l == nil || l.master == nil || !l.master.alive() {
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
func (s *Scripts) launch(l *link) (*child, error) {
	if s.killed {
		return nil, errors.New("sftper is stopping")
	}
	var extra []string
	if l != nil && l.master != nil && l.master.alive() {
		extra = l.master.args()
	} else {
		// Connecting on its own: askpass for the secret (before
		// sftp's own BatchMode=yes, so that this wins).
		if s.cfg.Secret != nil {
			extra = []string{"-o", "BatchMode=no"}
		}
	}
	c, err := spawn(&s.cfg, true, extra, s.env)
	if err != nil {
		return nil, err
	}
	c.link = l
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
			c.stop(msg)
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
			s.spares = slices.DeleteFunc(s.spares, func(x *child) bool { return x == c })
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

// errSpareGone is assign's error for a script whose ssh has exited.
var errSpareGone = errors.New("its ssh exited before it was given lines")

// watchIdleSSH stops a connected script whose ssh exits before the script
// has been given its lines: the server closed its channel while it waited
// (a ChannelTimeout, a killed session process, a lost master). Nothing
// would notice otherwise: sftp, reading its script, only finds out when
// it sends the first line's packets, and that line would fail for a loss
// that happened before it was even given.
func (c *child) watchIdleSSH() {
	pid := childOf(c.cmd.Process.Pid, "ssh")
	if pid == 0 {
		return // not ssh (a -S program of the user's), or gone already
	}
	w, err := watchProc(pid)
	if err != nil {
		return
	}
	c.qmu.Lock()
	c.ssh = w
	c.qmu.Unlock()
	go func() {
		select {
		case <-w.Gone():
		case <-c.ended:
			return
		}
		c.qmu.Lock()
		idle := !c.assigned
		c.qmu.Unlock()
		if idle {
			c.stop("connection lost: " + errSpareGone.Error())
		}
	}()
}

// assign writes the rest of a launched script, each line with its marker,
// and ends it. It fails if the script has already ended, or if its ssh has
// (errSpareGone): then none of the lines was given to it.
func (c *child) assign(lines []*Pending) error {
	c.qmu.Lock()
	c.assigned = true
	ssh := c.ssh
	c.qmu.Unlock()
	// Asked of the kernel, not of the watch's goroutine, which may not
	// have run yet: exactly whether ssh has exited by now.
	if ssh != nil && ssh.Exited() {
		c.stop("connection lost: " + errSpareGone.Error())
		return errSpareGone
	}
	var text strings.Builder
	for _, p := range lines {
		t, err := c.enqueue(p)
		if err != nil {
			return err // only the first can fail: nothing was queued
		}
		text.WriteString(t)
	}
	go func() {
		// The script can be longer than the pipe holds: sftp reads it
		// as it runs.
		if _, err := io.WriteString(c.stdin, text.String()); err == nil {
			c.stdin.Close()
		}
	}()
	return nil
}

// Close lets every queued line run, then stops the master and removes the
// socket directory.
func (s *Scripts) Close() error {
	defer sweeps.Wait() // see sweepParts
	s.mu.Lock()
	s.closed = true
	for s.running != nil || len(s.waiting) > 0 {
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
	s.mu.Lock()
	shared := s.takeShared()
	s.mu.Unlock()
	shared.release((*master).stop)
	return nil
}

// sharedParts is what the scripts of one Scripts share and what is left
// to end once they are over: the masters, the socket directory and the
// askpass server.
type sharedParts struct {
	masters map[*master]bool
	dir     string
	askpass *askpassServer
}

// takeShared returns the shared parts and takes the masters out of s, so
// that each master is ended once; s.mu must be held.
func (s *Scripts) takeShared() sharedParts {
	p := sharedParts{s.masters, s.dir, s.askpass}
	s.masters = map[*master]bool{}
	return p
}

// release ends every master with end (stop or kill), then removes the
// socket directory and closes the askpass server.
func (p sharedParts) release(end func(*master)) {
	for m := range p.masters {
		end(m)
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
	if p.askpass != nil {
		p.askpass.close()
	}
}

// Kill stops every sftp and the master at once and removes the socket
// directory.
func (s *Scripts) Kill() {
	s.mu.Lock()
	s.closed, s.killed = true, true
	waiting := s.waiting
	s.waiting = nil
	for _, p := range waiting {
		p.err = &ConnError{Msg: "connection lost: sftper is stopping"}
		close(p.done)
	}
	var children []*child
	for c := range s.live {
		children = append(children, c)
	}
	shared := s.takeShared()
	s.mu.Unlock()
	for _, c := range children {
		c.kill()
	}
	shared.release((*master).kill)
}

// killScripts stops the scripts running now (their lines fail); for a
// waiter that gives up.
func (s *Scripts) killScripts() {
	s.mu.Lock()
	var children []*child
	for c := range s.live {
		children = append(children, c)
	}
	s.mu.Unlock()
	for _, c := range children {
		c.kill()
	}
}

// stopMaster stops a master that has died or is no longer used. Called with
// s.mu held; the stop itself is quick for a master that has exited.
func (s *Scripts) stopMaster(m *master) {
	delete(s.masters, m)
	go m.stop()
}
