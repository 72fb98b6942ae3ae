package driver

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/creack/pty"

	"github.com/sftper/sftper/batch"
)

// child is one sftp process and everything attached to it: a persistent
// interactive session (Session) or one `sftp -b -` script (Scripts). Both
// are read the same way: every command line sftper sends is followed by a
// marker comment, and the marker's echo ends that command's output.
type child struct {
	cfg    *Config
	script bool // sftp -b -: no terminal, stops at the first failing line
	cmd    *exec.Cmd
	stdin  *os.File
	pipes  *childPipes
	tty    *ttyWatch     // the controlling terminal; nil for a script
	exited chan struct{} // closed once the process has been waited for
	status error         // cmd.Wait's result, valid after exited

	nonce string
	seq   int // of the last marker sent; sends are serialised by the owner

	qmu        sync.Mutex
	queue      []*Pending // sent and not yet complete, in the order sent
	lost       *ConnError // set when the output has ended: later sends fail with it
	lostReason string     // why, for the handshake's message
	why        string     // set by stop: the reason to give instead of the exit status

	ended   chan struct{} // closed when the output has ended and every command is settled
	closing atomic.Bool   // close has begun
	unrun   []*Pending    // a script's lines that never ran (an earlier one failed); valid after ended
	link    *link         // a script's connection (see Scripts)
	// A script's: whether it has been given its lines, and a watch on its
	// ssh once connected (nil if there is none to watch). Under qmu.
	assigned bool
	ssh      *procWatch
	watched  chan struct{} // closed once ssh is watched, or found not to be watchable

	stall   stallWatch // under qmu
	stalled bool       // stopped for want of progress (see stall.go); under qmu
	first   *Pending   // the connect marker, queued by spawn: done without error once connected

	// Only for a Session: what to answer on the terminal, and the
	// handshake's outcome, valid after ready.
	answers *answers
	ready   chan struct{}
	connErr *ConnError
	cwd     string
	cwdErr  error
}

// spawn starts sftp: with the user's program and options, extra options of
// sftper's own in front of them (so that they win, as ssh keeps the first
// value of an option), sftper's keep-alive defaults behind them (so that
// the user's win), and for a script "-b -" after those (so that a
// BatchMode the user sets wins over the one -b implies).
func spawn(cfg *Config, script bool, extra, env []string) (*child, error) {
	prog := cfg.Program
	if len(prog) == 0 {
		prog = []string{"sftp"}
	}
	args := append(append(append([]string{}, prog[1:]...), extra...), cfg.Args...)
	// Defaults of sftper's that the user's own options override.
	args = append(args, cfg.keepAlive()...)
	if !script && cfg.settings["batchmode"] != "yes" {
		// A session runs sftp in batch mode too, for its quiet output
		// (no "Uploading ..." line per transfer), but lets ssh ask its
		// questions on the pty as it would without -b; unless the
		// user's configuration sets BatchMode itself.
		args = append(args, "-o", "BatchMode=no")
	}
	args = append(args, "-b", "-")
	args = append(args, "--", cfg.Destination)
	cmd := exec.Command(prog[0], args...)
	cmd.Env = childEnv(append(append(os.Environ(), cfg.Env...), env...))

	pipes, err := newChildPipes()
	if err != nil {
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pipes.inR, pipes.outW, pipes.errW
	// A session of its own: the whole process group (sftp, ssh and any
	// ProxyCommand) can be signalled at once, and ssh has no way to the
	// terminal sftper may have been started from. Pdeathsig: sftp dies
	// with sftper, so that nothing writes a killed sftper's download
	// file any more (see leftovers.go). The kernel sends it when the
	// thread that started sftp ends, not only the process; Go ends a
	// thread before the process only when a goroutine locked to it
	// (runtime.LockOSThread) returns, which nothing in sftper does (the
	// master relies on the same).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	var ptmx, tty *os.File
	if !script {
		// The pty is the controlling terminal: ssh's /dev/tty, where it
		// asks its questions (see doc.go).
		if ptmx, tty, err = pty.Open(); err != nil {
			pipes.closeAll()
			return nil, fmt.Errorf("open pseudo-terminal: %w", err)
		}
		if ptmx, err = pollable(ptmx); err != nil {
			tty.Close()
			pipes.closeAll()
			return nil, err
		}
		cmd.ExtraFiles = []*os.File{tty}
		cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, 3
	}
	err = cmd.Start()
	if tty != nil {
		tty.Close()
	}
	if err != nil {
		if ptmx != nil {
			ptmx.Close()
		}
		pipes.closeAll()
		return nil, fmt.Errorf("start %s: %w", prog[0], err)
	}
	pipes.started()

	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	c := &child{
		cfg:     cfg,
		script:  script,
		cmd:     cmd,
		stdin:   pipes.inW,
		pipes:   pipes,
		exited:  make(chan struct{}),
		nonce:   hex.EncodeToString(nonce[:]),
		ended:   make(chan struct{}),
		ready:   make(chan struct{}),
		watched: make(chan struct{}),
	}
	if ptmx != nil {
		c.tty = newTTYWatch(ptmx, cfg.Log)
		c.answers = newAnswers(cfg.Secret)
	}
	// The connect marker is queued before anything is read: ssh may fail
	// and print why before spawn returns, and what it prints then is the
	// reason for the connect failure, not a stray warning.
	c.first = newPending("", c.kill)
	c.first.connect = true
	text, _ := c.enqueue(c.first) // cannot fail before the output has ended
	go c.route(pipes.outR)
	go func() {
		c.status = cmd.Wait()
		pipes.restoreBlocking() // let the output reach its end
		close(c.exited)
		c.endOutput()
	}()
	if _, err := io.WriteString(c.stdin, text); err != nil {
		c.kill() // settled as a connect failure once the output ends
	}
	return c, nil
}

// outputLinger is how long sftper goes on reading a child's output after
// the child has exited, when something else still holds the pipe's
// writing end. Something can: an ssh that multiplexes over a master
// passes its standard error to the master, which holds it as long as the
// channel lives, and a hung server may never end the channel. Normally the
// output ends at once with the process; the wait is only for the rest of
// what sftp and its ssh had written, which sftper reads at once.
const outputLinger = 2 * time.Second

// endOutput makes sure the output reaches its end once the child has
// exited: at once when sftper stopped it on purpose (the reason is its
// own; anything still to come is of no use), else once outputLinger has
// passed with nothing left unread in the pipe (route may be slow to read
// on a busy machine, and what is in the pipe is sftp's).
func (c *child) endOutput() {
	c.qmu.Lock()
	stopped := c.why != ""
	c.qmu.Unlock()
	for !stopped {
		select {
		case <-c.ended:
			return
		case <-time.After(outputLinger):
		}
		if unread(c.pipes.outR) <= 0 { // -1: cannot tell; do not wait forever
			break
		}
	}
	select {
	case <-c.ended:
	default:
		c.pipes.outR.Close() // route's read fails, and it settles what is left
	}
}

// unread is how many bytes wait in the pipe f reads from (FIONREAD); -1
// if that cannot be told.
func unread(f *os.File) int {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	rc.Control(func(fd uintptr) {
		var v int32
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&v))); errno == 0 {
			n = int(v)
		}
	})
	return n
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

// enqueue gives p the next marker and queues it for route to fill in; it
// returns the text to write: the command line (none for "") and the
// marker. "@" stops sftp from echoing the command: only the marker's echo
// is needed, and every line sftp prints costs a wake-up on both sides.
func (c *child) enqueue(p *Pending) (string, error) {
	c.seq++
	m := c.marker(c.seq)
	p.marker = "sftp> " + m
	p.lines = nil
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.lost != nil {
		return "", &ConnError{Msg: c.lost.Msg}
	}
	c.queue = append(c.queue, p) // before writing: the output may come at once
	if len(c.queue) == 1 {
		c.armStall()
	}
	if p.line == "" {
		return m + "\n", nil
	}
	prefix := "@"
	if !c.script {
		// In a session a failed command must not end sftp, as -b
		// would: "-" lets it go on.
		prefix = "-@"
	}
	return prefix + p.line + "\n" + m + "\n", nil
}

// send queues a command line and writes it to sftp.
func (c *child) send(line string, keep LineFunc) (*Pending, error) {
	p := newPending(line, c.kill)
	p.take = keep
	text, err := c.enqueue(p)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c.stdin, text); err != nil {
		// sftp is gone; route fails p with the reason once the output ends.
		c.kill()
	}
	return p, nil
}

// Taking each command's end the moment sftp prints it costs a wake-up of
// sftper per command, and with sftp, ssh and the server sharing the same
// few cores, those wake-ups add up to a tenth of the time of a stream of
// small transfers. When sftp has at least coalesceDepth commands queued
// behind the one that just ended, nothing is gained by hurrying: route
// pauses before reading on, and then takes the ends of several commands in
// one read. The pause is coalescePerCommand for each command still queued:
// every SFTP command takes at least one round trip to the server, longer
// than that even on loopback, so sftp still has work when route reads
// again, and no result waits longer than the commands ahead of it would
// take at that pace anyway. A client that waits for each result, or keeps
// only a few in flight, is never paused.
const (
	coalesceDepth      = 16
	coalescePerCommand = 125 * time.Microsecond
)

// route reads what sftp prints and hands each line to the oldest outstanding
// command, up to that command's marker. When the output ends (sftp exited:
// the script is over, the connection was lost, or it was stopped), every
// command still outstanding is settled (see settle). Reading and routing in
// one goroutine saves a hand-off per line.
func (c *child) route(out *os.File) {
	br := bufio.NewReaderSize(out, 64<<10)
	for {
		ln, err := br.ReadString('\n')
		if ln != "" {
			left := c.routeLine(strings.TrimSuffix(ln, "\n"))
			// Only between commands, and only once everything read
			// so far is handled: a long listing is read at full speed.
			if left >= coalesceDepth && br.Buffered() == 0 && err == nil {
				time.Sleep(time.Duration(left) * coalescePerCommand)
			}
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
	c.settle(queue, reason)
	close(c.ended)
}

// routeLine hands one line to the oldest outstanding command. If the line
// is that command's marker, the command is complete, and routeLine returns
// how many commands are still outstanding; otherwise it returns -1.
func (c *child) routeLine(ln string) int {
	c.qmu.Lock()
	if len(c.queue) == 0 {
		c.qmu.Unlock()
		// Between commands: a late warning.
		if m := batch.DecodeMessage(ln); m != "" {
			c.cfg.Log.Printf("sftp: %s", m)
		}
		return -1
	}
	p := c.queue[0]
	if ln == p.marker {
		// Clear the slot: the rest of the slice shares its array, and a
		// finished command (a listing, say) must not stay reachable
		// from it while later ones run.
		c.queue[0] = nil
		c.queue = c.queue[1:]
		left := len(c.queue)
		c.qmu.Unlock()
		close(p.done)
		return left
	}
	// Everything up to the marker belongs to this command, parse errors
	// included.
	if p.take == nil || !p.take(ln) {
		p.lines = append(p.lines, ln)
	}
	c.qmu.Unlock()
	return -1
}

// settle finishes the commands still outstanding when the output has ended.
//
// A session only ends when it is lost, so they all fail. A script ends
// when it has run every line (status 0), or when a line failed: then sftp
// stops there with status 1, having printed its reason, and runs nothing
// after it. So with status 1 the first outstanding line is the one that
// failed; it gets what sftp printed for it, and the lines after it are put
// aside unrun for the owner to run again. Anything else (status 255: ssh
// could not connect or lost the connection, a signal, no connection ever
// made) fails them all.
func (c *child) settle(queue []*Pending, reason string) {
	if len(queue) == 0 {
		return
	}
	connected := !c.script || !queue[0].connect // a script's first marker comes once connected
	c.qmu.Lock()
	stopped, stalled := c.why != "", c.stalled
	c.qmu.Unlock()
	if c.script && connected && !stopped {
		var ee *exec.ExitError
		if errors.As(c.status, &ee) && ee.ExitCode() == 1 {
			head := queue[0]
			why := strings.Join(batch.Messages(head.lines), "; ")
			if why == "" {
				head.err = fmt.Errorf("sftp stopped at %q with status 1 without saying why", head.line)
				why = head.err.Error()
			}
			// Which line of the script failed, for whoever reads the
			// log; the request's own result carries sftp's reason.
			steps := c.seq - 1 // the first marker is not a step
			c.cfg.Log.Printf("batch: script step %d of %d failed and sftp stopped there (%s); %d later step(s) go to the next script",
				steps-len(queue)+1, steps, why, len(queue)-1)
			close(head.done)
			c.unrun = slices.Clone(queue[1:]) // not the failed head's array
			return
		}
	}
	switch {
	case stopped: // reason is why it was stopped
	case !connected:
		reason = connectFailed(reason)
	default:
		reason = "connection lost: " + reason
	}
	for i, p := range queue {
		msg := reason
		if stalled && i > 0 {
			msg = "not run: sftp was stopped because the request before it timed out (sftp moved no data for " +
				c.cfg.stallTimeout().String() + ")"
		}
		// Only the first outstanding line can have started.
		p.err = &ConnError{Msg: msg, Sent: i == 0 && connected}
		close(p.done)
	}
}

// connectFailed is the message for a connection that could not be made,
// from ssh's reason.
func connectFailed(reason string) string {
	if strings.Contains(reason, "Permission denied (") {
		return "authentication failed: " + reason
	}
	return "connect failed: " + reason
}

// stop kills the child, giving why as the reason for the commands it fails.
func (c *child) stop(why string) {
	c.qmu.Lock()
	if c.why == "" {
		c.why = why
	}
	c.qmu.Unlock()
	c.kill()
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
	c.qmu.Lock()
	why := c.why
	c.qmu.Unlock()
	if why != "" {
		return why
	}
	what := describe(seen, "")
	if msg, ok := hostKeyFailure(decoded(seen), ""); ok {
		what = msg
	}
	status := exitStatus("sftp", c.cmd.ProcessState)
	var ee *exec.ExitError
	if c.status != nil && !errors.As(c.status, &ee) {
		status = c.status.Error() // waiting failed, not the process
	}
	return withStatus(what, status)
}

// exitStatus says how process name ended.
func exitStatus(name string, ps *os.ProcessState) string {
	if ps == nil {
		return name + " exited"
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("%s was killed by signal %s", name, ws.Signal())
	}
	return fmt.Sprintf("%s exited with status %d", name, ps.ExitCode())
}

// withStatus puts how a process ended after what it said, if anything.
func withStatus(what, status string) string {
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

// kill stops sftp and everything it started (ssh, a ProxyCommand) at once.
func (c *child) kill() {
	// Safe after the child has been reaped too: a process group's
	// number is not given to a new process while any member of the group
	// lives, and once none does the kill finds nothing.
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	c.stdin.Close()
}

// close ends sftp cleanly: on EOF it runs what it was sent, closes the SFTP
// session and ssh says goodbye to the server. If it does not exit in time
// it is terminated, then killed.
func (c *child) close() error {
	c.closing.Store(true) // ssh exits next, and that is no loss
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
	<-c.ended
	if c.tty != nil {
		c.tty.close()
	}
	return err
}
