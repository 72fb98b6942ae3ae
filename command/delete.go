package command

import (
	"fmt"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/proto"
)

// DELETE {"path": REMOTE} removes a remote file or symlink.
var deleteCommand = entry("DELETE", decodeDelete, deleteEffects, startDelete)

// Delete removes the remote file Path.
type Delete struct{ Path string }

func (Delete) Name() string { return "DELETE" }

func decodeDelete(a *proto.Args) Delete { return Delete{Path: a.Str("path")} }

// A DELETE writes on the server, in its line.
func deleteEffects(op Delete) []Effect { return []Effect{remote(Write, op.Path)} }

func startDelete(e *env, op Delete) step {
	if err := batch.CheckPath(op.Path); err != nil {
		return finished(Result{}, refuse(err))
	}
	target, err := e.resolve(op.Path)
	if err != nil {
		return finished(Result{}, err)
	}
	line, err := batch.Remove(target)
	if err != nil {
		return finished(Result{}, refuse(err))
	}
	return e.send(line, nil, func(out []string, err error) (Result, error) {
		if err != nil {
			return Result{}, err
		}
		if msgs := batch.Messages(out); len(msgs) > 0 {
			return Result{}, batch.MessagesError(msgs)
		}
		return Result{Message: fmt.Sprintf("deleted %s", op.Path)}, nil
	})
}
