package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/proto"
)

// Call is one request being carried out. Its result is ready to be taken
// when Done is closed.
type Call struct {
	Op     proto.Op
	ctx    context.Context
	done   <-chan struct{}
	sent   *Pending
	finish func(out []string, err error) *proto.Response
	resp   *proto.Response
}

// Done is closed when sftp is done with the request.
func (c *Call) Done() <-chan struct{} { return c.done }

// Result waits for sftp to be done with the request, finishes it (a GET's
// rename, a LISTDIR's parse) and returns its result, without the request's
// id. Finishing runs in the caller's goroutine, which results are written
// from in order anyway: one goroutine must call Result, once per Call.
func (c *Call) Result() *proto.Response {
	if c.resp == nil {
		out, err := c.sent.Wait(c.ctx)
		c.resp = c.finish(out, err)
	}
	return c.resp
}

// closed is the Done of a Call whose result was known at once.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Begin starts carrying out op on s. Local checks and the sending of the
// command line happen before Begin returns, so requests reach sftp in the
// order Begin is called. Call MayOverlap before beginning a request while
// others are unfinished. A request carrying a path that cannot be passed to
// sftp safely fails before anything is sent.
func Begin(ctx context.Context, s Conn, op proto.Op) *Call {
	x := executor{ctx: ctx, s: s}
	var st step
	switch op := op.(type) {
	case proto.Put:
		st = x.put(op)
	case proto.Get:
		st = x.get(op)
	case proto.ListDir:
		st = x.listDir(op)
	case proto.Delete:
		st = x.delete(op)
	default:
		st = done(fail(fmt.Errorf("command %s is not supported", op.Name())))
	}
	if st.resp != nil {
		return &Call{Op: op, done: closed, resp: st.resp}
	}
	return &Call{Op: op, ctx: ctx, done: st.sent.done, sent: st.sent, finish: st.finish}
}

// MayOverlap reports whether next may be sent to sftp before the requests in
// flight have finished. sftp runs them in order anyway; what must not
// overlap is sftper's own work around them: a GET renames its download into
// place only when it is complete (a later PUT could read that local file
// too early), and a failed LISTDIR asks sftp a second question whose answer
// a later PUT or DELETE could change.
func MayOverlap(inFlight []proto.Op, next proto.Op) bool {
	for _, op := range inFlight {
		switch op.(type) {
		case proto.Get:
			if _, ok := next.(proto.Put); ok {
				return false
			}
		case proto.ListDir:
			switch next.(type) {
			case proto.Put, proto.Delete:
				return false
			}
		}
	}
	switch next.(type) {
	case proto.Put, proto.Get, proto.ListDir, proto.Delete:
		return true
	}
	return false
}

type executor struct {
	ctx context.Context
	s   Conn
}

// step is a request after its local checks: finished at once (resp), or
// sent, with what to do with sftp's output.
type step struct {
	resp   *proto.Response
	sent   *Pending
	finish func(out []string, err error) *proto.Response
}

func done(resp *proto.Response) step { return step{resp: resp} }

// send sends line and finishes with finish once sftp is done with it.
// keep, if not nil, takes output lines as they come (see LineFunc).
func (x executor) send(line string, keep LineFunc, finish func(out []string, err error) *proto.Response) step {
	p, err := x.s.Send(x.ctx, line, keep)
	if err != nil {
		var ce *ConnError
		if !errors.As(err, &ce) {
			err = &ConnError{Msg: err.Error()} // nothing was sent
		}
		return done(finish(nil, err))
	}
	return step{sent: p, finish: finish}
}

func fail(err error) *proto.Response {
	return &proto.Response{Status: proto.StatusFail, Message: err.Error()}
}

func failed(msg string, data any) *proto.Response {
	return &proto.Response{Status: proto.StatusError, Message: msg, Data: data}
}

// failedErr is the "error" result for err, with its kind in data and, for
// a PUT, what it left on the server (remote). Interim: the command table
// replaces it.
func failedErr(err error, remote string) *proto.Response {
	d := map[string]any{"kind": proto.KindOf(err)}
	if remote != "" {
		d["remote"] = remote
	}
	return &proto.Response{Status: proto.StatusError, Message: err.Error(), Data: d}
}

// localPath makes p absolute against sftper's working directory without
// cleaning it: "a/../b" must mean what the file system says, not what
// lexical cleaning says when a is a symlink.
func localPath(p string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	wd, err := workDir()
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(wd, "/") + "/" + p, nil
}

// startWD is the working directory as os.Getwd names it at start ($PWD when
// that is the same directory, so the user's own name for it) and as the
// kernel names it.
var startWD = sync.OnceValues(func() ([2]string, error) {
	logical, err := os.Getwd()
	if err != nil {
		return [2]string{}, err
	}
	physical, err := syscall.Getwd()
	return [2]string{logical, physical}, err
})

// workDir is the working directory's name now: one getcwd call, where
// os.Getwd stats both "." and $PWD on every request. sftper never changes
// directory, but the directory may be renamed while it runs, and then the
// kernel's new name is the right one.
func workDir() (string, error) {
	start, err := startWD()
	if err != nil {
		return os.Getwd()
	}
	now, err := syscall.Getwd()
	if err != nil {
		return "", err
	}
	if now == start[1] {
		return start[0], nil
	}
	return now, nil
}

// remoteState says what a failed PUT may have left on the server.
type remoteState struct {
	Remote string `json:"remote"` // "unchanged" or "partial"
}

func (x executor) put(op proto.Put) step {
	src, err := localPath(op.Source)
	if err != nil {
		return done(failedErr(err, "unchanged"))
	}
	if err := batch.CheckPath(op.Dest); err != nil {
		return done(fail(err))
	}
	dest, err := x.s.Resolve(x.ctx, op.Dest)
	if err != nil {
		return done(failedErr(err, "unchanged"))
	}
	line, err := batch.Put(src, dest)
	if err != nil {
		return done(fail(err))
	}
	// sftp would say the same, but checking first keeps a missing or
	// unreadable source from ever opening a connection or a remote file.
	fi, err := os.Stat(src)
	if err != nil {
		return done(failed(fmt.Sprintf("local source: %v", unwrapPathError(err, op.Source)), remoteState{"unchanged"}))
	}
	if !fi.Mode().IsRegular() {
		return done(failed(fmt.Sprintf("local source %q is not a regular file", op.Source), remoteState{"unchanged"}))
	}
	return x.send(line, nil, func(out []string, err error) *proto.Response {
		if err != nil {
			state := "partial"
			var ce *ConnError
			if errors.As(err, &ce) && !ce.Sent {
				state = "unchanged"
			}
			return failedErr(err, state)
		}
		if msgs := batch.Messages(out); len(msgs) > 0 {
			return failed(strings.Join(msgs, "; "), remoteState{putState(msgs)})
		}
		return &proto.Response{
			Status:  proto.StatusOK,
			Message: fmt.Sprintf("uploaded %s to %s", op.Source, op.Dest),
			Data:    map[string]any{"source": src, "dest": op.Dest, "size": fi.Size()},
		}
	})
}

// putState tells from sftp's messages whether a failed upload got as far as
// creating the remote file: sftp checks the local file ("stat ...",
// "local ...") and then opens the remote one ("dest open ..."), and only
// after that can anything be left behind.
func putState(msgs []string) string {
	for _, m := range msgs {
		if !(strings.HasPrefix(m, "stat ") || strings.HasPrefix(m, "local ") || strings.HasPrefix(m, "dest open ") ||
			strings.HasPrefix(m, "open local ") || strings.HasPrefix(m, "Couldn't open local")) {
			return "partial"
		}
	}
	return "unchanged"
}

func unwrapPathError(err error, p string) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s %q: %v", pe.Op, p, pe.Err)
	}
	return err.Error()
}

// get downloads into a temporary file beside the destination and renames it
// into place only once sftp has said the download is complete. A failed GET
// therefore leaves nothing new behind, and an existing destination file is
// never truncated or half-written.
func (x executor) get(op proto.Get) step {
	if err := batch.CheckPath(op.Source); err != nil {
		return done(fail(err))
	}
	if err := batch.CheckPath(op.Dest); err != nil {
		return done(fail(err))
	}
	dest, err := localPath(op.Dest)
	if err != nil {
		return done(failedErr(err, ""))
	}
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		// Like sftp and scp: a directory receives the file under its own name.
		dest = strings.TrimSuffix(dest, "/") + "/" + path.Base(op.Source)
	}
	dir := filepath.Dir(dest)
	name := partName() // named for sftper: see leftovers.go
	tmp := filepath.Join(dir, name)
	source, err := x.s.Resolve(x.ctx, op.Source)
	if err != nil {
		return done(failedErr(err, ""))
	}
	// The length is checked with the longest name partName can draw,
	// so that whether a GET fits never depends on the draw.
	line, err := batch.GetPart(source, dir, name, partNameMax)
	var upe *batch.UnsafePathError
	if errors.As(err, &upe) && upe.Path != source {
		upe.Path = op.Dest // the caller's name for it, not the directory
	}
	if err != nil {
		return done(fail(err))
	}
	sweepParts(dir, logOf(x.s)) // once per directory, in the background
	return x.send(line, nil, func(out []string, err error) *proto.Response {
		if err == nil {
			if msgs := batch.Messages(out); len(msgs) > 0 {
				err = errors.New(strings.ReplaceAll(strings.Join(msgs, "; "), tmp, dest))
			}
		}
		if err == nil {
			// rename(2) itself, not os.Rename, which first stats
			// dest: a path lookup per GET, for a check (renaming onto
			// a directory) that rename(2) makes on Linux anyway.
			if e := syscall.Rename(tmp, dest); e != nil {
				err = &os.LinkError{Op: "rename", Old: tmp, New: dest, Err: e}
			}
		}
		if err != nil {
			os.Remove(tmp)
			return failedErr(err, "")
		}
		fi, err := os.Stat(dest)
		if err != nil {
			return failedErr(err, "")
		}
		return &proto.Response{
			Status:  proto.StatusOK,
			Message: fmt.Sprintf("downloaded %s to %s", op.Source, dest),
			Data:    map[string]any{"source": op.Source, "dest": dest, "size": fi.Size()},
		}
	})
}

func (x executor) listDir(op proto.ListDir) step {
	if err := batch.CheckPath(op.Path); err != nil {
		return done(fail(err))
	}
	dir, err := x.s.Resolve(x.ctx, op.Path)
	if err != nil {
		return done(failedErr(err, ""))
	}
	l, err := batch.NewListing(dir)
	if err != nil {
		return done(fail(err))
	}
	// Entries are parsed as sftp prints them; only they are kept.
	return x.send(l.Line, l.Add, func(out []string, err error) *proto.Response {
		return x.listed(op, l, out, err)
	})
}

func (x executor) listed(op proto.ListDir, l *batch.Listing, out []string, err error) *proto.Response {
	if err != nil {
		return failedErr(err, "")
	}
	// out holds what l.Add left: sftp's messages, if any.
	msgs := batch.Messages(out)
	if len(msgs) == 0 {
		entries, err := l.Result()
		if err != nil {
			return failedErr(err, "")
		}
		return &proto.Response{Status: proto.StatusOK, Message: fmt.Sprintf("%d entries", len(entries)), Data: entries}
	}
	for i := range msgs {
		msgs[i] = l.Clean(msgs[i])
	}
	msg := strings.Join(msgs, "; ")
	if notFound(msgs[0]) {
		msg = x.whyNotListed(op.Path, l.Dir)
	}
	return failed(msg, nil)
}

// notFound reports sftp's "Can't ls: "PATH" not found", also when sftp cut
// the message short within a long PATH (the other "Can't ls" message, too
// many matches, cannot happen for a path without glob characters).
func notFound(msg string) bool {
	return strings.HasPrefix(msg, "Can't ls: ") && (strings.HasSuffix(msg, " not found") || strings.HasSuffix(msg, batch.CutMark))
}

// whyNotListed finds out why a listing came back "not found". The listing
// path ends in "/.", which does not resolve under a file, nor under a
// directory without search permission; sftp's glob reports both as "not
// found". Listing the path itself tells them apart: sftp then prints the
// file as a single entry, or the directory's error, or "not found" again.
func (x executor) whyNotListed(asked, dir string) string {
	line, err := batch.Stat(dir)
	if err != nil {
		return err.Error()
	}
	out, err := Run(x.ctx, x.s, line)
	if err != nil {
		return err.Error()
	}
	if msgs := batch.Messages(out); len(msgs) > 0 {
		if notFound(msgs[0]) {
			return fmt.Sprintf("%q: No such file or directory", asked)
		}
		return strings.Join(msgs, "; ")
	}
	if len(out) == 1 {
		return fmt.Sprintf("%q is not a directory", asked)
	}
	return fmt.Sprintf("%q: Permission denied (the directory can be read but not searched)", asked)
}

func (x executor) delete(op proto.Delete) step {
	if err := batch.CheckPath(op.Path); err != nil {
		return done(fail(err))
	}
	target, err := x.s.Resolve(x.ctx, op.Path)
	if err != nil {
		return done(failedErr(err, ""))
	}
	line, err := batch.Remove(target)
	if err != nil {
		return done(fail(err))
	}
	return x.send(line, nil, func(out []string, err error) *proto.Response {
		if err != nil {
			return failedErr(err, "")
		}
		if msgs := batch.Messages(out); len(msgs) > 0 {
			return failed(strings.Join(msgs, "; "), nil)
		}
		return &proto.Response{Status: proto.StatusOK, Message: fmt.Sprintf("deleted %s", op.Path)}
	})
}
