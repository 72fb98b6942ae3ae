package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/sftper/sftper/proto"
)

// sessionChild is the session kind of sftp child: one persistent sftp,
// run in batch mode for its quiet output but with "-" before every command
// so that a failed one does not end it, with a pseudo-terminal as its
// controlling terminal, where ssh asks its questions (see doc.go). It is
// connected once its handshake is over: ssh's questions refused or
// answered (the secret given once), the starting directory entered and the
// working directory read. Its ssh is watched once connected, so that a
// connection lost between commands is noticed.
type sessionChild struct {
	*process
	tty     *ttyWatch // the controlling terminal
	answers *answers  // what to answer on it

	socket string // the control socket its ssh listens on as a master, if any

	// The handshake's outcome, valid after ready.
	ready   chan struct{}
	connErr *ConnError
	cwd     string
	cwdErr  error
}

// startSession starts a session's sftp on a fresh pseudo-terminal and
// begins its handshake; first are options for its ssh ahead of all others
// (see sshfirst.go), extra ahead of the user's (a master's, to ride it:
// rides).
func startSession(cfg *Config, settings Settings, first, extra []string, rides bool) (*sessionChild, error) {
	var defaults []string
	if !settings.BatchMode() {
		// A session runs sftp in batch mode too, for its quiet output
		// (no "Uploading ..." line per transfer), but lets ssh ask its
		// questions on the pty as it would without -b; unless the
		// user's configuration sets BatchMode itself.
		defaults = []string{"-o", "BatchMode=no"}
	}
	// The pty is the controlling terminal: ssh's /dev/tty, where it asks
	// its questions (see doc.go).
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pseudo-terminal: %w", err)
	}
	if ptmx, err = pollable(ptmx); err != nil {
		tty.Close()
		return nil, err
	}
	p, err := startProcess(cfg, settings, processSpec{sshFirst: first, extra: extra, rides: rides, defaults: defaults, ctty: tty, prefix: "-@"})
	tty.Close() // the child has it; keeping it would keep the pty from ending
	if err != nil {
		ptmx.Close()
		return nil, err
	}
	c := &sessionChild{
		process: p,
		tty:     newTTYWatch(ptmx, cfg.Log),
		answers: newAnswers(cfg.Secret),
		ready:   make(chan struct{}),
	}
	go c.handshake()
	return c, nil
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

// questionQuiet is how long the terminal must stay quiet before a question
// sftper does not recognise is taken as complete and refused: ssh writes
// a prompt in one write, but a keyboard-interactive server's may come in
// pieces, and refusing half a question would make a worse message.
const questionQuiet = 500 * time.Millisecond

// handshake waits for sftp to be connected: the echo of the first marker
// only comes once ssh has authenticated and sftp has started its command
// loop. Meanwhile it watches the terminal for questions from ssh, which it
// refuses, and the clock. Then it goes to the starting directory and reads
// the working directory's name.
func (c *sessionChild) handshake() {
	defer close(c.ready)
	fail := func(msg string, kind proto.Kind) {
		c.connErr = &ConnError{Msg: msg, Kind: kind}
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
				msg, kind := connectFailed(c.lostReason, c.lostKind)
				if m, ok := c.answers.rejected(); ok {
					msg, kind = m+"; ssh said: "+c.lostReason, proto.KindAuthFailed
				}
				c.connErr = &ConnError{Msg: msg, Kind: kind}
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
					fail(msg, proto.KindAuthFailed)
					return
				}
				if p.Kind != PromptOther {
					fail(refusal(p))
					return
				}
				// An unknown question may still be arriving in
				// pieces: act once the terminal has been quiet.
				quiet.Reset(questionQuiet)
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
			fail(msg, proto.KindTimeout)
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
		fail(err.Error(), startDirKind(err))
		return
	}
	c.cwd, c.cwdErr = cwd, cwdErr
}

// stale reports a child that a new command must not use: its handshake
// failed before the command came, or it has died since the last command.
func (c *sessionChild) stale() bool {
	select {
	case <-c.ready:
		if c.connErr != nil {
			return true
		}
	default:
		return false
	}
	// Stopped (a stall, or the attribute channel's timeout: dropChild)
	// but not yet exited: it must take no new line, which would only
	// share its end.
	if c.stopping() {
		return true
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
func (c *sessionChild) watchSSH() {
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
			c.stop("connection lost: ssh exited between commands", proto.KindConnectionLost)
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

// closeSession ends the session's sftp cleanly (see process.close) and
// reports an unexpected exit status, and closes the terminal. A child whose
// output had already ended was lost before (or stopped): its commands have
// had the reason, and its status is no news.
func (c *sessionChild) closeSession() error {
	var over bool
	select {
	case <-c.ended:
		over = true
	default:
	}
	err := c.close()
	<-c.ready // the handshake ends once the output has
	c.tty.close()
	if err == nil && !over && c.status != nil && c.connErr == nil && !c.stopped() {
		var ee *exec.ExitError
		if !errors.As(c.status, &ee) || ee.ExitCode() != 0 {
			err = fmt.Errorf("sftp: %v", c.status)
		}
	}
	return err
}
