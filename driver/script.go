package driver

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/proto"
)

// scriptChild is the script kind of sftp child: one `sftp -b -` script of
// Scripts, started over a link with only its connect marker (launch), then
// given its lines and the end of its input at once (assign). sftp stops a
// script at the first line that fails, with status 1: that line gets
// sftp's reason and the lines after it are put aside unrun for the next
// script (settle). A script connected and waiting for its lines has its
// ssh watched, so that one whose channel the server has closed is never
// given any (watchIdleSSH).
type scriptChild struct {
	*process
	link *link // the connection it runs over (see Scripts)

	unrun []*Pending // lines that never ran (an earlier one failed); valid after ended

	// refused, if set, is asked about a script that never connected:
	// whether the server refused it a session that others on the same
	// connection have (its lines then go to another script).
	refused func(msg string) bool

	// Whether it has been given its lines, and a watch on its ssh once
	// connected (nil if there is none to watch). Under qmu.
	assigned bool
	ssh      *procWatch
	watched  chan struct{} // closed once ssh is watched, or found not to be watchable
}

// startScript starts a script over l with extra options (the master's)
// and env (askpass).
func startScript(cfg *Config, settings Settings, l *link, extra []string, rides bool, env []string) (*scriptChild, error) {
	c := &scriptChild{link: l, watched: make(chan struct{})}
	p, err := startProcess(cfg, settings, processSpec{extra: extra, rides: rides, env: env, prefix: "@", settle: c.settle})
	if err != nil {
		return nil, err
	}
	c.process = p
	return c, nil
}

// settle is a script's own settling of the lines outstanding when its
// output ends (see process.settle), given p, its process (c.process may not
// be set yet when a script fails at once). A script ends when it has run
// every line (status 0), or when a line failed: then sftp stops there with
// status 1, having printed its reason, and runs nothing after it. So with
// status 1 the first outstanding line is the one that failed; it gets what
// sftp printed for it, and the lines after it are put aside unrun for the
// owner to run again. A script that never connected fails every line with
// ssh's reason and its kind. Anything else (status 255: ssh lost the
// connection, a signal) is left to process.settle, as is a script sftper
// stopped.
func (c *scriptChild) settle(p *process, queue []*Pending, reason string) bool {
	if p.stopped() {
		return false
	}
	if queue[0].connect { // a script's first marker comes once connected
		p.qmu.Lock()
		kind := p.lostKind
		p.qmu.Unlock()
		msg, kind := connectFailed(reason, kind)
		if len(queue) > 1 && c.refused != nil && c.refused(msg) {
			// Refused a session while others run over the same
			// connection: its lines go to another script.
			p.failAll(queue[:1], msg, kind, false)
			c.unrun = slices.Clone(queue[1:])
			return true
		}
		p.failAll(queue, msg, kind, false)
		return true
	}
	var ee *exec.ExitError
	if !errors.As(p.status, &ee) || ee.ExitCode() != 1 {
		return false
	}
	head := queue[0]
	why := strings.Join(batch.Messages(head.lines), "; ")
	if why == "" {
		head.err = fmt.Errorf("sftp stopped at %q with status 1 without saying why", head.line)
		why = head.err.Error()
	}
	// Which line of the script failed, for whoever reads the log; the
	// request's own result carries sftp's reason.
	steps := p.seq - 1 // the first marker is not a step
	p.cfg.Log.Printf("batch: script step %d of %d failed and sftp stopped there (%s); %d later step(s) go to the next script",
		steps-len(queue)+1, steps, why, len(queue)-1)
	head.end()
	c.unrun = slices.Clone(queue[1:]) // not the failed head's array
	return true
}

// errSpareGone is assign's error for a script whose ssh has exited.
var errSpareGone = errors.New("its ssh exited before it was given lines")

// watchIdleSSH stops a connected script whose ssh exits before the script
// has been given its lines: the server closed its channel while it waited
// (a ChannelTimeout, a killed session process, a lost master). Nothing
// would notice otherwise: sftp, reading its script, only finds out when
// it sends the first line's packets, and that line would fail for a loss
// that happened before it was even given.
func (c *scriptChild) watchIdleSSH() {
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
			c.stop("connection lost: "+errSpareGone.Error(), proto.KindConnectionLost)
		}
	}()
}

// assign writes the rest of a launched script, each line with its marker,
// and ends it. It fails if the script has already ended, or if its ssh has
// (errSpareGone): then none of the lines was given to it.
func (c *scriptChild) assign(lines []*Pending) error {
	c.qmu.Lock()
	c.assigned = true
	ssh := c.ssh
	c.qmu.Unlock()
	// Asked of the kernel, not of the watch's goroutine, which may not
	// have run yet: exactly whether ssh has exited by now.
	if ssh != nil && ssh.Exited() {
		c.stop("connection lost: "+errSpareGone.Error(), proto.KindConnectionLost)
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
