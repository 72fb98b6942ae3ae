package command

import (
	"context"
	"fmt"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// REALPATH {"path": REMOTE}: data is the path made canonical by the
// server (absolute, symlinks resolved, "." and ".." gone), as its
// SSH_FXP_REALPATH gives it. Whether a path that does not exist is an
// error is the server's to say: OpenSSH's says no_such_file, some servers
// canonicalise it anyway.
var realpathCommand = entry("REALPATH", decodeRealpath, func(op Realpath) []Effect { return readsRemote(op.Path) }, startRealpath)

// Realpath asks for the canonical form of Path.
type Realpath struct{ Path string }

func (Realpath) Name() string { return "REALPATH" }

func decodeRealpath(a *proto.Args) Realpath { return Realpath{Path: a.Str("path")} }

func startRealpath(e *env, op Realpath) step {
	return e.callRemote(op.Path, func(ctx context.Context, c *sftpwire.Client, abs string) (Result, error) {
		p, err := c.RealPath(ctx, abs)
		if err != nil {
			return Result{}, remoteError("realpath", op.Path, err)
		}
		return Result{Message: fmt.Sprintf("%s is %s", op.Path, p), Data: proto.Name(p)}, nil
	})
}
