package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/proto"
)

// Session is session mode: persistent sftp children, each kept for every
// later command, one by default (--sessions sets how many may run side by
// side). If a child dies (connection dropped, server restarted), the
// commands it had get a *ConnError and the next Send starts a fresh one.
// Session is safe for concurrent use. With one child, lines reach sftp in
// the order Send is called, and sftp runs them one after another; with
// several, each line goes to one of them and nothing orders lines on
// different children: the caller keeps requests about the same files apart
// (command/hazard.go).
//
// Its connection owner (owner.go) holds the user's ssh settings. With one
// child, a Session starts no ControlMaster process (see connOwner for
// why): the child's own ssh is the master, listening on a socket of the
// owner's (see spawn), for the attribute channel (attrs.go). With several,
// they all ride one master of the owner's (ssh -N, as batch mode's
// scripts do), so that one child can end and be replaced while the others
// go on, on the same login; or the user's own connection sharing.
type Session struct {
	cfg   Config
	owner *connOwner
	attrs *attrChannel

	mu     sync.Mutex
	kids   []*sessionChild // connecting or connected, oldest first
	most   int             // children at most: cfg.Sessions, less what the server would not take
	master *master         // the shared connection of several children, when sftper runs one
	closed bool
	roomMu sync.Mutex
	room   chan struct{}                   // closed (and replaced) when a line ends or a child is ready or gone; under roomMu
	warm   channelWarmup                   // the attribute channel opened before a second child (see channelFirst)
	live   atomic.Pointer[[]*sessionChild] // kids, readable without mu for Kill
}

var _ Conn = (*Session)(nil)

// setKids replaces the children. Called with s.mu held.
func (s *Session) setKids(kids []*sessionChild) {
	s.kids = kids
	live := slices.Clone(kids)
	s.live.Store(&live)
}

// NewSession returns a session that has not started sftp yet.
func NewSession(cfg Config) *Session {
	s := &Session{cfg: cfg.withDefaults()}
	s.most = max(1, s.cfg.Sessions)
	s.owner = newConnOwner(&s.cfg)
	s.attrs = newAttrChannel(&s.cfg, s.owner, s.controlSocket, s.dropChild)
	s.attrs.makeRoom = s.makeRoom
	return s
}

// Start starts sftp and lets it connect in the background, so that the
// first command does not pay for the handshake. A failure is logged and
// reported to the first command that waits for it.
func (s *Session) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(s.kids) == 0 {
		c, err := s.spawn()
		if err != nil {
			return err
		}
		s.setKids([]*sessionChild{c})
	}
	return nil
}

// sessionDepth is how many lines a child has queued, with several children,
// before the next line waits for one to have room: enough that sftp always
// has its next command when one ends (it runs them one after another), few
// enough that a child that lags does not hold a long queue while others
// idle.
const sessionDepth = 2

// Send sends one sftp command line and returns at once; Wait on the result
// for what sftp printed. Several may be outstanding: each child runs its
// lines one after another, and the marker after each tells exactly where
// its output ends. With several children a line goes to an idle one if
// there is one, a new one is started when none is idle and there is room
// for it, and a line waits while every child has sessionDepth lines queued.
// The first Send after a lost session starts a fresh one and waits for it
// to connect (ctx bounds that wait). Errors: a *ConnError if the session
// cannot be established, ErrClosed, or ctx's error.
func (s *Session) Send(ctx context.Context, line string, keep LineFunc) (*Pending, error) {
	release, err := s.owner.gate.enter(ctx, lines)
	if err != nil {
		return nil, err
	}
	for {
		s.mu.Lock()
		c, wait, err := s.pick(ctx)
		if err != nil {
			s.mu.Unlock()
			release()
			return nil, err
		}
		if c == nil {
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				release()
				return nil, ctxError(ctx)
			}
		}
		p, err := c.send(line, keep)
		several := s.several()
		s.mu.Unlock()
		if err != nil {
			if several {
				continue // it has just ended: another one takes the line
			}
			release()
			return nil, err
		}
		if several {
			releaseWhenDone(p, func() { release(); s.signalRoom() })
		} else {
			releaseWhenDone(p, release)
		}
		return p, nil
	}
}

// pick chooses the child for the next line: a connected one, or a channel
// to wait on first. Called with s.mu held; with one child it waits for it
// to connect, holding s.mu, as lines must keep their order anyway.
func (s *Session) pick(ctx context.Context) (*sessionChild, <-chan struct{}, error) {
	if !s.several() {
		c, err := s.connected(ctx)
		return c, nil, err
	}
	if s.closed {
		return nil, nil, ErrClosed
	}
	// The channel to wait on is taken before the children's queues are
	// read: a line that ends after this closes it, so no wake-up falls
	// between the reading and the waiting (signalRoom does not take s.mu).
	room := s.roomCh()
	s.dropStale()
	if len(s.kids) == 0 {
		// The first (again): wait for it, as with one child.
		if _, err := s.connected(ctx); err != nil {
			return nil, nil, err
		}
	}
	var best *sessionChild
	bestQueue, connecting := 0, 0
	for _, c := range s.kids {
		select {
		case <-c.ready:
		default:
			connecting++
			continue
		}
		if q := c.outstanding(); best == nil || q < bestQueue {
			best, bestQueue = c, q
		}
	}
	if best == nil {
		return nil, s.kids[0].ready, nil // none has connected yet
	}
	if bestQueue > 0 && connecting == 0 && len(s.kids) < s.most && s.channelFirst() {
		// None idle: one more, for the lines that follow.
		if c, err := s.spawn(); err == nil {
			s.setKids(append(s.kids, c))
			go func() { <-c.ready; s.signalRoom() }()
		} else {
			s.cfg.Log.Printf("cannot start another sftp session (%v); going on with %d", err, len(s.kids))
			s.most = len(s.kids)
		}
	}
	if bestQueue < sessionDepth || s.most == 1 {
		return best, nil, nil
	}
	return nil, room, nil
}

// several reports whether this Session may run more than one child: then
// they ride a master of the owner's (see spawn), even when the server
// turns out to take only one at a time.
func (s *Session) several() bool { return s.cfg.Sessions > 1 }

// channelFirst reports whether the attribute channel has been opened (or
// has failed to open) since several children began, and starts opening it
// if not: before a second child. A server that limits sessions per
// connection would otherwise give every session to sftp children and
// refuse the channel that atomic uploads and every listing need, while a
// child refused is only one fewer at once. Called with s.mu held.
func (s *Session) channelFirst() bool {
	return s.warm.ready(s.attrs, &s.owner.gate, s.signalRoom)
}

// makeRoom gives back an idle child's session, for the attribute channel,
// which the server refused one; fewer children run at once from then on.
// It reports whether there was one to give back (never the last).
func (s *Session) makeRoom() bool {
	s.mu.Lock()
	var idle *sessionChild
	if len(s.kids) > 1 {
		for _, c := range s.kids {
			select {
			case <-c.ready:
				if c.connErr == nil && c.outstanding() == 0 {
					idle = c
				}
			default:
			}
		}
	}
	if idle != nil {
		s.setKids(slices.DeleteFunc(slices.Clone(s.kids), func(x *sessionChild) bool { return x == idle }))
		s.most = len(s.kids)
		s.cfg.Log.Printf("the server takes no more SFTP sessions on the connection than are in use; going on with %d at once", s.most)
	}
	s.mu.Unlock()
	if idle == nil {
		return false
	}
	idle.closeSession()
	return true
}

// dropStale removes the children that have ended or failed to connect.
// A child that could not connect while others are connected was refused a
// session by a server that takes no more (OpenSSH's MaxSessions, say):
// then no more are started, and lines go to those that are. Called with
// s.mu held.
func (s *Session) dropStale() {
	var kept []*sessionChild
	var failed *ConnError
	for _, c := range s.kids {
		if !c.stale() {
			kept = append(kept, c)
			continue
		}
		c.closeSession()
		if c.connErr != nil && failed == nil {
			failed = c.connErr
		}
	}
	if len(kept) == len(s.kids) {
		return
	}
	ready := 0
	for _, c := range kept {
		select {
		case <-c.ready:
			ready++
		default:
		}
	}
	s.setKids(kept)
	s.signalRoom()
	if failed != nil && ready > 0 && ready < s.most && (s.master == nil || s.master.alive()) {
		s.most = ready
		s.cfg.Log.Printf("the server refused one more SFTP session on the connection (%s); going on with %d at once", failed.Msg, ready)
	}
}

// roomCh is closed the next time a line ends or a child is ready or gone.
func (s *Session) roomCh() <-chan struct{} {
	s.roomMu.Lock()
	defer s.roomMu.Unlock()
	if s.room == nil {
		s.room = make(chan struct{})
	}
	return s.room
}

// signalRoom wakes what waits on roomCh. It takes no other lock: it runs
// where a line ends, in the goroutine that reads sftp's output.
func (s *Session) signalRoom() {
	s.roomMu.Lock()
	defer s.roomMu.Unlock()
	if s.room != nil {
		close(s.room)
		s.room = nil
	}
}

// Attrs runs f on the attribute channel (see Conn).
func (s *Session) Attrs(ctx context.Context, f AttrFunc) *Call {
	return s.attrs.run(ctx, &s.owner.gate, f)
}

// dropChild ends the children, whose connection stopped answering the
// attribute channel: the next Send starts fresh ones (and a fresh master),
// as after a line that stalled.
func (s *Session) dropChild() {
	live := s.live.Load()
	if live == nil || len(*live) == 0 {
		return
	}
	s.cfg.Log.Printf("the server stopped answering; the next request connects again")
	for _, c := range *live {
		c.stop("timed out: the server stopped answering", proto.KindTimeout)
	}
	s.mu.Lock()
	if s.master != nil {
		s.owner.retire(s.master)
		s.master = nil
	}
	s.mu.Unlock()
}

// controlSocket connects the session if need be and returns the control
// socket of sftper's own that the attribute channel rides: the one child's
// ssh's, or with several the master's; "" if there is none of sftper's.
func (s *Session) controlSocket(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.connected(ctx)
	if err != nil {
		return "", err
	}
	if s.several() {
		if s.master != nil {
			return s.master.socket, nil
		}
		return "", nil
	}
	return c.socket, nil
}

// Resolve makes a remote path absolute against the session's working
// directory (the starting directory), connecting first if need be. sftper
// passes sftp absolute paths only, each quoted whole by batch, so that
// how sftp joins and escapes its working directory never matters. Errors are those of
// Send, or a *ConnError when the working directory's name could not be read
// exactly (then only absolute paths can be used).
func (s *Session) Resolve(ctx context.Context, p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return p, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.connected(ctx)
	if err != nil {
		return "", err
	}
	return resolve(c.cwd, c.cwdErr, p)
}

// resolve joins p to the working directory cwd, unless its name could not
// be read exactly (cwdErr).
func resolve(cwd string, cwdErr error, p string) (string, error) {
	if cwdErr != nil {
		return "", &RelativePathError{Path: p, Why: cwdErr}
	}
	return batch.Join(cwd, p), nil
}

// RelativePathError is a relative path on a connection whose working
// directory's name could not be read exactly: no request with a relative
// path can succeed on it, and the connection is fine.
type RelativePathError struct {
	Path string
	Why  error
}

func (e *RelativePathError) Error() string {
	return fmt.Sprintf("relative path %q cannot be used: %v; use an absolute path", e.Path, e.Why)
}

// discard is the logger of a Config without one.
var discard = log.New(io.Discard, "", 0)

// connected returns a connected child, starting the first one if there
// is none or the last one was lost, and waiting for it to connect (ctx
// bounds the wait). Called with s.mu held.
func (s *Session) connected(ctx context.Context) (*sessionChild, error) {
	if s.closed {
		return nil, ErrClosed
	}
	s.dropStale()
	if len(s.kids) == 0 {
		c, err := s.spawn()
		if err != nil {
			return nil, &ConnError{Msg: err.Error(), Kind: proto.KindConnectFailed}
		}
		s.setKids([]*sessionChild{c})
	}
	for _, c := range s.kids {
		select {
		case <-c.ready:
			if c.connErr == nil {
				return c, nil
			}
		default:
		}
	}
	c := s.kids[0]
	select {
	case <-c.ready:
	case <-ctx.Done():
		if len(s.kids) == 1 {
			c.kill()
		}
		return nil, ctxError(ctx)
	}
	if c.connErr != nil {
		c.closeSession()
		s.setKids(slices.DeleteFunc(slices.Clone(s.kids), func(x *sessionChild) bool { return x == c }))
		return nil, c.connErr
	}
	return c, nil
}

// Close ends the session cleanly: each sftp's input is closed, so it runs
// what was already sent, says goodbye to the server and exits; one that
// has not exited within a few seconds is killed (commands still
// outstanding then fail). Later Sends fail with ErrClosed. The error, if
// any, joins sftp's unexpected exit statuses (or that one had to be
// killed) and what the connection owner could not end.
func (s *Session) Close() error {
	defer sweeps.Wait() // see sweepParts
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	err := s.attrs.close() // first: the master waits for its channels
	for _, c := range s.kids {
		err = errors.Join(err, c.closeSession())
	}
	s.setKids(nil)
	s.signalRoom()
	return errors.Join(err, s.owner.Close())
}

// Kill stops the children at once, without waiting for a Send in progress
// (which then fails with an interrupted *ConnError). It is for signals: the
// caller is about to exit.
func (s *Session) Kill() {
	// Not under s.mu: Send holds it while it waits for a connection.
	if live := s.live.Load(); live != nil {
		for _, c := range *live {
			c.stop("connection lost: sftper is stopping", proto.KindInterrupted)
		}
	}
	s.attrs.kill()
	s.owner.Kill()
}

// spawn starts a session child. With one child, where children share
// connections of sftper's own, its ssh is made the master (ControlMaster=
// yes on a fresh socket of the owner's, ahead of every other option of
// ssh's so that it holds, even against sftp's own: see sshfirst.go): the
// attribute channel then rides the login the session has made, with no
// process started ahead of the session and no second login. A fresh socket
// for every child: one killed with its ssh leaves its socket behind, and a
// new master could not listen there. With several, every child rides the
// owner's master (see Session), started (again) if need be; where the
// owner has none (the user's configuration shares connections, or sharing
// is impossible), children connect as the user's configuration says.
// Called with s.mu held.
func (s *Session) spawn() (*sessionChild, error) {
	settings := s.owner.Settings()
	if !s.several() {
		socket := s.owner.masterSocket()
		var first []string
		if socket != "" {
			first = []string{"-o", "ControlMaster=yes", "-o", "ControlPath=" + socket, "-o", "ControlPersist=no"}
		}
		c, err := startSession(&s.cfg, settings, first, first, false)
		if err == nil {
			c.socket = socket
		}
		return c, err
	}
	if s.master != nil && !s.master.alive() {
		s.owner.retire(s.master)
		s.master = nil
	}
	if s.master == nil {
		m, err := s.owner.Master()
		if err != nil {
			var ce *ConnError
			if errors.As(err, &ce) {
				return nil, ce
			}
			return nil, err
		}
		if m == nil && s.owner.sharingNone() {
			// Every child would log in on its own: not what
			// several sessions are for.
			s.cfg.Log.Printf("several sftp sessions need one shared connection, and none can be made here; going on with one")
			s.most = 1
		}
		if m != nil && m.oneSFTPAtATime() {
			// It mixes up the packets of two busy channels (see
			// oneSFTPAtATime): one session at a time.
			s.cfg.Log.Printf("the server (ProFTPD's mod_sftp) cannot serve two SFTP sessions on one connection at the same time; going on with one")
			s.most = 1
		}
		if m != nil {
			// The master knows the server by now (see gate).
			s.owner.gate.setOpen(!m.oneSFTPAtATime())
		}
		s.master = m
	}
	var extra []string
	if s.master != nil {
		extra = s.master.args()
	}
	return startSession(&s.cfg, settings, nil, extra, s.master != nil)
}

// logChatter logs what sftp and ssh printed while connecting (a banner,
// warnings), without sftp's own "Connected to".
func logChatter(l *log.Logger, lines []string) {
	for _, ln := range lines {
		if m := batch.DecodeMessage(ln); m != "" && !strings.HasPrefix(m, "Connected to ") && !strings.HasPrefix(m, "Attached to ") {
			l.Printf("sftp: %s", m)
		}
	}
}

// startDir goes to the starting directory, if there is one, and reads the
// name of the working directory, with run running one command line. Both
// kinds of connection do this once connected. A starting directory that
// cannot be entered is fatal; a working directory whose name cannot be read
// exactly only rules out relative paths (cwdErr).
func startDir(cfg *Config, run func(line string) ([]string, error)) (cwd string, cwdErr, err error) {
	if cfg.StartDir != "" {
		line, err := batch.Chdir(cfg.StartDir)
		var out []string
		if err == nil {
			out, err = run(line)
		}
		if err == nil {
			if msgs := batch.Messages(out); len(msgs) > 0 {
				err = errors.New(strings.Join(msgs, "; "))
			}
		}
		if err != nil {
			return "", nil, fmt.Errorf("starting directory %q: %v", cfg.StartDir, err)
		}
	}
	out, err := run(batch.Pwd)
	if err != nil {
		return "", nil, fmt.Errorf("reading the remote working directory: %v", err)
	}
	if cwd, cwdErr = batch.ParsePwd(out); cwdErr != nil {
		cfg.Log.Printf("%v: relative remote paths cannot be used", cwdErr)
	}
	return cwd, cwdErr, nil
}

// refusal is the error, and its kind, for a question sftper will not
// answer. A question sftper does not know is an authentication method's
// (keyboard-interactive asks what the server likes), so it is auth_failed.
func refusal(p Prompt) (string, proto.Kind) {
	switch p.Kind {
	case PromptHostKey:
		return "ssh asked to confirm an unknown host key, and sftper never answers that on your behalf. " +
			acceptAdvice + ". ssh said: " + p.Text, proto.KindHostKeyUnknown
	case PromptPassword, PromptPassphrase:
		return fmt.Sprintf("authentication failed: ssh asked for a %s (%q), and sftper has none to give; "+
			"use a key or an ssh-agent, or give it with --password-file or SFTPER_PASSWORD", p.Kind, p.Text), proto.KindAuthFailed
	}
	return fmt.Sprintf("ssh asked a question sftper does not answer: %q", p.Text), proto.KindAuthFailed
}

// startDirKind is the kind of a failed startDir: the connection is up,
// but what was asked of it cannot be done, so none could be made.
func startDirKind(error) proto.Kind { return proto.KindConnectFailed }
