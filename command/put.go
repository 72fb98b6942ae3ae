package command

import (
	"errors"
	"fmt"
	"os"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

// PUT {"source": LOCAL, "dest": REMOTE} uploads a local file.
var putCommand = entry("PUT", decodePut, putEffects, startPut)

// Put copies the local file Source to the remote path Dest.
type Put struct{ Source, Dest string }

func (Put) Name() string { return "PUT" }

func decodePut(a *proto.Args) Put { return Put{Source: a.Str("source"), Dest: a.Str("dest")} }

// A PUT reads the local source (at Begin, and in its line) and writes on
// the server, in its line.
func putEffects(op Put) []Effect {
	return []Effect{local(Read, op.Source), remote(Write, op.Dest)}
}

// Transfer is the data of an ok PUT or GET. Its fields are in the order
// of their names, as the JSON of sftper's first results had them.
type Transfer struct {
	Dest   string `json:"dest"`
	Size   int64  `json:"size"`
	Source string `json:"source"`
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
	if err := batch.CheckPath(op.Dest); err != nil {
		return finished(Result{}, refuse(err))
	}
	dest, err := e.resolve(op.Dest)
	if err != nil {
		return fail(err)
	}
	line, err := batch.Put(src, dest)
	if err != nil {
		return finished(Result{}, refuse(err))
	}
	// sftp would say the same, but checking first keeps a missing or
	// unreadable source from ever opening a connection or a remote file.
	fi, err := os.Stat(src)
	if err != nil {
		return fail(localError(fmt.Sprintf("local source: %v", unwrapPathError(err, op.Source)), err))
	}
	if !fi.Mode().IsRegular() {
		return fail(localError(fmt.Sprintf("local source %q is not a regular file", op.Source), nil))
	}
	return e.send(line, nil, func(out []string, err error) (Result, error) {
		return putDone(op, src, fi.Size(), out, err)
	})
}

// putDone reads what sftp printed for the upload of src, of size bytes.
func putDone(op Put, src string, size int64, out []string, err error) (Result, error) {
	if err != nil {
		state := partial
		var ce *driver.ConnError
		var ns *NotSent
		if errors.As(err, &ns) || errors.As(err, &ce) && !ce.Sent {
			state = unchanged
		}
		return Result{}, &StateError{Remote: state, Err: err}
	}
	if msgs := batch.Messages(out); len(msgs) > 0 {
		state := partial
		if batch.PutUnchanged(msgs) {
			state = unchanged
		}
		return Result{}, &StateError{Remote: state, Err: batch.MessagesError(msgs)}
	}
	return Result{
		Message: fmt.Sprintf("uploaded %s to %s", op.Source, op.Dest),
		Data:    &Transfer{Dest: op.Dest, Size: size, Source: src},
	}, nil
}
