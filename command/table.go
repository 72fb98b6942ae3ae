package command

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

// table is every command sftper has, one entry each, defined in the
// command's own file. Adding a command adds its file and one line here.
var table = []spec{
	putCommand,
	getCommand,
	listDirCommand,
	statCommand,
	lstatCommand,
	deleteCommand,
	mkdirCommand,
	rmdirCommand,
	renameCommand,
	chmodCommand,
	symlinkCommand,
	readlinkCommand,
	utimeCommand,
	realpathCommand,
	dfCommand,
	helloCommand,
}

// spec is one entry of the table: everything sftper knows of one
// command but the bytes of its requests (proto) and the words of sftp's
// language (batch).
type spec struct {
	// Name is the canonical name, upper case; requests may spell it in
	// any case.
	Name string
	// owns reports whether op is of the command's own Op type.
	owns func(op proto.Op) bool
	// decode builds the command's Op from a request's arguments.
	decode proto.Decoder
	// effects are what op does that a later request could race with
	// (see hazard.go).
	effects func(op proto.Op) []Effect
	// start checks op, sends its line and says how to read sftp's output
	// for it; or finishes it at once.
	start func(e *env, op proto.Op) step
}

// entry makes a spec from functions of the command's own Op type O;
// the one place that turns a proto.Op back into it.
func entry[O proto.Op](name string, decode func(a *proto.Args) O, effects func(op O) []Effect, start func(e *env, op O) step) spec {
	return spec{
		Name:    name,
		owns:    func(op proto.Op) bool { _, ok := op.(O); return ok },
		decode:  func(a *proto.Args) proto.Op { return decode(a) },
		effects: func(op proto.Op) []Effect { return effects(op.(O)) },
		start:   func(e *env, op proto.Op) step { return start(e, op.(O)) },
	}
}

// byName finds a table entry by its canonical name.
var byName = func() map[string]*spec {
	m := make(map[string]*spec, len(table))
	for i := range table {
		m[table[i].Name] = &table[i]
	}
	return m
}()

// lookup is the entry of op, nil for an Op that is not from this table.
func lookup(op proto.Op) *spec {
	if op == nil {
		return nil
	}
	if c := byName[op.Name()]; c != nil && c.owns(op) {
		return c
	}
	return nil
}

// Decoders is the command set to give proto.NewCodec: every command of the
// table by name.
func Decoders() proto.Commands {
	cmds := make(proto.Commands, len(table))
	for _, c := range table {
		cmds[c.Name] = c.decode
	}
	return cmds
}

// Names lists every command's name, sorted.
func Names() []string {
	names := make([]string, 0, len(table))
	for _, c := range table {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// Config is what a Runner needs besides the requests.
type Config struct {
	// Conn runs the sftp lines.
	Conn driver.Conn
	// Version is sftper's version and Mode how it drives sftp ("session"
	// or "batch"), for HELLO.
	Version string
	Mode    string
	// Log receives what runs in the background logs (GET's sweeps of
	// old downloads). Nil discards it.
	Log func(format string, args ...any)
}

// Runner carries out requests on one connection.
type Runner struct {
	cfg      Config
	names    []string      // for HELLO
	listings chan struct{} // LISTDIRs being read at once (listingsAtOnce)
}

// NewRunner returns a Runner for cfg.
func NewRunner(cfg Config) *Runner {
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	return &Runner{cfg: cfg, names: Names(), listings: make(chan struct{}, listingsAtOnce)}
}

// Job is one request being carried out.
type Job interface {
	// Done is closed when sftp is done with the request, or at once for
	// a request that needed no sftp line.
	Done() <-chan struct{}
	// Result waits for sftp to be done with the request, finishes it (a
	// GET's rename, a LISTDIR's parse) and returns its result, without
	// the request's id. Finishing runs in the caller's goroutine: one
	// goroutine calls Result of every Job, in the order the pipeline
	// answers them (request order, or the order they are done in with
	// --unordered); requests whose finishing touches the same files are
	// kept apart by their hazards, not by that order.
	Result() *proto.Response
}

// Begin starts carrying out op. Local checks and the sending of the
// command line happen before Begin returns, so requests reach sftp in the
// order Begin is called; ask Conflicts before beginning a request while
// others are unfinished. A request that could never succeed (a path that
// cannot be passed to sftp safely, an Op not from this package's table) is
// answered "fail" before anything is sent. If ctx ends, what is in flight
// fails (see driver.Pending.Wait). report, if not nil, writes a progress
// report on the request (a transfer that asked for them calls it, from a
// goroutine of its own, at most every progressEvery while it runs).
func (r *Runner) Begin(ctx context.Context, op proto.Op, report func(data any)) Job {
	c := lookup(op)
	var st step
	if c == nil {
		name := "(none)"
		if op != nil {
			name = op.Name()
		}
		st = finished(Result{}, refuse(fmt.Errorf("command %s is not supported", name)))
	} else {
		st = c.start(&env{ctx: ctx, r: r, conn: r.cfg.Conn, report: report}, op)
	}
	if st.done == nil {
		return &job{done: closed, resp: respond(st.res, st.err)}
	}
	return &job{done: st.done, result: st.result}
}

// Conflicts reports whether next must not begin before earlier has
// finished (see hazard.go). An Op not from the table conflicts with
// everything, as nothing is known of it.
func (r *Runner) Conflicts(earlier, next proto.Op) bool {
	a, b := lookup(earlier), lookup(next)
	if a == nil || b == nil {
		return true
	}
	return conflicts(a.effects(earlier), b.effects(next))
}

// env is what a command runs with.
type env struct {
	ctx    context.Context
	r      *Runner
	conn   driver.Conn
	report func(data any) // nil: no progress reports wanted
}

// step is a request after its local checks: finished at once (res, err),
// or under way on the connection (a line sent to sftp, or a call on the
// attribute channel): done is closed when the connection is done with it,
// and result waits for that and finishes it.
type step struct {
	res     Result
	err     error
	done    <-chan struct{}
	result  func() (Result, error)
	pending *driver.Pending // the line, when the step is one sent to sftp
}

func finished(res Result, err error) step { return step{res: res, err: err} }

// then goes on with a request once first is done: next is given first's
// outcome and returns the step that finishes the request (finished(res,
// err) to end it there). It waits in a goroutine of its own, so that the
// pipeline begins later requests meanwhile; what next does on the
// connection comes after lines and calls that later requests have sent
// by then, so a command built this way declares it as After effects (see
// hazard.go). If ctx ends first, first's result says so.
func (e *env) then(first step, next func(res Result, err error) step) step {
	if first.done == nil {
		return next(first.res, first.err)
	}
	done := make(chan struct{})
	var res Result
	var err error
	go func() {
		defer close(done)
		select {
		case <-first.done:
		case <-e.ctx.Done():
		}
		st := next(first.result())
		if st.done != nil {
			select {
			case <-st.done:
			case <-e.ctx.Done():
			}
			res, err = st.result()
		} else {
			res, err = st.res, st.err
		}
	}()
	return step{done: done, result: func() (Result, error) {
		<-done
		return res, err
	}}
}

// send sends line and finishes with finish once sftp is done with it. keep,
// if not nil, takes output lines as they come (see driver.LineFunc). If
// the line cannot be sent, finish gets the reason wrapped in a *NotSent
// (a plain error becomes a *driver.ConnError first).
func (e *env) send(line string, keep driver.LineFunc, finish func(out []string, err error) (Result, error)) step {
	p, err := e.conn.Send(e.ctx, line, keep)
	if err != nil {
		var ce *driver.ConnError
		if !errors.As(err, &ce) && e.ctx.Err() == nil {
			err = &driver.ConnError{Msg: err.Error()}
		}
		res, err := finish(nil, &NotSent{Err: err})
		return finished(res, err)
	}
	return step{done: p.Done(), pending: p, result: func() (Result, error) {
		out, err := p.Wait(e.ctx)
		return finish(out, err)
	}}
}

// call runs f on the attribute channel (see driver.Conn.Attrs) and
// finishes with finish once it has its answer: what f returned, or the
// channel's error.
func (e *env) call(f driver.AttrFunc, finish func(v any, err error) (Result, error)) step {
	c := e.conn.Attrs(e.ctx, f)
	return step{done: c.Done(), result: func() (Result, error) {
		v, err := c.Wait(e.ctx)
		return finish(v, err)
	}}
}

// resolve makes a remote path absolute (see driver.Conn.Resolve). A
// relative path that this connection can never use is refused.
func (e *env) resolve(p string) (string, error) {
	abs, err := e.conn.Resolve(e.ctx, p)
	var rel *driver.RelativePathError
	if errors.As(err, &rel) {
		return "", refuse(err)
	}
	return abs, err
}

// NotSent is the failure of a request whose line never reached sftp (no
// connection, or sftper stopping while it waited for one): it can have
// changed nothing on the server.
type NotSent struct{ Err error }

func (e *NotSent) Error() string { return e.Err.Error() }
func (e *NotSent) Unwrap() error { return e.Err }

// job is a Job.
type job struct {
	done   <-chan struct{}
	result func() (Result, error)
	resp   *proto.Response
}

var _ Job = (*job)(nil)

func (j *job) Done() <-chan struct{} { return j.done }

func (j *job) Result() *proto.Response {
	if j.resp == nil {
		j.resp = respond(j.result())
	}
	return j.resp
}

// closed is the Done of a Job whose result was known at once.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
