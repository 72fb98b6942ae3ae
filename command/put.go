package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sync/atomic"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// PUT {"source": LOCAL, "dest": REMOTE, ...} uploads a local file (or,
// with "recursive", a tree: put_tree.go).
//
// The data goes through the user's sftp (its put), at sftp's speed. By
// default ("atomic": true) it goes to the partial file beside dest (see
// resume.go) and is renamed over dest on the attribute channel once sftp
// has said the upload is complete: posix-rename@openssh.com, so that a
// reader of dest sees the old file or the new one and never a part, and a
// failed upload leaves the old one as it was. A server without that
// extension gets dest removed and the partial file renamed in two steps,
// and data says "atomic": false. "atomic": false writes into dest itself,
// as sftp does.
//
// Why the rename goes on the channel and not as sftp's own rename line:
// measured with 1,000 pipelined 4 KiB uploads on loopback (median of 5), a
// rename line after each put in one sftp script added 0.45 ms a file, a
// call on the channel after each upload (a STAT) 0.50 ms: the same within
// the spread. The channel gives the server's own status code, sends
// posix-rename or says it cannot, and needs no rule for running a line
// only after another succeeded, which sftp's session has not got.
//
// "preserve" keeps the source's permission bits and times exactly (sftp's
// put -p sets them on the open file before closing it). "fsync" asks the server to flush the file to disk
// before it is closed (sftp's put -f), which needs fsync@openssh.com: data
// says "fsync": false where the server has not got it. "resume" goes on
// from what the partial file (or, not atomic, dest) holds when it is the
// source's beginning (see remoteResume), and data says how much was kept
// ("resumed") or that it was started again ("restarted").
var putCommand = entry("PUT", decodePut, putEffects, startPut)

// Put copies the local file Source to the remote path Dest.
type Put struct {
	Source, Dest string
	Xfer
}

// Xfer are the options PUT and GET share.
type Xfer struct {
	Recursive, Preserve, Resume, Fsync, Progress bool
	Atomic                                       bool // PUT only
}

func (Put) Name() string { return "PUT" }

func decodePut(a *proto.Args) Put {
	op := Put{Source: a.Str("source"), Dest: a.Str("dest")}
	op.Xfer = decodeXfer(a)
	op.Atomic = a.Bool("atomic", true)
	return op
}

func decodeXfer(a *proto.Args) Xfer {
	return Xfer{
		Recursive: a.Bool("recursive", false),
		Preserve:  a.Bool("preserve", false),
		Resume:    a.Bool("resume", false),
		Fsync:     a.Bool("fsync", false),
		Progress:  a.Bool("progress", false),
	}
}

func (x Xfer) flags() batch.Flags { return batch.Flags{Preserve: x.Preserve, Fsync: x.Fsync} }

// A PUT reads the local source and writes dest on the server: in its line
// when it writes dest itself, after it (the rename, or a tree's lines one
// after another) otherwise.
func putEffects(op Put) []Effect {
	w := remote(Write, op.Dest)
	if op.Atomic || op.Resume || op.Recursive {
		w = w.after()
	}
	return []Effect{local(Read, op.Source), w}
}

// Transfer is the data of an ok PUT or GET. Its fields are in the order
// of their names, as the JSON of sftper's first results had them; the
// optional ones are there only when the request asked for what they say.
type Transfer struct {
	Atomic    *bool  `json:"atomic,omitempty"`
	Dest      string `json:"dest"`
	Fsync     *bool  `json:"fsync,omitempty"`
	Restarted bool   `json:"restarted,omitempty"`
	Resumed   *int64 `json:"resumed,omitempty"`
	Size      int64  `json:"size"`
	Source    string `json:"source"`
}

// unchanged and partial are what a failed PUT left on the server.
const (
	unchanged = "unchanged"
	partial   = "partial"
)

func startPut(e *env, op Put) step {
	fail := func(err error) step { return finished(Result{}, &StateError{Remote: unchanged, Err: err}) }
	src, err := localPath(op.Source)
	if err != nil {
		return fail(err)
	}
	if op.Recursive {
		return startPutTree(e, op)
	}
	if err := batch.CheckPath(op.Dest); err != nil {
		return finished(Result{}, refuse(err))
	}
	dest, err := e.resolve(op.Dest)
	if err != nil {
		return fail(err)
	}
	target := dest
	if op.Atomic {
		target = partOf(dest)
	}
	line, err := batch.PutWith(src, target, op.flags())
	if err != nil {
		if op.Atomic {
			err = fmt.Errorf("%w (an atomic upload writes to %q first; \"atomic\": false writes to dest itself)", err, path.Base(target))
		}
		return finished(Result{}, refuse(err))
	}
	// sftp would say the same, but checking first keeps a missing or
	// unreadable source from ever opening a connection or a remote file.
	fi, err := os.Stat(src)
	if err != nil {
		return fail(localError(fmt.Sprintf("local source: %v", unwrapPathError(err, op.Source)), err))
	}
	if !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fail(localError(fmt.Sprintf("local source %q is a directory (\"recursive\": true uploads a tree)", op.Source), nil))
		}
		return fail(localError(fmt.Sprintf("local source %q is not a regular file", op.Source), nil))
	}
	u := &upload{op: op, src: src, dest: dest, target: target, size: fi.Size(), line: line}
	if op.Preserve {
		// Taken before sftp reads the file, which moves its access
		// time on (relatime), as sftp takes them.
		if u.attrs, err = localAttrs(src); err != nil {
			return fail(localError(fmt.Sprintf("local source: %v", unwrapPathError(err, op.Source)), err))
		}
	}
	st := u.start(e)
	if op.Progress {
		e.watch(st.done, func() (Progress, bool) {
			p := u.sent.Load()
			if p == nil {
				return Progress{}, false
			}
			n, ok := p.Offset(fi)
			return Progress{Bytes: n, Total: u.size}, ok
		})
	}
	return st
}

// start sends the upload, after a look at what a resume goes on from.
func (u *upload) start(e *env) step {
	op, src, target := u.op, u.src, u.target
	if !op.Resume {
		return u.send(e)
	}
	// Where to go on from: a look at the partial file (or dest) first.
	return e.then(e.call(func(ctx context.Context, c *sftpwire.Client) (any, error) {
		f, err := os.Open(src)
		if err != nil {
			return nil, localError(fmt.Sprintf("local source: %v", unwrapPathError(err, op.Source)), err)
		}
		defer f.Close()
		return remoteResume(ctx, c, target, f, u.size)
	}, func(v any, err error) (Result, error) {
		if err != nil {
			return Result{}, &StateError{Remote: unchanged, Err: err}
		}
		r := v.(Resumed)
		u.resumed = &r
		return Result{}, nil
	}), func(_ Result, err error) step {
		if err != nil {
			return finished(Result{}, err)
		}
		if u.resumed.Kept > 0 {
			resumeLine, err := batch.PutWith(src, target, batch.Flags{Preserve: op.Preserve, Fsync: op.Fsync, Resume: true})
			if err != nil {
				return finished(Result{}, refuse(err))
			}
			u.line = resumeLine
			if u.resumed.Complete {
				u.line = "" // all there: nothing to send
			}
		}
		return u.send(e)
	})
}

// upload is one file's PUT under way.
type upload struct {
	op                Put
	src, dest, target string // target: where sftp writes (dest, or its partial file)
	size              int64
	line              string // sftp's put; "" when the target holds the whole source already
	resumed           *Resumed
	attrs             sftpwire.Attrs // the source's mode and times, with "preserve"
	atomic, fsyncDone *bool
	sent              atomic.Pointer[driver.Pending] // the put line, once sent
	looked            step                           // what is at dest, asked beside the upload (atomic)
	look              looked                         // its answer, once looked is done
	lookErr           error                          // its error

	// Of one file of a tree (put_tree.go):
	rel     string      // its path below the tree's root
	exact   bool        // dest is the file's own name: no directory or symlink there is followed
	fi      os.FileInfo // the source's, for progress reports
	failed  bool        // given up on before its line
	inPlace bool        // dest holds the whole source already
}

// send sends the put line, then (atomic) puts the partial file in place.
// What is at dest (see putInPlace) is asked on the attribute channel at
// the same time as the upload, not after it: the rename then waits for
// one round trip after sftp is done, not two. (What changes at dest
// meanwhile is another writer's race with this one, as it would be
// anyway.)
func (u *upload) send(e *env) step {
	if u.op.Atomic && !u.exact {
		u.looked = e.call(func(ctx context.Context, c *sftpwire.Client) (any, error) {
			a, there, err := lookAt(ctx, c, u.dest)
			return looked{a, there}, err
		}, func(v any, err error) (Result, error) {
			if err == nil {
				u.look = v.(looked)
			}
			return Result{}, err
		})
	}
	if !u.op.Atomic && !u.op.Fsync && u.line != "" {
		// Nothing to do after the line: its step is the request's,
		// with no goroutine waiting in between.
		st := e.send(u.line, nil, func(out []string, err error) (Result, error) {
			if err := putFailure(out, err); err != nil {
				return Result{}, err
			}
			return u.result(), nil
		})
		u.sent.Store(st.pending)
		return st
	}
	sent := finished(Result{}, nil)
	if u.line != "" {
		sent = e.send(u.line, nil, func(out []string, err error) (Result, error) {
			return Result{}, putFailure(out, err)
		})
		u.sent.Store(sent.pending)
	}
	return e.then(sent, func(_ Result, err error) step {
		if err != nil {
			wrote := leftPartial(err)
			if u.op.Atomic {
				// Whatever sftp got to, it wrote to the partial
				// file: dest is as it was.
				var se *StateError
				if errors.As(err, &se) {
					err = &StateError{Remote: unchanged, Err: se.Err}
				}
			}
			if !u.op.Atomic || u.op.Resume || !wrote {
				return finished(Result{}, err)
			}
			// The upload failed with the connection up: its partial
			// file goes, and dest was never touched. (On a lost
			// connection it stays, for a resume.)
			return e.call(func(ctx context.Context, c *sftpwire.Client) (any, error) {
				return nil, c.Remove(ctx, u.target)
			}, func(any, error) (Result, error) {
				var se *StateError
				errors.As(err, &se)
				return Result{}, &StateError{Remote: unchanged, Err: se.Err}
			})
		}
		if !u.op.Atomic && !u.op.Fsync && !(u.line == "" && u.op.Preserve) {
			return finished(u.result(), nil)
		}
		if u.looked.done != nil {
			// Its answer, before the call that uses it takes its turn
			// on the channel.
			select {
			case <-u.looked.done:
			case <-e.ctx.Done():
			}
			_, u.lookErr = u.looked.result()
		}
		return e.call(func(ctx context.Context, c *sftpwire.Client) (any, error) {
			if u.op.Fsync {
				has := c.Has("fsync@openssh.com")
				u.fsyncDone = &has
			}
			if u.op.Preserve && u.line == "" {
				// Nothing was sent, so sftp's -p did not set them.
				if err := c.Setstat(ctx, u.target, u.attrs); err != nil {
					return nil, remoteError("setstat", u.target, err)
				}
			}
			if !u.op.Atomic {
				return nil, nil
			}
			atomic, err := putInPlace(ctx, c, u)
			u.atomic = &atomic
			if err != nil && !u.op.Resume {
				// Nothing will come back for it: a resumable PUT's
				// stays, for the next one to rename.
				c.Remove(ctx, u.target)
			}
			return nil, err
		}, func(_ any, err error) (Result, error) {
			if err != nil {
				// The upload is complete in its partial file (or in
				// dest, not atomic); dest is as it was.
				state := unchanged
				if !u.op.Atomic {
					state = partial
				}
				return Result{}, &StateError{Remote: state, Err: err}
			}
			return u.result(), nil
		})
	})
}

// leftPartial reports whether err, a failed put, may have left bytes in
// its target while the connection stayed up (sftp said why, after it had
// opened the file).
func leftPartial(err error) bool {
	var se *StateError
	if !errors.As(err, &se) || se.Remote != partial {
		return false
	}
	var ce *driver.ConnError
	return !errors.As(err, &ce)
}

// looked is what a look at a path found.
type looked struct {
	attrs sftpwire.Attrs
	there bool
}

// lookedAt is what u.looked found at dest, if it asked (send has waited
// for its answer); ok is false when the look is still to be made.
func (u *upload) lookedAt() (looked, bool, error) {
	if u.looked.done == nil {
		return looked{}, false, nil
	}
	return u.look, u.lookErr == nil, u.lookErr
}

// putInPlace renames the complete partial file over the file dest names,
// atomically where the server can, and reports whether it could.
//
// The file dest names: dest itself; the file under the source's name in
// it when dest is a directory (as sftp's put puts it there); the file a
// symlink at dest points to (as sftp's put writes through the link),
// resolved by the server. A file being replaced keeps its permission bits
// (the new file would otherwise get the source's, as a new file does):
// replacing a 0600 file must not leave a 0644 one. "preserve" gives it
// the source's instead.
func putInPlace(ctx context.Context, c *sftpwire.Client, u *upload) (bool, error) {
	final := u.dest
	l, ok, err := u.lookedAt()
	if err != nil {
		return false, err
	}
	a, there := l.attrs, l.there
	if !ok {
		if a, there, err = lookAt(ctx, c, final); err != nil {
			return false, err
		}
	}
	if there && !u.exact && a.Permissions&modeType == modeSymlink {
		real, err := c.RealPath(ctx, final)
		if err != nil {
			return false, remoteError("resolve the symlink", u.op.Dest, err)
		}
		final = real
		if a, there, err = lookAt(ctx, c, final); err != nil {
			return false, err
		}
	}
	if there && !u.exact && a.Permissions&modeType == modeDir {
		final = path.Join(final, path.Base(u.src))
		if a, there, err = lookAt(ctx, c, final); err != nil {
			return false, err
		}
	}
	if there && a.Has(sftpwire.AttrPermissions) && a.Permissions&modeType == modeRegular && !u.op.Preserve {
		keep := sftpwire.Attrs{Flags: sftpwire.AttrPermissions, Permissions: a.Permissions & 0o7777}
		if err := c.Setstat(ctx, u.target, keep); err != nil {
			return false, remoteError("setstat", u.target, err)
		}
	}
	res, err := rename(ctx, c, Rename{Source: u.target, Dest: final, Overwrite: true}, u.target, final)
	if err != nil {
		return false, err
	}
	r, ok := res.Data.(*Renamed)
	return ok && r.Atomic, nil
}

func (u *upload) result() Result {
	t := &Transfer{Dest: u.op.Dest, Size: u.size, Source: u.src, Atomic: u.atomic, Fsync: u.fsyncDone}
	if u.resumed != nil {
		kept := u.resumed.Kept
		t.Resumed = &kept
		t.Restarted = u.resumed.Restarted
	}
	return Result{
		Message: fmt.Sprintf("uploaded %s to %s%s", u.op.Source, u.op.Dest, describeResumed(u.resumed)),
		Data:    t,
	}
}

// putFailure reads what sftp printed for an upload: nil when it worked,
// else a *StateError saying what it may have left on the server.
func putFailure(out []string, err error) error {
	if err != nil {
		state := partial
		var ce *driver.ConnError
		var ns *NotSent
		if errors.As(err, &ns) || errors.As(err, &ce) && !ce.Sent {
			state = unchanged
		}
		return &StateError{Remote: state, Err: err}
	}
	if msgs := batch.Messages(out); len(msgs) > 0 {
		state := partial
		if batch.PutUnchanged(msgs) {
			state = unchanged
		}
		return &StateError{Remote: state, Err: batch.MessagesError(msgs)}
	}
	return nil
}
