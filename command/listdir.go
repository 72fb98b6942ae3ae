package command

import (
	"fmt"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

// LISTDIR {"path": REMOTE} lists a remote directory.
var listDirCommand = entry("LISTDIR", decodeListDir, listDirEffects, startListDir)

// ListDir lists the remote directory Path.
type ListDir struct{ Path string }

func (ListDir) Name() string { return "LISTDIR" }

func decodeListDir(a *proto.Args) ListDir { return ListDir{Path: a.Str("path")} }

// A LISTDIR reads on the server in its line and, if that fails, again
// after it (whyNotListed), and a later request must not change what that
// second question sees.
func listDirEffects(ListDir) []Effect { return listDirEffectList }

var listDirEffectList = []Effect{{Access: Read, Place: Remote}, {Access: Read, Place: Remote, After: true}}

func startListDir(e *env, op ListDir) step {
	if err := batch.CheckPath(op.Path); err != nil {
		return finished(Result{}, refuse(err))
	}
	dir, err := e.resolve(op.Path)
	if err != nil {
		return finished(Result{}, err)
	}
	l, err := batch.NewListing(dir)
	if err != nil {
		return finished(Result{}, refuse(err))
	}
	// Entries are parsed as sftp prints them; only they are kept.
	return e.send(l.Line, l.Add, func(out []string, err error) (Result, error) {
		return e.listed(op, l, out, err)
	})
}

// listed reads what is left of sftp's output for the listing l once
// l.Add has taken the entries: nothing, or sftp's messages.
func (e *env) listed(op ListDir, l *batch.Listing, out []string, err error) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	msgs := batch.Messages(out)
	if len(msgs) == 0 {
		entries, err := l.Result()
		if err != nil {
			return Result{}, err
		}
		return Result{Message: fmt.Sprintf("%d entries", len(entries)), Data: entries}, nil
	}
	for i := range msgs {
		msgs[i] = l.Clean(msgs[i])
	}
	if batch.LsNotFound(msgs[0]) {
		return Result{}, e.whyNotListed(op.Path, l.Dir)
	}
	return Result{}, batch.MessagesError(msgs)
}

// whyNotListed finds out why a listing came back "not found". The listing
// path ends in "/.", which does not resolve under a file, nor under a
// directory without search permission; sftp's glob reports both as "not
// found". Listing the path itself tells them apart: sftp then prints the
// file as a single entry, or the directory's error, or "not found" again.
func (e *env) whyNotListed(asked, dir string) error {
	line, err := batch.Stat(dir)
	if err != nil {
		return err
	}
	out, err := driver.Run(e.ctx, e.conn, line)
	if err != nil {
		return err
	}
	if msgs := batch.Messages(out); len(msgs) > 0 {
		if batch.LsNotFound(msgs[0]) {
			return proto.Errorf(proto.KindNoSuchFile, fmt.Sprintf("%q: No such file or directory", asked))
		}
		return batch.MessagesError(msgs)
	}
	if len(out) == 1 {
		return proto.Errorf(proto.KindNotADirectory, fmt.Sprintf("%q is not a directory", asked))
	}
	return proto.Errorf(proto.KindPermissionDenied, fmt.Sprintf("%q: Permission denied (the directory can be read but not searched)", asked))
}
