package driver

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sftper/sftper/proto"
)

// Requests that never end.
//
// A transfer can stop making progress while everything below it still
// looks alive: a server whose SFTP side hangs while its SSH side goes on
// answering keep-alives (ProFTPD's mod_sftp, fed two channels' data at
// once, does that), a filesystem that blocks, a proxy that stops
// forwarding. ssh's keep-alives never fire then, and sftp waits forever.
// So every sftp child with a command outstanding is watched for progress:
// the bytes it has read and written, all its reads and writes together
// (the pipes to ssh, the local file, its input and output), as the kernel
// counts them in /proc/PID/io. A command during which that count stays
// the same for StallTimeout is stopped with sftp (and its ssh), and fails
// with an error saying it timed out and after how long; the next request
// starts afresh.
//
// Why these counters: they move whenever data moves, in both directions
// and for every command, and only then. sftp prints nothing while a
// transfer runs in batch mode, the server's answers cannot be seen from
// outside ssh, and the size of the file being written only covers one
// direction of one command. A read of a few dozen bytes from /proc every
// StallTimeout/stallChecks, only while a command is outstanding, costs
// nothing measurable.

// DefaultStallTimeout is how long a command may go without sftp moving a
// byte before it is stopped. Long enough for what a healthy server can take
// to answer one request (closing a large file on a slow network
// filesystem, listing a huge directory on one), short enough that a script
// hears of a hung server within minutes rather than never. --stall-timeout
// changes it.
const DefaultStallTimeout = 2 * time.Minute

// stallChecks is how often, per StallTimeout, a busy child's progress is
// looked at: a stalled command is stopped between StallTimeout and
// StallTimeout plus an eighth of it after the last byte moved.
const stallChecks = 8

// stallWatch is a child's progress as last seen. Under the child's qmu.
type stallWatch struct {
	timer *time.Timer // armed while commands are outstanding
	moved uint64      // sftp's bytes read and written when last seen to change
	head  string      // the marker of the command in front then
	since time.Time   // when either last changed
	off   bool        // the counters cannot be read: nothing is timed
}

// armStall starts timing when a command is queued on an idle child.
// Called with c.qmu held.
func (c *process) armStall() {
	w := &c.stall
	if w.off {
		return
	}
	w.since, w.head = time.Now(), ""
	period := c.cfg.stallTimeout() / stallChecks
	if w.timer == nil {
		w.timer = time.AfterFunc(period, c.checkStall)
	} else {
		w.timer.Reset(period)
	}
}

// checkStall looks at the child's progress, stops it if a command has gone
// StallTimeout without any, and looks again later while commands are
// outstanding.
func (c *process) checkStall() {
	c.qmu.Lock()
	if len(c.queue) == 0 || c.lost != nil || c.stall.off {
		c.qmu.Unlock()
		return
	}
	head := c.queue[0]
	c.qmu.Unlock()
	moved, err := bytesMoved(c.cmd.Process.Pid)
	now := time.Now()
	c.qmu.Lock()
	defer c.qmu.Unlock()
	w := &c.stall
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return // sftp has exited: its commands are being settled
	case err != nil:
		w.off = true
		blindOnce.Do(func() {
			c.cfg.Log.Printf("cannot see sftp's progress (%v): a request that hangs is not stopped", err)
		})
		return
	case head.connect:
		w.since = now // connecting: the connect timeout governs
	case moved != w.moved || head.marker != w.head:
		w.moved, w.head, w.since = moved, head.marker, now
	case now.Sub(w.since) >= c.cfg.stallTimeout():
		c.stalled = true
		why := fmt.Sprintf("timed out: sftp moved no data for %s; it was stopped, "+
			"and the next request connects again (--stall-timeout sets the limit)", c.cfg.stallTimeout())
		go c.stop(why, proto.KindTimeout) // stop takes qmu
		return
	}
	w.timer.Reset(c.cfg.stallTimeout() / stallChecks)
}

// stallTimeout is StallTimeout, or the default for a Config that was not
// given one (NewSession and NewScripts fill it in; a zero would make the
// checks spin).
func (cfg *Config) stallTimeout() time.Duration {
	if cfg.StallTimeout <= 0 {
		return DefaultStallTimeout
	}
	return cfg.StallTimeout
}

// bandwidthPause is the longest pause sftp makes on purpose with the
// options in prog (the sftp program and the user's extra arguments): with
// -l LIMIT (Kbit/s) its bandwidth limiter (bandwidth_limit in OpenSSH's
// misc.c) sleeps after each batch of data, a batch of at most 8 copy
// buffers plus one, long enough for the batch to have taken its time at
// LIMIT. The copy buffer is -B if given, else what the server allows, up
// to 255 KiB (OpenSSH's server allows that much: one 261120-byte write at
// -l 300 was followed by a 6.8 s sleep). While sftp sleeps it moves no
// byte, and in batch mode not even its ssh does (the master carries the
// data), so the stall timeout must be longer. 0 without -l.
func bandwidthPause(prog []string) time.Duration {
	if len(prog) < 2 {
		return 0
	}
	// SFTP_MAX_MSG_LENGTH - 1024, the most sftp takes from the server's
	// limits when -B is not given.
	var limit, buf int64 = 0, 256<<10 - 1024
	args := prog[1:]
	// sftp's getopt string: these take a value, attached or next.
	const withValue = "cDilosSbBFJPRX"
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			if !strings.ContainsRune(withValue, rune(a[j])) {
				continue
			}
			v := a[j+1:]
			if v == "" && i+1 < len(args) {
				i++
				v = args[i]
			}
			n, err := strconv.ParseInt(v, 10, 64)
			switch {
			case err != nil || n <= 0:
			case a[j] == 'l':
				limit = n
			case a[j] == 'B':
				buf = n
			}
			break
		}
	}
	if limit == 0 {
		return 0
	}
	bits := float64(9*buf) * 8
	return time.Duration(bits / float64(limit*1024) * float64(time.Second))
}

// blindOnce says once per run that progress cannot be seen.
var blindOnce sync.Once

// bytesMoved is what the child's processes have read and written so far,
// all their reads and writes together (rchar plus wchar of /proc/PID/io):
// the process tree rooted at pid, the sftp sftper started, less any ssh
// in it and what that ssh runs (a ProxyCommand), whose keep-alives move
// bytes while sftp's own work stands still. The tree, not the one
// process, so that an --sftp-command wrapper that forks sftp (sh -c,
// timeout, sshpass) is seen through. An error means pid itself cannot be
// read.
func bytesMoved(pid int) (uint64, error) {
	total, err := processMoved(pid)
	if err != nil {
		return 0, err
	}
	for _, kid := range children(pid) {
		if processName(kid) == "ssh" {
			continue
		}
		if n, err := bytesMoved(kid); err == nil {
			total += n // one that exits meanwhile counts as a change
		}
	}
	return total, nil
}
