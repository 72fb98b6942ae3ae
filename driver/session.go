package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/proto"
)

// Session is one sftp child at a time, started at Start or at the first Run
// and kept for every later command. If the child dies (connection dropped,
// server restarted), the commands in flight get a *ConnError and the next
// Send starts a fresh child. Session is safe for concurrent use: lines are
// sent in the order Send is called, and sftp runs them one after another.
//
// Its connection owner (owner.go) holds the user's ssh settings; a
// Session starts no ControlMaster process (see connOwner for why): its
// own sftp's ssh is the master, listening on a socket of the owner's
// (see spawn), for its attribute channel (attrs.go).
type Session struct {
	cfg   Config
	owner *connOwner
	attrs *attrChannel

	mu     sync.Mutex
	c      *sessionChild // the current child, nil before the first and after a lost one
	closed bool
	live   atomic.Pointer[sessionChild] // c, readable without mu for Kill
}

var _ Conn = (*Session)(nil)

func (s *Session) setChild(c *sessionChild) {
	s.c = c
	s.live.Store(c)
}

// NewSession returns a session that has not started sftp yet.
func NewSession(cfg Config) *Session {
	s := &Session{cfg: cfg.withDefaults()}
	s.owner = newConnOwner(&s.cfg)
	s.attrs = newAttrChannel(&s.cfg, s.owner, s.controlSocket, s.dropChild)
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
	if s.c == nil {
		c, err := s.spawn()
		if err != nil {
			return err
		}
		s.setChild(c)
	}
	return nil
}

// Send sends one sftp command line and returns at once; Wait on the result
// for what sftp printed. Lines reach sftp in the order Send is called, and
// several may be outstanding: sftp runs them one after another, and the
// marker after each tells exactly where its output ends. The first Send
// after a lost session starts a fresh one and waits for it to connect (ctx
// bounds that wait). Errors: a *ConnError if the session cannot be
// established, ErrClosed, or ctx's error.
func (s *Session) Send(ctx context.Context, line string, keep LineFunc) (*Pending, error) {
	release, err := s.owner.gate.enter(ctx, lines)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.connected(ctx)
	if err != nil {
		release()
		return nil, err
	}
	p, err := c.send(line, keep)
	if err != nil {
		release()
		return nil, err
	}
	releaseWhenDone(p, release)
	return p, nil
}

// Attrs runs f on the attribute channel (see Conn).
func (s *Session) Attrs(ctx context.Context, f AttrFunc) *Call {
	return s.attrs.run(ctx, &s.owner.gate, f)
}

// dropChild ends the child, whose connection stopped answering the
// attribute channel (the gate keeps lines out meanwhile): the next Send
// starts a fresh one, as after a line that stalled.
func (s *Session) dropChild() {
	if c := s.live.Load(); c != nil {
		s.cfg.Log.Printf("the server stopped answering; the next request connects again")
		c.stop("timed out: the server stopped answering", proto.KindTimeout)
	}
}

// controlSocket connects the session if need be and returns the socket
// its ssh listens on as a master, "" if it listens on none of sftper's.
func (s *Session) controlSocket(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.connected(ctx)
	if err != nil {
		return "", err
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

// connected returns the current child once it is connected, starting a
// fresh one if there is none or the last one was lost. Called with s.mu held.
func (s *Session) connected(ctx context.Context) (*sessionChild, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if s.c != nil && s.c.stale() {
		s.c.closeSession()
		s.setChild(nil)
	}
	if s.c == nil {
		c, err := s.spawn()
		if err != nil {
			return nil, &ConnError{Msg: err.Error(), Kind: proto.KindConnectFailed}
		}
		s.setChild(c)
	}
	c := s.c
	select {
	case <-c.ready:
	case <-ctx.Done():
		c.kill()
		return nil, ctxError(ctx)
	}
	if c.connErr != nil {
		c.closeSession()
		s.setChild(nil)
		return nil, c.connErr
	}
	return c, nil
}

// Close ends the session cleanly: sftp's input is closed, so it runs what
// was already sent, says goodbye to the server and exits; it is killed if
// it has not exited within a few seconds (commands still outstanding then
// fail). Later Sends fail with ErrClosed. The error, if any, joins sftp's
// unexpected exit status (or that it had to be killed) and what the
// connection owner could not end.
func (s *Session) Close() error {
	defer sweeps.Wait() // see sweepParts
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	err := s.attrs.close() // first: the master waits for its channels
	if s.c != nil {
		err = errors.Join(err, s.c.closeSession())
		s.setChild(nil)
	}
	return errors.Join(err, s.owner.Close())
}

// Kill stops the child at once, without waiting for a Run in progress (which
// then fails with an interrupted *ConnError). It is for signals: the caller
// is about to exit.
func (s *Session) Kill() {
	// Not under s.mu: Send holds it while it waits for a connection.
	if c := s.live.Load(); c != nil {
		c.stop("connection lost: sftper is stopping", proto.KindInterrupted)
	}
	s.attrs.kill()
	s.owner.Kill()
}

// spawn starts a session child. Where children share connections of
// sftper's own, its ssh is made the master (ControlMaster=yes on a fresh
// socket of the owner's, ahead of every other option of ssh's so that it
// holds, even against sftp's own: see sshfirst.go): the
// attribute channel then rides the login the session has made, with no
// process started ahead of the session and no second login. A fresh
// socket for every child: one killed with its ssh leaves its socket
// behind, and a new master could not listen there.
func (s *Session) spawn() (*sessionChild, error) {
	settings := s.owner.Settings()
	socket := s.owner.masterSocket()
	var first []string
	if socket != "" {
		first = []string{"-o", "ControlMaster=yes", "-o", "ControlPath=" + socket, "-o", "ControlPersist=no"}
	}
	c, err := startSession(&s.cfg, settings, first)
	if err == nil {
		c.socket = socket
	}
	return c, err
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
