package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// RMDIR {"path": REMOTE} removes an empty remote directory. One that has
// entries is an error of kind not_empty; a path that is not a directory,
// not_a_directory.
var rmdirCommand = entry("RMDIR", decodeRmdir, func(op Rmdir) []Effect { return []Effect{remote(Write, op.Path)} }, startRmdir)

// Rmdir removes the empty remote directory Path.
type Rmdir struct{ Path string }

func (Rmdir) Name() string { return "RMDIR" }

func decodeRmdir(a *proto.Args) Rmdir { return Rmdir{Path: a.Str("path")} }

func startRmdir(e *env, op Rmdir) step {
	return e.callRemote(op.Path, func(ctx context.Context, c *sftpwire.Client, abs string) (Result, error) {
		err := c.Rmdir(ctx, abs)
		if err == nil {
			return Result{Message: fmt.Sprintf("removed %s", op.Path)}, nil
		}
		se, refused := kindOf(err)
		if !refused {
			return Result{}, err
		}
		return Result{}, whyNotRemoved(ctx, c, op.Path, abs, se)
	})
}

// whyNotRemoved makes the kind of a refused RMDIR exact: OpenSSH's server
// says "no such file" for a file in the way (ENOTDIR) and "failure" for a
// directory with entries (ENOTEMPTY). What is at abs, and whether it
// lists anything, tell.
func whyNotRemoved(ctx context.Context, c *sftpwire.Client, asked, abs string, se *sftpwire.StatusError) error {
	switch se.Code.Kind() {
	case proto.KindFailure, proto.KindNoSuchFile, proto.KindNotEmpty:
	default:
		return remoteError("rmdir", asked, se)
	}
	a, there, err := lookAt(ctx, c, abs)
	switch {
	case err != nil:
		return err
	case !there:
		return remoteError("rmdir", asked, se)
	case !a.Has(sftpwire.AttrPermissions):
		return remoteError("rmdir", asked, se)
	case a.Permissions&modeType != modeDir:
		return refusedAs(proto.KindNotADirectory, "rmdir", asked, "not a directory"+aType(a), se)
	}
	names, err := c.ReadDir(ctx, strings.TrimSuffix(abs, "/")+"/.")
	if err != nil {
		if _, refused := kindOf(err); refused {
			return remoteError("rmdir", asked, se) // cannot be listed: nothing more is known
		}
		return err
	}
	for _, n := range names {
		if n.Name != "." && n.Name != ".." {
			return refusedAs(proto.KindNotEmpty, "rmdir", asked, "directory not empty", se)
		}
	}
	return remoteError("rmdir", asked, se)
}
