package command

import (
	"context"
	"fmt"
	"time"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// UTIME {"path": REMOTE, "mtime": SECONDS, "atime": SECONDS} sets a remote
// file's modification and access times, exactly, in whole seconds since
// 1970 (SFTP version 3 carries nothing finer, and nothing after early
// 2106); atime defaults to mtime. As utime(2), a symlink's target is
// changed.
var utimeCommand = entry("UTIME", decodeUtime, func(op Utime) []Effect { return []Effect{remote(Write, op.Path)} }, startUtime)

// Utime sets the times of Path.
type Utime struct {
	Path         string
	Mtime, Atime int64
}

func (Utime) Name() string { return "UTIME" }

func decodeUtime(a *proto.Args) Utime {
	op := Utime{Path: a.Str("path")}
	var ok bool
	if op.Mtime, ok = a.Time("mtime"); !ok {
		a.Require("mtime")
	}
	if op.Atime, ok = a.Time("atime"); !ok {
		op.Atime = op.Mtime
	}
	return op
}

func startUtime(e *env, op Utime) step {
	return e.callRemote(op.Path, func(ctx context.Context, c *sftpwire.Client, abs string) (Result, error) {
		a := sftpwire.Attrs{Flags: sftpwire.AttrACModTime, Mtime: uint32(op.Mtime), Atime: uint32(op.Atime)}
		if err := c.Setstat(ctx, abs, a); err != nil {
			return Result{}, remoteError("utime", op.Path, err)
		}
		return Result{Message: fmt.Sprintf("times of %s set (mtime %s)", op.Path, time.Unix(op.Mtime, 0).UTC().Format(time.RFC3339))}, nil
	})
}
