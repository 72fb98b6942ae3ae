package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sftper/sftper/batch"
)

// Session is one sftp child at a time, started at Start or at the first Run
// and kept for every later command. If the child dies (connection dropped,
// server restarted), the commands in flight get a *ConnError and the next
// Send starts a fresh child. Session is safe for concurrent use: lines are
// sent in the order Send is called, and sftp runs them one after another.
type Session struct {
	cfg Config

	mu     sync.Mutex
	c      *child // the current child, nil before the first and after a lost one
	closed bool
	live   atomic.Pointer[child] // c, readable without mu for Kill

	settingsOnce sync.Once
}

func (s *Session) setChild(c *child) {
	s.c = c
	s.live.Store(c)
}

// NewSession returns a session that has not started sftp yet.
func NewSession(cfg Config) *Session {
	return &Session{cfg: cfg.withDefaults()}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.connected(ctx)
	if err != nil {
		return nil, err
	}
	return c.send(line, keep)
}

// Resolve makes a remote path absolute against the session's working
// directory (the starting directory), connecting first if need be. sftper
// passes sftp absolute paths only: sftp's own joining leaves braces in the
// working directory unescaped, which ls would expand. Errors are those of
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
		return "", &ConnError{Msg: fmt.Sprintf("relative path %q cannot be used: %v; use an absolute path", p, cwdErr)}
	}
	return batch.Join(cwd, p), nil
}

// discard is the logger of a Config without one.
var discard = log.New(io.Discard, "", 0)

// connected returns the current child once it is connected, starting a
// fresh one if there is none or the last one was lost. Called with s.mu held.
func (s *Session) connected(ctx context.Context) (*child, error) {
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
			return nil, &ConnError{Msg: err.Error()}
		}
		s.setChild(c)
	}
	c := s.c
	select {
	case <-c.ready:
	case <-ctx.Done():
		c.kill()
		return nil, ctx.Err()
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
// fail). Later Sends fail with ErrClosed. The error, if any, is sftp's
// unexpected exit status.
func (s *Session) Close() error {
	defer sweeps.Wait() // see sweepParts
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.c == nil {
		return nil
	}
	err := s.c.closeSession()
	s.setChild(nil)
	return err
}

// Kill stops the child at once, without waiting for a Run in progress (which
// then fails). It is for signals: the caller is about to exit.
func (s *Session) Kill() {
	// Not under s.mu: Send holds it while it waits for a connection.
	if c := s.live.Load(); c != nil {
		c.kill()
	}
}

func (s *Session) spawn() (*child, error) {
	s.settingsOnce.Do(func() { s.cfg.readSettings() })
	c, err := spawn(&s.cfg, false, nil, nil)
	if err != nil {
		return nil, err
	}
	go c.handshake()
	return c, nil
}

// handshake waits for sftp to be connected: the echo of the first marker
// only comes once ssh has authenticated and sftp has started its command
// loop. Meanwhile it watches the terminal for questions from ssh, which it
// refuses, and the clock. Then it goes to the starting directory and reads
// the working directory's name.
func (c *child) handshake() {
	defer close(c.ready)
	fail := func(msg string) {
		c.connErr = &ConnError{Msg: msg}
		c.kill()
	}
	timeout := time.NewTimer(c.cfg.ConnectTimeout)
	defer timeout.Stop()
	p0 := c.first
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	for connected := false; !connected; {
		select {
		case <-p0.done:
			if p0.err != nil {
				msg := connectFailed(c.lostReason)
				if m, ok := c.answers.rejected(); ok {
					msg = m + "; ssh said: " + c.lostReason
				}
				c.connErr = &ConnError{Msg: msg}
				return
			}
			connected = true
		case <-c.tty.notify:
			if p, ok := DetectPrompt(c.tty.text()); ok {
				if reply, ok := c.answers.answer(p); ok {
					c.tty.answer(reply)
					quiet.Stop()
					continue
				}
				if msg, ok := c.answers.rejected(); ok {
					fail(msg)
					return
				}
				if p.Kind != PromptOther {
					fail(refusal(p))
					return
				}
				// An unknown question may still be arriving in
				// pieces: act once the terminal has been quiet.
				quiet.Reset(500 * time.Millisecond)
			}
		case <-quiet.C:
			if p, ok := DetectPrompt(c.tty.text()); ok {
				fail(refusal(p))
				return
			}
		case <-timeout.C:
			msg := fmt.Sprintf("connect timed out after %s", c.cfg.ConnectTimeout)
			c.qmu.Lock()
			seen := describe(p0.lines, c.tty.text())
			c.qmu.Unlock()
			if seen != "" {
				msg += ": " + seen
			}
			fail(msg)
			return
		}
	}
	logChatter(c.cfg.Log, p0.lines)
	// ssh has opened its session, and with it made its stderr
	// non-blocking; see childPipes.
	c.pipes.restoreBlocking()
	c.tty.connected()
	c.watchSSH()
	cwd, cwdErr, err := startDir(c.cfg, func(line string) ([]string, error) {
		p, err := c.send(line, nil)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ConnectTimeout)
		defer cancel()
		return p.Wait(ctx)
	})
	if err != nil {
		fail(err.Error())
		return
	}
	c.cwd, c.cwdErr = cwd, cwdErr
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

// refusal is the error for a question sftper will not answer.
func refusal(p Prompt) string {
	switch p.Kind {
	case PromptHostKey:
		return "ssh asked to confirm an unknown host key, and sftper never answers that on your behalf. " +
			acceptAdvice + ". ssh said: " + p.Text
	case PromptPassword, PromptPassphrase:
		return fmt.Sprintf("authentication failed: ssh asked for a %s (%q), and sftper has none to give; "+
			"use a key or an ssh-agent, or give it with --password-file or SFTPER_PASSWORD", p.Kind, p.Text)
	}
	return fmt.Sprintf("ssh asked a question sftper does not answer: %q", p.Text)
}

// stale reports a child that a new command must not use: its handshake
// failed before the command came, or it has died since the last command.
func (c *child) stale() bool {
	select {
	case <-c.ready:
		if c.connErr != nil {
			return true
		}
	default:
		return false
	}
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// watchSSH ends the session once its ssh has exited while no command is
// outstanding (see exitwatch.go). With a command outstanding, sftp fails
// it itself.
func (c *child) watchSSH() {
	ssh := childOf(c.cmd.Process.Pid, "ssh")
	if ssh == 0 {
		return // not ssh (a -S program of the user's): sftp will say
	}
	stop, err := watchExit(ssh, func() {
		c.qmu.Lock()
		idle := len(c.queue) == 0
		c.qmu.Unlock()
		if idle && !c.closing.Load() {
			c.cfg.Log.Printf("ssh exited between commands (connection lost); the next command connects again")
			c.stop("connection lost: ssh exited between commands")
		}
	})
	if err != nil {
		return
	}
	go func() {
		<-c.exited
		stop()
	}()
}

// closeSession ends the session's sftp cleanly (see child.close) and
// reports an unexpected exit status.
func (c *child) closeSession() error {
	err := c.close()
	<-c.ready // the handshake ends once the output has
	if err == nil && c.status != nil && c.connErr == nil {
		var ee *exec.ExitError
		if !errors.As(c.status, &ee) || ee.ExitCode() != 0 {
			err = fmt.Errorf("sftp: %v", c.status)
		}
	}
	return err
}
