package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// GET {"source": REMOTE, "dest": LOCAL, ...} downloads a remote file.
//
// It downloads into a temporary file beside the destination and renames it
// into place only once sftp has said the download is complete. A failed
// GET therefore leaves nothing new behind, and an existing destination file
// is never truncated or half-written.
//
// "preserve" gives the file the source's permission bits and times (sftp's
// get -p), "fsync" flushes it to disk before it is renamed into place
// (sftp's get -f). With "resume", the temporary file is the destination's
// partial file (see resume.go), kept when the download fails, and a later
// resumable GET of the same source to the same destination goes on from
// what it holds when that is the source's beginning.
var getCommand = entry("GET", decodeGet, getEffects, startGet)

// Get copies the remote file Source to the local path Dest.
type Get struct {
	Source, Dest string
	Xfer
}

func (Get) Name() string { return "GET" }

func decodeGet(a *proto.Args) Get {
	return Get{Source: a.Str("source"), Dest: a.Str("dest"), Xfer: decodeXfer(a)}
}

// A GET reads on the server in its line, and writes the local destination
// after it: the rename. (Its line writes only its own temporary file.)
func getEffects(op Get) []Effect {
	return []Effect{remote(Read, op.Source), local(Write, op.Dest).after()}
}

func startGet(e *env, op Get) step {
	if op.Recursive {
		return startGetTree(e, op)
	}
	if err := batch.CheckPath(op.Source); err != nil {
		return finished(Result{}, refuse(err))
	}
	if err := batch.CheckPath(op.Dest); err != nil {
		return finished(Result{}, refuse(err))
	}
	dest, err := localPath(op.Dest)
	if err != nil {
		return finished(Result{}, err)
	}
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		// Like sftp and scp: a directory receives the file under its own name.
		dest = strings.TrimSuffix(dest, "/") + "/" + path.Base(op.Source)
	}
	source, err := e.resolve(op.Source)
	if err != nil {
		return finished(Result{}, err)
	}
	d := &download{op: op, source: source, dest: dest}
	d.total.Store(-1)
	st := d.start(e)
	if op.Progress {
		e.watch(st.done, func() (Progress, bool) {
			total := d.total.Load()
			fi, err := os.Stat(d.tmp)
			if total < 0 || err != nil {
				return Progress{}, false
			}
			return Progress{Bytes: fi.Size(), Total: total}, true
		})
	}
	return st
}

// start sends the download: after a look at what a resume goes on from,
// or at the source's size for progress reports.
func (d *download) start(e *env) step {
	op, source, dest := d.op, d.source, d.dest
	if op.Resume {
		return d.resume(e)
	}
	dir := filepath.Dir(dest)
	os.Remove(partOf(dest))   // a resumable GET's, which this one starts over
	name := driver.PartName() // named for sftper: see driver/leftovers.go
	d.tmp = filepath.Join(dir, name)
	// The length is checked with the longest name PartName can draw,
	// so that whether a GET fits never depends on the draw.
	line, err := batch.GetPartWith(source, dir, name, driver.PartNameMax, op.flags())
	var upe *batch.UnsafePathError
	if errors.As(err, &upe) && upe.Path != source {
		upe.Path = op.Dest // the caller's name for it, not the directory
	}
	if err != nil {
		return finished(Result{}, refuse(err))
	}
	driver.SweepParts(dir, e.r.cfg.Log) // once per directory, in the background
	if !op.Progress {
		return e.send(line, nil, d.done)
	}
	sized := e.call(func(ctx context.Context, c *sftpwire.Client) (any, error) {
		a, err := c.Stat(ctx, source)
		if err != nil {
			return nil, remoteError("stat", op.Source, err)
		}
		if a.Has(sftpwire.AttrSize) {
			d.total.Store(int64(a.Size))
		}
		return nil, nil
	}, func(_ any, err error) (Result, error) { return Result{}, err })
	return e.then(sized, func(_ Result, err error) step {
		if err != nil {
			return finished(Result{}, err)
		}
		return e.send(line, nil, d.done)
	})
}

// download is one file's GET under way.
type download struct {
	op           Get
	source, dest string
	tmp          string // where sftp writes
	resumed      *Resumed
	remote       sftpwire.Attrs // the source's, when a resume looked
	total        atomic.Int64   // the source's size, for progress reports; -1 until known

	// Of one file of a tree (get_tree.go):
	rel     string // its path below the tree's root
	size    int64  // as listed
	line    string // its get; "" when nothing is left to send
	failed  bool   // given up on before its line
	inPlace bool   // dest holds the whole source already
}

// finishLocally does to a partial file that held the whole source already
// what sftp's -p and -f would have done had it downloaded it.
func (d *download) finishLocally() error {
	if d.op.Preserve && d.remote.Has(sftpwire.AttrPermissions|sftpwire.AttrACModTime) {
		if err := os.Chmod(d.tmp, os.FileMode(d.remote.Permissions&0o777)|goSetBits(d.remote.Permissions)); err != nil {
			return localError(err.Error(), err)
		}
		if err := os.Chtimes(d.tmp, time.Unix(int64(d.remote.Atime), 0), time.Unix(int64(d.remote.Mtime), 0)); err != nil {
			return localError(err.Error(), err)
		}
	}
	if d.op.Fsync {
		f, err := os.OpenFile(d.tmp, os.O_RDWR, 0)
		if err == nil {
			err = f.Sync()
			f.Close()
		}
		if err != nil {
			return localError(err.Error(), err)
		}
	}
	return nil
}

// resume downloads into dest's partial file, going on from what it holds
// when that is the source's beginning (checked on the channel first).
func (d *download) resume(e *env) step {
	d.tmp = partOf(d.dest)
	plain, err := batch.GetPartWith(d.source, filepath.Dir(d.tmp), filepath.Base(d.tmp), len(filepath.Base(d.tmp)), d.op.flags())
	if err != nil {
		return finished(Result{}, refuse(err))
	}
	resumeFlags := d.op.flags()
	resumeFlags.Resume = true
	again, err := batch.GetPartWith(d.source, filepath.Dir(d.tmp), filepath.Base(d.tmp), len(filepath.Base(d.tmp)), resumeFlags)
	if err != nil {
		return finished(Result{}, refuse(err))
	}
	checked := e.call(func(ctx context.Context, c *sftpwire.Client) (any, error) {
		r, a, err := localResume(ctx, c, d.source, d.tmp)
		d.remote = a
		if a.Has(sftpwire.AttrSize) {
			d.total.Store(int64(a.Size))
		}
		return r, err
	}, func(v any, err error) (Result, error) {
		if err != nil {
			return Result{}, remoteError("stat", d.op.Source, err)
		}
		r := v.(Resumed)
		d.resumed = &r
		return Result{}, nil
	})
	return e.then(checked, func(_ Result, err error) step {
		switch {
		case err != nil:
			return finished(Result{}, err)
		case d.resumed.Complete: // nothing to send
			if err := d.finishLocally(); err != nil {
				return finished(Result{}, err)
			}
			return finished(d.done(nil, nil))
		case d.resumed.Kept > 0:
			return e.send(again, nil, d.done)
		}
		return e.send(plain, nil, d.done)
	})
}

// localResume decides how a download of the remote file source into the
// local partial file part goes on: from part's size when part holds the
// source's beginning; from the start otherwise.
func localResume(ctx context.Context, c *sftpwire.Client, source, part string) (Resumed, sftpwire.Attrs, error) {
	a, err := c.Stat(ctx, source)
	if err != nil {
		return Resumed{}, a, err
	}
	f, err := os.Open(part)
	if err != nil {
		return Resumed{}, a, nil // nothing there: from the start
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return Resumed{Restarted: true}, a, nil
	}
	have := fi.Size()
	if !a.Has(sftpwire.AttrSize) || have > int64(a.Size) {
		return Resumed{Restarted: true}, a, nil
	}
	same, err := samePrefix(ctx, c, source, f, have)
	if err != nil {
		return Resumed{}, a, err
	}
	switch {
	case !same:
		return Resumed{Restarted: true}, a, nil
	case have == int64(a.Size) && have > 0:
		return Resumed{Kept: have, Complete: true}, a, nil
	}
	return Resumed{Kept: have}, a, nil
}

// done reads what sftp printed for the download into d.tmp and, if it
// worked, renames it to d.dest.
func (d *download) done(out []string, err error) (Result, error) {
	res, err := getDone(d.op, d.tmp, d.dest, out, err, d.op.Resume)
	if err == nil && d.resumed != nil {
		t := res.Data.(*Transfer)
		kept := d.resumed.Kept
		t.Resumed, t.Restarted = &kept, d.resumed.Restarted
		res.Message += describeResumed(d.resumed)
	}
	return res, err
}

// getDone reads what sftp printed for the download into tmp and, if it
// worked, renames tmp to dest.
func getDone(op Get, tmp, dest string, out []string, err error, keepPart bool) (Result, error) {
	if err == nil {
		if msgs := batch.Messages(out); len(msgs) > 0 {
			e := batch.MessagesError(msgs)
			e.Msg = strings.ReplaceAll(e.Msg, tmp, dest)
			err = e
		}
	}
	if err == nil {
		// rename(2) itself, not os.Rename, which first stats dest: a
		// path lookup per GET, for a check (renaming onto a directory)
		// that rename(2) makes on Linux anyway.
		if e := syscall.Rename(tmp, dest); e != nil {
			le := &os.LinkError{Op: "rename", Old: tmp, New: dest, Err: e}
			err = localError(le.Error(), le)
		}
	}
	if err != nil {
		if !keepPart {
			os.Remove(tmp)
		}
		return Result{}, err
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return Result{}, localError(err.Error(), err)
	}
	t := &Transfer{Dest: dest, Size: fi.Size(), Source: op.Source}
	if op.Fsync {
		synced := true // sftp's get -f: fsync(2), which every local file system has
		t.Fsync = &synced
	}
	return Result{Message: fmt.Sprintf("downloaded %s to %s", op.Source, dest), Data: t}, nil
}
