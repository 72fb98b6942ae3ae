package driver

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/proto"
	"golang.org/x/sys/unix"
)

// process is one sftp child and the mechanics every kind of child shares:
// starting it, its pipes, the queue of commands sent and not yet done, the
// goroutine that routes its output to them, the stall watch (stall.go),
// and stopping it. Every command line sftper sends is followed by a marker
// comment, and the marker's echo ends that command's output. The two kinds
// embed it: sessionChild (session_child.go), a persistent sftp on a
// pseudo-terminal, and scriptChild (script.go), one `sftp -b -` script.
type process struct {
	cfg    *Config
	cmd    *exec.Cmd
	cancel context.CancelFunc // kills the process group through cmd.Cancel
	stdin  *os.File
	pipes  *childPipes
	exited chan struct{} // closed once the process has been waited for
	status error         // cmd.Wait's result, valid after exited

	nonce  string
	seq    int    // of the last marker sent; sends are serialised by the owner
	prefix string // put before every command line: "@" (no echo), and for a session "-" (go on after a failure)
	// settle, if set, is the kind's own settling of the commands left
	// when the output ends; it reports whether it settled them (see
	// process.settle).
	settleKind func(c *process, queue []*Pending, reason string) bool

	qmu        sync.Mutex
	queue      []*Pending // sent and not yet complete, in the order sent
	lost       *ConnError // set when the output has ended: later sends fail with it
	lostReason string     // why, for the handshake's message
	lostKind   proto.Kind // the kind ssh's last words showed (a host key refused), if any
	why        string     // set by stop: the reason to give instead of the exit status
	whyKind    proto.Kind // and its kind

	ended   chan struct{} // closed when the output has ended and every command is settled
	closing atomic.Bool   // close has begun

	stall   stallWatch // under qmu
	stalled bool       // stopped for want of progress (see stall.go); under qmu
	first   *Pending   // the connect marker, queued by start: done without error once connected
}

// processSpec is what a kind adds to the sftp command line and the child.
type processSpec struct {
	extra    []string // before the user's options, so that they win (ssh keeps the first value)
	rides    bool     // extra makes ssh ride a master (riding): the user's -J is left out (withoutJump)
	sshFirst []string // ssh options ahead of even those sftp gives ssh (see sshfirst.go)
	defaults []string // after the user's options, so that theirs win
	env      []string // added to the environment
	ctty     *os.File // the controlling terminal's tty end, if any (the caller closes it)
	prefix   string   // see process.prefix
	settle   func(c *process, queue []*Pending, reason string) bool
}

// processKillWait is exec's WaitDelay for every sftp: once sftper has
// cancelled a child (Cmd.Cancel kills its process group), how long Wait
// waits before killing sftp itself and giving up on its pipes. The group
// kill is immediate, so this only matters if the group cannot be
// signalled; a second is long enough for the kernel to reap it.
const processKillWait = time.Second

// startProcess starts sftp: with the user's program and options, spec's
// extra options in front of them, keep-alive defaults and spec's defaults
// behind them, and "-b -" last (so that a BatchMode the user sets wins
// over the one -b implies). It queues the connect marker, whose echo
// means connected, and starts routing the output.
func startProcess(cfg *Config, settings Settings, spec processSpec) (*process, error) {
	prog := cfg.Program
	if len(prog) == 0 {
		prog = []string{"sftp"}
	}
	var firstEnv []string
	if len(spec.sshFirst) > 0 {
		p, env, err := sshFirstCommand(prog, spec.sshFirst)
		if err != nil {
			return nil, err
		}
		prog, firstEnv = p, []string{env}
	}
	user := cfg.Args
	if spec.rides {
		user = withoutJump(user)
	}
	args := append(append(append([]string{}, prog[1:]...), spec.extra...), user...)
	args = append(args, keepAlive(cfg, settings)...)
	args = append(args, spec.defaults...)
	args = append(args, "-b", "-")
	args = append(args, "--", cfg.Destination)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prog[0], args...)
	cmd.Env = childEnv(append(append(append(os.Environ(), cfg.Env...), spec.env...), firstEnv...))
	// Stopping a child means stopping sftp and everything it started
	// (ssh, a ProxyCommand) at once.
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = processKillWait

	pipes, err := newChildPipes()
	if err != nil {
		cancel()
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
	cmd.SysProcAttr = sessionAttr(syscall.SIGKILL)
	if spec.ctty != nil {
		cmd.ExtraFiles = []*os.File{spec.ctty}
		cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, 3
	}
	if err := cmd.Start(); err != nil {
		cancel()
		pipes.closeAll()
		return nil, fmt.Errorf("start %s: %w", prog[0], err)
	}
	pipes.started()

	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	c := &process{
		cfg:        cfg,
		cmd:        cmd,
		cancel:     cancel,
		stdin:      pipes.inW,
		pipes:      pipes,
		exited:     make(chan struct{}),
		nonce:      hex.EncodeToString(nonce[:]),
		prefix:     spec.prefix,
		settleKind: spec.settle,
		ended:      make(chan struct{}),
	}
	// The connect marker is queued before anything is read: ssh may fail
	// and print why before start returns, and what it prints then is the
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
func (c *process) endOutput() {
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
		if v, err := unix.IoctlGetInt(int(fd), fionread); err == nil {
			n = v
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

func (c *process) marker(seq int) string {
	return fmt.Sprintf("# sftper-%s-%d", c.nonce, seq)
}

// enqueue gives p the next marker and queues it for route to fill in; it
// returns the text to write: the command line (none for "") and the
// marker. "@" stops sftp from echoing the command: only the marker's echo
// is needed, and every line sftp prints costs a wake-up on both sides.
func (c *process) enqueue(p *Pending) (string, error) {
	c.seq++
	m := c.marker(c.seq)
	p.marker = "sftp> " + m
	p.lines = nil
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.lost != nil {
		return "", &ConnError{Msg: c.lost.Msg, Kind: c.lost.Kind}
	}
	c.queue = append(c.queue, p) // before writing: the output may come at once
	if c.cmd != nil && c.cmd.Process != nil {
		p.pid.Store(int64(c.cmd.Process.Pid))
	}
	if len(c.queue) == 1 {
		c.armStall()
	}
	if p.line == "" {
		return m + "\n", nil
	}
	return c.prefix + p.line + "\n" + m + "\n", nil
}

// send queues a command line and writes it to sftp.
func (c *process) send(line string, keep LineFunc) (*Pending, error) {
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
func (c *process) route(out *os.File) {
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
	reason, kind := c.exitReason(head)
	c.qmu.Lock()
	lostKind := proto.KindConnectionLost
	if c.why != "" {
		lostKind = c.whyKind
	}
	c.lost = &ConnError{Msg: "connection lost: " + reason, Sent: true, Kind: lostKind}
	c.lostReason, c.lostKind = reason, kind
	queue := c.queue
	c.queue = nil
	c.qmu.Unlock()
	c.settle(queue, reason)
	close(c.ended)
}

// routeLine hands one line to the oldest outstanding command. If the line
// is that command's marker, the command is complete, and routeLine returns
// how many commands are still outstanding; otherwise it returns -1.
func (c *process) routeLine(ln string) int {
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
		p.end()
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

// settle finishes the commands still outstanding when the output has
// ended. The kind settles them first if it has a way of its own (a
// script's status 1, a script that never connected); otherwise they all
// fail: with the reason sftper stopped the child for, if it did, else as a
// lost connection.
func (c *process) settle(queue []*Pending, reason string) {
	if len(queue) == 0 {
		return
	}
	if c.settleKind != nil && c.settleKind(c, queue, reason) {
		return
	}
	kind := proto.KindConnectionLost
	c.qmu.Lock()
	if c.why != "" {
		kind = c.whyKind // reason is why it was stopped
	} else {
		reason = "connection lost: " + reason
	}
	c.qmu.Unlock()
	c.failAll(queue, reason, kind, true)
}

// failAll fails every command of queue with msg and kind; connected says
// whether the first can have started (only the first can have). After a
// stall, the commands behind the one that timed out never ran, and say so.
func (c *process) failAll(queue []*Pending, msg string, kind proto.Kind, connected bool) {
	c.qmu.Lock()
	stalled := c.stalled
	c.qmu.Unlock()
	for i, p := range queue {
		m, k := msg, kind
		if stalled && i > 0 {
			m = "not run: sftp was stopped because the request before it timed out (sftp moved no data for " +
				c.cfg.stallTimeout().String() + ")"
			k = proto.KindConnectionLost
		}
		p.err = &ConnError{Msg: m, Sent: i == 0 && connected, Kind: k}
		p.end()
	}
}

// stopped reports whether sftper stopped the child on purpose.
func (c *process) stopped() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.why != ""
}

// stop kills the child, giving why (of kind) as the reason for the
// commands it fails.
func (c *process) stop(why string, kind proto.Kind) {
	c.qmu.Lock()
	if c.why == "" {
		c.why, c.whyKind = why, kind
	}
	c.qmu.Unlock()
	c.kill()
}

// outstanding is how many lines have been sent and not yet carried out.
func (c *process) outstanding() int {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return len(c.queue)
}

// stopping reports whether stop has been called: the child is on its way
// out, whether or not it has exited yet.
func (c *process) stopping() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.why != ""
}

// exitWait bounds the wait for the child to exit once its output has
// ended. sftp ends its output by exiting (so does everything holding the
// pipe, but a master: see endOutput), so this only covers a child that
// closed its output and hangs; it is then killed.
const exitWait = 5 * time.Second

// exitReason waits for the child to exit after its output ended and says
// why it ended, from what it printed and its exit status, with the kind
// when that shows ssh refused the server's host key.
func (c *process) exitReason(seen []string) (string, proto.Kind) {
	select {
	case <-c.exited:
	case <-time.After(exitWait):
		c.kill()
		<-c.exited
	}
	c.qmu.Lock()
	why, whyKind := c.why, c.whyKind
	c.qmu.Unlock()
	if why != "" {
		return why, whyKind
	}
	what := describe(seen, "")
	msg, kind, ok := hostKeyFailure(decoded(seen), "")
	if ok {
		what = msg
	}
	status := exitStatus("sftp", c.cmd.ProcessState)
	var ee *exec.ExitError
	if c.status != nil && !errors.As(c.status, &ee) && !errors.Is(c.status, context.Canceled) {
		status = c.status.Error() // waiting failed, not the process
	}
	return withStatus(what, status), kind
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

// kill stops sftp and everything it started (ssh, a ProxyCommand) at once,
// by killing its process group: a group's number is not given to a new
// process while any member lives, and once none does the kill finds
// nothing.
func (c *process) kill() {
	// Directly, not through exec's goroutine that cmd.Cancel runs in: a
	// caller about to exit, or to report a request as not done, must not
	// leave sftp running the lines it has already read. The cancel lets
	// exec's Wait know.
	signalGroup(c.cmd.Process.Pid, syscall.SIGKILL)
	c.cancel()
	c.stdin.Close()
}

// closeGrace is how long sftp has, after the end of its input, to run what
// it was sent, close its SFTP session and let ssh say goodbye to the
// server: a round trip or two, and a few for a command that was already
// finishing. A child that takes longer is hung, and is killed.
const closeGrace = 5 * time.Second

// close ends sftp cleanly: on EOF it runs what it was sent and exits. If it
// has not within closeGrace, it is killed (the commands still outstanding
// fail), and the error says so. It returns once the output has ended and
// every command is settled.
func (c *process) close() error {
	c.closing.Store(true) // ssh exits next, and that is no loss
	c.stdin.Close()
	var err error
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		err = fmt.Errorf("sftp did not exit within %s of the end of its input and was killed", closeGrace)
	}
	c.kill() // stragglers in the process group, or sftp itself
	<-c.exited
	<-c.ended
	return err
}
