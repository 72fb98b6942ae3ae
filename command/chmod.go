package command

import (
	"context"
	"fmt"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// CHMOD {"path": REMOTE, "mode": INT} sets a remote file's permission
// bits (0 to 0o7777, given in decimal: 0o644 is 420), as chmod(2) does: a
// symlink's target is changed, not the link.
var chmodCommand = entry("CHMOD", decodeChmod, func(op Chmod) []Effect { return []Effect{remote(Write, op.Path)} }, startChmod)

// Chmod sets the permission bits of Path to Mode.
type Chmod struct {
	Path string
	Mode uint32
}

func (Chmod) Name() string { return "CHMOD" }

func decodeChmod(a *proto.Args) Chmod {
	op := Chmod{Path: a.Str("path")}
	var ok bool
	if op.Mode, ok = a.Mode("mode"); !ok {
		a.Require("mode")
	}
	return op
}

func startChmod(e *env, op Chmod) step {
	return e.callRemote(op.Path, func(ctx context.Context, c *sftpwire.Client, abs string) (Result, error) {
		if err := setMode(ctx, c, "chmod", op.Path, abs, op.Mode); err != nil {
			return Result{}, err
		}
		return Result{Message: fmt.Sprintf("mode of %s set to %04o", op.Path, op.Mode)}, nil
	})
}

// setMode sets the permission bits of abs (asked as asked) to mode, for
// op. A mode of 0 is checked after: ProFTPD's mod_sftp answers OK to a
// SETSTAT of permissions 0 and changes nothing, and an ok for a chmod that
// did not happen would be a wrong answer. Any other mode is taken at the
// server's word, with no round trip more.
func setMode(ctx context.Context, c *sftpwire.Client, op, asked, abs string, mode uint32) error {
	if err := c.Setstat(ctx, abs, sftpwire.Attrs{Flags: sftpwire.AttrPermissions, Permissions: mode}); err != nil {
		return remoteError(op, asked, err)
	}
	if mode != 0 {
		return nil
	}
	a, err := c.Stat(ctx, abs)
	if err != nil {
		return remoteError(op+" (checking the mode)", asked, err)
	}
	if a.Has(sftpwire.AttrPermissions) && a.Permissions&0o7777 != 0 {
		return proto.Errorf(proto.KindUnsupported, fmt.Sprintf("%s %q: the server answered OK to a mode of 0000 but left %04o (ProFTPD's mod_sftp ignores a mode of 0)", op, asked, a.Permissions&0o7777))
	}
	return nil
}
