package driver

import (
	"context"
	"errors"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sftper/sftper/proto"
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
	// ConnectTimeout bounds the time from starting sftp (or ssh) to a
	// connected session.
	ConnectTimeout time.Duration
	// Sessions is how many sftp children may carry lines side by side
	// (--sessions; at most, and only while lines are queued): 0 or 1 is
	// one.
	Sessions int
	// StallTimeout bounds how long a command may run without sftp moving
	// any data (see stall.go); DefaultStallTimeout if not positive.
	StallTimeout time.Duration
	// Share lets the connection owner start an OpenSSH ControlMaster of
	// its own, so that every sftp child rides one authenticated
	// connection, unless the user's configuration already shares
	// connections (see owner.go; only batch mode asks for one today).
	Share bool
	// Env is added to the environment of sftp and ssh.
	Env []string
	// Secret, if any, is the password or key passphrase to give ssh when
	// it asks for one (on the terminal in a session, through askpass in
	// batch mode), each distinct question once.
	Secret *Secret
	// Log receives what the child prints outside any command (warnings,
	// the banner). Nil discards it.
	Log *log.Logger
}

// DefaultConnectTimeout bounds connecting when Config gives no bound: as
// long as ssh's own TCP connect attempts take to give up on a host that
// does not answer, on most systems, and long enough for a slow login.
const DefaultConnectTimeout = 30 * time.Second

// withDefaults fills in what cfg leaves unset, for both kinds of Conn, and
// raises the stall timeout above the pauses that the user's own sftp
// bandwidth limit makes (see bandwidthPause).
func (cfg Config) withDefaults() Config {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.Log == nil {
		cfg.Log = discard
	}
	if pause := bandwidthPause(cfg.Program); pause > 0 && cfg.StallTimeout < 2*pause {
		cfg.Log.Printf("the stall timeout is raised from %s to %s: with its -l, sftp pauses for up to %s between bursts",
			cfg.StallTimeout, 2*pause, pause)
		cfg.StallTimeout = 2 * pause
	}
	return cfg
}

// Conn runs sftp command lines for the requests. There are two: Session,
// one persistent interactive sftp, and Scripts, a generated `sftp -b`
// script per request. Both send every line through the same marker
// protocol and hand back what sftp printed for it, so the requests'
// execution (Begin) and every parser are the same for both.
type Conn interface {
	// Start begins connecting in the background, so that the first
	// request does not wait for the whole handshake.
	Start() error
	// Send sends one command line and returns at once; Wait on the result
	// for what sftp printed. keep, if not nil, sees each line of the
	// command's output as it comes, and the lines it takes are not kept. Lines run in the order Send is called. The
	// first Send after a lost connection connects again. Errors: a
	// *ConnError if no connection can be made, ErrClosed, or ctx's error.
	Send(ctx context.Context, line string, keep LineFunc) (*Pending, error)
	// Attrs runs f on the attribute channel (attrs.go), opening it if
	// need be; on a server that cannot serve two sessions at once, once
	// every line sent before has been carried out, and lines sent after
	// wait for it (gate.go). It returns at once; Wait on the
	// Call for f's result. Errors: f's own, a *ConnError when the
	// channel cannot be opened or is lost, ErrClosed, or ctx's error.
	Attrs(ctx context.Context, f AttrFunc) *Call
	// Resolve makes a remote path absolute against the starting
	// directory. sftper passes sftp absolute paths only, each quoted
	// whole by batch, so that how sftp joins and escapes its working
	// directory never matters.
	Resolve(ctx context.Context, p string) (string, error)
	// Close lets what was sent finish, then ends everything cleanly:
	// the children, the connection master and what the connection
	// owner made. The error says what did not end cleanly (a child that
	// had to be killed, an unexpected exit status, a master that had to
	// be killed, a directory left behind); everything is ended anyway.
	Close() error
	// Kill stops every process at once, for signals: the caller is about
	// to exit. What is in flight fails with a *ConnError of kind
	// interrupted.
	Kill()
}

// Run sends one command line on c and waits for its output.
func Run(ctx context.Context, c Conn, line string) ([]string, error) {
	p, err := c.Send(ctx, line, nil)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// LineFunc takes a line of a command's output as it arrives (a listing's
// entry, say), so that the output need not be held whole; it reports
// whether it took the line. It is called from the goroutine that reads
// sftp's output, in order, and never after the command is done.
type LineFunc func(line string) bool

// ConnError is a session that could not be established or was lost. Sent
// tells whether the command line had been sent to sftp before that happened
// (and so may have had effects). Kind says which of the connection kinds
// it is; an unset Kind is connection_lost. Where each comes from:
//
//   - connect_failed: ssh exited before connecting (refused, unreachable,
//     name not found, no sftp subsystem; ssh's words are the signal), sftp
//     could not be started, or the starting directory cannot be entered.
//   - auth_failed: ssh said "Permission denied (...)"; a session was asked
//     for a password or passphrase (or a question sftper does not know) on
//     the terminal with nothing to give; the secret was asked for again
//     after it was given (not accepted).
//   - host_key_unknown: sftper refused ssh's unknown-key question on the
//     terminal, or ssh (batch mode, strict checking) said no host key is
//     known; host_key_changed: ssh said the key has changed.
//   - timeout: the connect timeout (sftper's, or ssh's own "Connection
//     timed out"); a command during which sftp moved no data for the stall
//     timeout.
//   - interrupted: Kill (sftper is stopping).
//   - connection_lost: the rest: the connection ended under a command, ssh
//     exited between commands, a command not run because the one before it
//     timed out.
type ConnError struct {
	Msg  string
	Sent bool
	Kind proto.Kind
}

func (e *ConnError) Error() string { return e.Msg }

// ErrorKind is e's kind (see proto.Kind).
func (e *ConnError) ErrorKind() proto.Kind {
	if e.Kind == "" {
		return proto.KindConnectionLost
	}
	return e.Kind
}

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("session closed")

// Pending is a command line sent to sftp whose output has not all come yet.
type Pending struct {
	pid     atomic.Int64 // of the sftp given the line, once it has been
	line    string
	connect bool   // the first, empty line (see startProcess): its marker means connected
	kill    func() // what to stop when the waiter gives up
	take    LineFunc
	marker  string // the echo of the marker line that ends this command
	lines   []string
	done    chan struct{}
	err     error

	afterMu  sync.Mutex
	after    []func() // run once done, by whoever ends it (whenDone)
	finished bool
}

// end marks p done (its lines and err set before), and runs what was to
// run then.
func (p *Pending) end() {
	close(p.done)
	p.afterMu.Lock()
	fs := p.after
	p.after, p.finished = nil, true
	p.afterMu.Unlock()
	for _, f := range fs {
		f()
	}
}

// whenDone runs f once p is done: at once if it is, else from the
// goroutine that ends it (which must not wait for anything f waits for).
// Cheaper than a goroutine waiting on Done for each line.
func (p *Pending) whenDone(f func()) {
	p.afterMu.Lock()
	if p.finished {
		p.afterMu.Unlock()
		f()
		return
	}
	p.after = append(p.after, f)
	p.afterMu.Unlock()
}

func newPending(line string, kill func()) *Pending {
	return &Pending{line: line, kill: kill, done: make(chan struct{})}
}

// Offset returns how far the sftp given this line has got through the
// local file fi, which it has open (the file a put reads, a get writes),
// and whether that can be told: not before sftp has opened the file, nor
// on platforms that do not show other processes' file offsets (see
// fileOffset). It is for progress reports, and costs a few reads of /proc.
func (p *Pending) Offset(fi os.FileInfo) (int64, bool) {
	pid := p.pid.Load()
	if pid == 0 {
		return 0, false
	}
	return fileOffset(int(pid), fi)
}

// Wait returns what sftp printed for the command, split at LF (sftp does
// not echo sftper's commands). It waits as long as the command takes (a
// transfer may take hours). If the connection is lost first, the error is a
// *ConnError; if ctx ends first, sftp is killed (every outstanding command
// then fails) and the error is ctx's (see ctxError).
func (p *Pending) Wait(ctx context.Context) ([]string, error) {
	select {
	case <-p.done: // done is done, even when ctx has ended too
		return p.lines, p.err
	default:
	}
	select {
	case <-p.done:
		return p.lines, p.err
	case <-ctx.Done():
		p.kill()
		return nil, ctxError(ctx)
	}
}

// ctxError is the error of a wait that ctx ended: ctx's own error, so that
// errors.Is(err, context.Canceled) holds, with a kind: interrupted when ctx
// was cancelled (sftper cancels only when it is stopping), timeout when its
// deadline passed.
func ctxError(ctx context.Context) error { return &waitEnded{ctx.Err()} }

type waitEnded struct{ err error }

func (e *waitEnded) Error() string { return e.err.Error() }
func (e *waitEnded) Unwrap() error { return e.err }

func (e *waitEnded) ErrorKind() proto.Kind {
	if errors.Is(e.err, context.DeadlineExceeded) {
		return proto.KindTimeout
	}
	return proto.KindInterrupted
}

// Done is closed when sftp is done with the command (Wait then returns at
// once).
func (p *Pending) Done() <-chan struct{} { return p.done }
