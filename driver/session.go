package driver

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/sftper/sftper/batch"
)

// Config says how to start sftp.
type Config struct {
	// Program is the sftp program and any extra arguments of the user's
	// (--sftp-command); empty means "sftp" from PATH.
	Program []string
	// Args are the user's OpenSSH options (-F, -o, -i, -P, -J), passed
	// through in the order given.
	Args []string
	// Destination is what sftp connects to: [user@]host or
	// sftp://[user@]host[:port], without a path.
	Destination string
	// StartDir is the remote directory to start in; empty for the login
	// directory.
	StartDir string
	// ConnectTimeout bounds the time from starting sftp to its first prompt.
	ConnectTimeout time.Duration
	// Log receives what the child prints outside any command (warnings,
	// the banner). Nil discards it.
	Log *log.Logger
}

// ConnError is a session that could not be established or was lost. Sent
// tells whether the command line had been sent to sftp before that happened
// (and so may have had effects).
type ConnError struct {
	Msg  string
	Sent bool
}

func (e *ConnError) Error() string { return e.Msg }

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("session closed")

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
}

func (s *Session) setChild(c *child) {
	s.c = c
	s.live.Store(c)
}

// NewSession returns a session that has not started sftp yet.
func NewSession(cfg Config) *Session {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = log.New(io.Discard, "", 0)
	}
	return &Session{cfg: cfg}
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
func (s *Session) Send(ctx context.Context, line string) (*Pending, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.connected(ctx)
	if err != nil {
		return nil, err
	}
	return c.send(line)
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
	if c.cwdErr != nil {
		return "", &ConnError{Msg: fmt.Sprintf("relative path %q cannot be used: %v; use an absolute path", p, c.cwdErr)}
	}
	return batch.Join(c.cwd, p), nil
}

// connected returns the current child once it is connected, starting a
// fresh one if there is none or the last one was lost. Called with s.mu held.
func (s *Session) connected(ctx context.Context) (*child, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if s.c != nil && s.c.stale() {
		s.c.close()
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
		c.close()
		s.setChild(nil)
		return nil, c.connErr
	}
	return c, nil
}

// Run sends one command line and waits for its output: Send, then Wait.
func (s *Session) Run(ctx context.Context, line string) ([]string, error) {
	p, err := s.Send(ctx, line)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Pending is a command line sent to sftp whose output has not all come yet.
type Pending struct {
	c      *child
	marker string // the echo of the marker line that ends this command
	lines  []string
	done   chan struct{}
	err    error
}

// Wait returns what sftp printed for the command, split at LF (sftp does
// not echo sftper's commands). It waits as long as the command takes (a transfer may take hours).
// If the session is lost first, the error is a *ConnError; if ctx ends
// first, the child is killed (every outstanding command then fails) and the
// error is ctx's.
func (p *Pending) Wait(ctx context.Context) ([]string, error) {
	select {
	case <-p.done:
		return p.lines, p.err
	case <-ctx.Done():
		p.c.kill()
		return nil, ctx.Err()
	}
}

// Close ends the session cleanly: sftp's input is closed, so it runs what
// was already sent, says goodbye to the server and exits; it is killed if
// it has not exited within a few seconds (commands still outstanding then
// fail). Later Sends fail with ErrClosed. The error, if any, is sftp's
// unexpected exit status.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.c == nil {
		return nil
	}
	err := s.c.close()
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

// child is one sftp process and everything attached to it.
type child struct {
	cfg    *Config
	cmd    *exec.Cmd
	stdin  *os.File
	pipes  *childPipes
	tty    *ttyWatch
	exited chan struct{} // closed once the process has been waited for
	status error         // cmd.Wait's result, valid after exited

	nonce string
	seq   int // of the last marker sent; sends are serialised by Session.mu

	qmu        sync.Mutex
	queue      []*Pending // sent and not yet complete, in the order sent
	lost       *ConnError // set when the output has ended: later sends fail with it
	lostReason string     // why, for the handshake's message

	ready   chan struct{} // closed when the handshake is over
	connErr *ConnError    // the handshake's failure, valid after ready
	cwd     string        // the remote working directory, valid after ready
	cwdErr  error         // why cwd could not be read exactly, if so
}

func (s *Session) spawn() (*child, error) {
	prog := s.cfg.Program
	if len(prog) == 0 {
		prog = []string{"sftp"}
	}
	args := append(append(append([]string{}, prog[1:]...), s.cfg.Args...), "--", s.cfg.Destination)
	cmd := exec.Command(prog[0], args...)
	cmd.Env = childEnv(os.Environ())

	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pseudo-terminal: %w", err)
	}
	ptmx, err = pollable(ptmx)
	if err != nil {
		tty.Close()
		return nil, err
	}
	pipes, err := newChildPipes()
	if err != nil {
		ptmx.Close()
		tty.Close()
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pipes.inR, pipes.outW, pipes.errW
	cmd.ExtraFiles = []*os.File{tty}
	// A session of its own with the pty as controlling terminal: ssh's
	// /dev/tty is the pty, and the whole process group (sftp, ssh and any
	// ProxyCommand) can be signalled at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 3}
	err = cmd.Start()
	tty.Close()
	if err != nil {
		ptmx.Close()
		pipes.closeAll()
		return nil, fmt.Errorf("start %s: %w", prog[0], err)
	}
	pipes.started()

	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	c := &child{
		cfg:    &s.cfg,
		cmd:    cmd,
		stdin:  pipes.inW,
		pipes:  pipes,
		tty:    newTTYWatch(ptmx, s.cfg.Log),
		exited: make(chan struct{}),
		nonce:  hex.EncodeToString(nonce[:]),
		ready:  make(chan struct{}),
	}
	go c.route(pipes.outR)
	go func() {
		c.status = cmd.Wait()
		pipes.restoreBlocking() // let the output reach its end
		close(c.exited)
	}()
	go c.handshake()
	return c, nil
}

// childEnv pins what sftp's output depends on and nothing else.
func childEnv(env []string) []string {
	pinned := map[string]string{"TZ": "UTC", "LC_ALL": "C.UTF-8", "TERM": "dumb", "EDITRC": "/dev/null"}
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := pinned[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range pinned {
		out = append(out, k+"="+v)
	}
	return out
}

// pollable returns f as a non-blocking, poller-registered file, so that
// closing it interrupts a blocked Read. (pty.Open hands out a blocking file.)
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return nil, fmt.Errorf("dup pty: %w", errno)
	}
	if err := syscall.SetNonblock(int(fd), true); err != nil {
		syscall.Close(int(fd))
		return nil, fmt.Errorf("pty non-blocking: %w", err)
	}
	return os.NewFile(fd, f.Name()), nil
}

func (c *child) marker(seq int) string {
	return fmt.Sprintf("# sftper-%s-%d", c.nonce, seq)
}

// send writes a command line (none for "") and the marker that follows it,
// and queues the command for route to fill in.
func (c *child) send(line string) (*Pending, error) {
	c.seq++
	m := c.marker(c.seq)
	p := &Pending{c: c, marker: "sftp> " + m, done: make(chan struct{})}
	c.qmu.Lock()
	if c.lost != nil {
		c.qmu.Unlock()
		return nil, &ConnError{Msg: c.lost.Msg}
	}
	c.queue = append(c.queue, p) // before writing: the output may come at once
	c.qmu.Unlock()
	// "@" stops sftp from echoing the command: only the marker's echo is
	// needed, and every line sftp prints costs a wake-up on both sides.
	text := m + "\n"
	if line != "" {
		text = "@" + line + "\n" + text
	}
	if _, err := io.WriteString(c.stdin, text); err != nil {
		// sftp is gone; route fails p with the reason once the output ends.
		c.kill()
	}
	return p, nil
}

// route reads what sftp prints and hands each line to the oldest outstanding
// command, up to that command's marker. When the output ends (sftp exited:
// the connection was lost, or it was stopped), every outstanding command
// fails with the reason. Reading and routing in one goroutine saves a
// hand-off per line.
func (c *child) route(out *os.File) {
	br := bufio.NewReaderSize(out, 64<<10)
	for {
		ln, err := br.ReadString('\n')
		if ln != "" {
			c.routeLine(strings.TrimSuffix(ln, "\n"))
		}
		if err != nil {
			break
		}
	}
	out.Close()
	c.qmu.Lock()
	var head []string
	if len(c.queue) > 0 {
		head = c.queue[0].lines
	}
	c.qmu.Unlock()
	reason := c.exitReason(head)
	c.qmu.Lock()
	c.lost = &ConnError{Msg: "connection lost: " + reason, Sent: true}
	c.lostReason = reason
	queue := c.queue
	c.queue = nil
	c.qmu.Unlock()
	for _, p := range queue {
		p.err = c.lost
		close(p.done)
	}
}

func (c *child) routeLine(ln string) {
	c.qmu.Lock()
	if len(c.queue) == 0 {
		c.qmu.Unlock()
		// Between commands: "Connection closed." when the transport
		// dies, or a late warning.
		if m := batch.DecodeMessage(ln); m != "" {
			c.cfg.Log.Printf("sftp: %s", m)
		}
		return
	}
	p := c.queue[0]
	if ln == p.marker {
		c.queue = c.queue[1:]
		c.qmu.Unlock()
		close(p.done)
		return
	}
	// Everything up to the marker belongs to this command, parse errors
	// included.
	p.lines = append(p.lines, ln)
	c.qmu.Unlock()
}

// handshake waits for sftp to be connected: the echo of the first marker
// only comes once ssh has authenticated and sftp has started its command
// loop. Meanwhile it watches the terminal for questions from ssh, which it
// refuses, and the clock.
func (c *child) handshake() {
	defer close(c.ready)
	fail := func(msg string) {
		c.connErr = &ConnError{Msg: msg}
		c.kill()
	}
	timeout := time.NewTimer(c.cfg.ConnectTimeout)
	defer timeout.Stop()
	p0, err := c.send("")
	if err != nil {
		c.connErr = &ConnError{Msg: "connect failed: " + err.Error()}
		return
	}
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	for connected := false; !connected; {
		select {
		case <-p0.done:
			if p0.err != nil {
				c.connErr = &ConnError{Msg: "connect failed: " + c.lostReason}
				return
			}
			connected = true
		case <-c.tty.notify:
			if p, ok := DetectPrompt(c.tty.text()); ok {
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
	for _, ln := range p0.lines {
		if m := batch.DecodeMessage(ln); m != "" && !strings.HasPrefix(m, "Connected to ") && !strings.HasPrefix(m, "Attached to ") {
			c.cfg.Log.Printf("sftp: %s", m)
		}
	}
	// ssh has opened its session, and with it made its stderr
	// non-blocking; see childPipes.
	c.pipes.restoreBlocking()
	c.tty.connected()
	if c.cfg.StartDir != "" {
		out, err := c.setupStep(batch.Chdir(c.cfg.StartDir))
		if err == nil {
			if msgs := batch.Messages(out); len(msgs) > 0 {
				err = errors.New(strings.Join(msgs, "; "))
			}
		}
		if err != nil {
			fail(fmt.Sprintf("starting directory %q: %v", c.cfg.StartDir, err))
			return
		}
	}
	out, err := c.setupStep(batch.Pwd, nil)
	if err != nil {
		fail(fmt.Sprintf("reading the remote working directory: %v", err))
		return
	}
	if c.cwd, c.cwdErr = batch.ParsePwd(out); c.cwdErr != nil {
		c.cfg.Log.Printf("%v: relative remote paths cannot be used", c.cwdErr)
	}
}

// setupStep runs one command of the handshake, bounded by the connect
// timeout.
func (c *child) setupStep(line string, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	p, err := c.send(line)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ConnectTimeout)
	defer cancel()
	return p.Wait(ctx)
}

// refusal is the error for a question sftper will not answer.
func refusal(p Prompt) string {
	switch p.Kind {
	case PromptHostKey:
		return "ssh asked to confirm an unknown host key, and sftper never answers that on your behalf. " +
			"Check the fingerprint, then add the key to known_hosts deliberately (for example with ssh-keyscan, " +
			"or by connecting once with ssh), or choose -o StrictHostKeyChecking=accept-new yourself. ssh said: " + p.Text
	case PromptPassword, PromptPassphrase:
		return fmt.Sprintf("authentication failed: ssh asked for a %s (%q), and sftper has none to give; "+
			"use a key or an ssh-agent", p.Kind, p.Text)
	}
	return fmt.Sprintf("ssh asked a question sftper does not answer: %q", p.Text)
}

// exitReason waits briefly for the child to exit after its output ended and
// says why it ended, from what it printed and its exit status.
func (c *child) exitReason(seen []string) string {
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		c.kill()
		<-c.exited
	}
	what := describe(seen, "")
	status := "sftp exited"
	var ee *exec.ExitError
	if errors.As(c.status, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			status = fmt.Sprintf("sftp was killed by signal %s", ws.Signal())
		} else {
			status = fmt.Sprintf("sftp exited with status %d", ee.ExitCode())
		}
	} else if c.status != nil {
		status = c.status.Error()
	}
	if what == "" {
		return status
	}
	return what + " (" + status + ")"
}

// describe condenses what sftp and ssh printed into one line for an error
// message: every non-blank line, decoded, without sftp's own chatter.
func describe(lines []string, tty string) string {
	var parts []string
	for _, ln := range lines {
		m := batch.DecodeMessage(ln)
		if m == "" || strings.HasPrefix(m, "Connected to ") || strings.HasPrefix(m, "Attached to ") || strings.HasPrefix(m, "sftp> ") {
			continue
		}
		if len(parts) > 0 && parts[len(parts)-1] == strings.TrimSuffix(m, ".") {
			continue // "Connection closed." then "Connection closed"
		}
		parts = append(parts, strings.TrimSuffix(m, "."))
	}
	if t := strings.TrimSpace(strings.ReplaceAll(tty, "\r", "")); t != "" {
		parts = append(parts, "on the terminal: "+t)
	}
	return strings.Join(parts, "; ")
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

// kill stops sftp and everything it started (ssh, a ProxyCommand) at once.
func (c *child) kill() {
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	c.stdin.Close()
}

// close ends sftp cleanly: on EOF it closes the SFTP session and ssh says
// goodbye to the server. If it does not exit in time it is terminated, then
// killed.
func (c *child) close() error {
	c.stdin.Close()
	var err error
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(2 * time.Second):
		}
		err = fmt.Errorf("sftp did not exit within 5 s of the end of its input")
	}
	c.kill() // stragglers in the process group
	<-c.exited
	<-c.ready // the handshake ends once the output has
	c.tty.close()
	if err == nil && c.status != nil && c.connErr == nil {
		var ee *exec.ExitError
		if !errors.As(c.status, &ee) || ee.ExitCode() != 0 {
			err = fmt.Errorf("sftp: %v", c.status)
		}
	}
	return err
}
