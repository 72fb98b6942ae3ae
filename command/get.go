package command

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

// GET {"source": REMOTE, "dest": LOCAL} downloads a remote file.
//
// It downloads into a temporary file beside the destination and renames it
// into place only once sftp has said the download is complete. A failed
// GET therefore leaves nothing new behind, and an existing destination file
// is never truncated or half-written.
var getCommand = entry("GET", decodeGet, getEffects, startGet)

// Get copies the remote file Source to the local path Dest.
type Get struct{ Source, Dest string }

func (Get) Name() string { return "GET" }

func decodeGet(a *proto.Args) Get { return Get{Source: a.Str("source"), Dest: a.Str("dest")} }

// A GET reads on the server in its line, and writes the local destination
// after it: the rename. (Its line writes only its own temporary file.)
func getEffects(op Get) []Effect {
	return []Effect{remote(Read, op.Source), local(Write, op.Dest).after()}
}

func startGet(e *env, op Get) step {
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
	dir := filepath.Dir(dest)
	name := driver.PartName() // named for sftper: see driver/leftovers.go
	tmp := filepath.Join(dir, name)
	source, err := e.resolve(op.Source)
	if err != nil {
		return finished(Result{}, err)
	}
	// The length is checked with the longest name PartName can draw,
	// so that whether a GET fits never depends on the draw.
	line, err := batch.GetPart(source, dir, name, driver.PartNameMax)
	var upe *batch.UnsafePathError
	if errors.As(err, &upe) && upe.Path != source {
		upe.Path = op.Dest // the caller's name for it, not the directory
	}
	if err != nil {
		return finished(Result{}, refuse(err))
	}
	driver.SweepParts(dir, e.r.cfg.Log) // once per directory, in the background
	return e.send(line, nil, func(out []string, err error) (Result, error) {
		return getDone(op, tmp, dest, out, err)
	})
}

// getDone reads what sftp printed for the download into tmp and, if it
// worked, renames tmp to dest.
func getDone(op Get, tmp, dest string, out []string, err error) (Result, error) {
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
		os.Remove(tmp)
		return Result{}, err
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return Result{}, localError(err.Error(), err)
	}
	return Result{
		Message: fmt.Sprintf("downloaded %s to %s", op.Source, dest),
		Data:    &Transfer{Dest: dest, Size: fi.Size(), Source: op.Source},
	}, nil
}
