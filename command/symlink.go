package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// SYMLINK {"target": TEXT, "path": REMOTE} creates path as a symbolic link
// holding target, as `ln -s target path` does: target is stored exactly as
// given, never resolved or made absolute, and need not exist. Servers
// disagree on the order of SSH_FXP_SYMLINK's two paths; sftpwire sends the
// order the server takes (see Client.Symlink). A path that is there
// already is an error of kind already_exists.
var symlinkCommand = entry("SYMLINK", decodeSymlink, func(op Symlink) []Effect { return []Effect{remote(Write, op.Path)} }, startSymlink)

// Symlink makes Path a symlink to Target.
type Symlink struct{ Target, Path string }

func (Symlink) Name() string { return "SYMLINK" }

func decodeSymlink(a *proto.Args) Symlink {
	return Symlink{Target: a.Str("target"), Path: a.Str("path")}
}

func startSymlink(e *env, op Symlink) step {
	if strings.IndexByte(op.Target, 0) >= 0 {
		return finished(Result{}, refuse(fmt.Errorf("target %q holds a NUL byte, which no symlink can hold", op.Target)))
	}
	return e.callRemote(op.Path, func(ctx context.Context, c *sftpwire.Client, abs string) (Result, error) {
		err := c.Symlink(ctx, op.Target, abs)
		if err == nil {
			return Result{Message: fmt.Sprintf("%s -> %s", op.Path, op.Target)}, nil
		}
		se, refused := kindOf(err)
		if !refused {
			return Result{}, err
		}
		return Result{}, existsError(ctx, c, "symlink", op.Path, abs, se)
	})
}

// READLINK {"path": REMOTE}: data is the target the symlink holds, exactly
// (a name that is not UTF-8 as proto.Name writes it). A path that is not
// a symlink is an error of kind not_a_symlink.
var readlinkCommand = entry("READLINK", decodeReadlink, func(op Readlink) []Effect { return readsRemote(op.Path) }, startReadlink)

// Readlink asks for the target of the symlink Path.
type Readlink struct{ Path string }

func (Readlink) Name() string { return "READLINK" }

func decodeReadlink(a *proto.Args) Readlink { return Readlink{Path: a.Str("path")} }

func startReadlink(e *env, op Readlink) step {
	return e.callRemote(op.Path, func(ctx context.Context, c *sftpwire.Client, abs string) (Result, error) {
		target, err := c.ReadLink(ctx, abs)
		if err == nil && modSFTP(c.Version()) {
			// mod_sftp resolves a relative target against the link's
			// directory (dir_readlink with HANDLE_REL_PATH) and
			// answers with that: /srv/x for a link holding ../x.
			// What the link holds cannot be told from it.
			return Result{}, proto.Errorf(proto.KindUnsupported, fmt.Sprintf("readlink %q: this server (ProFTPD's mod_sftp) answers with the target resolved against the link's directory (%q), not as the link holds it, so the target as stored cannot be read here", op.Path, target))
		}
		if err == nil {
			return Result{Message: fmt.Sprintf("%s -> %s", op.Path, target), Data: proto.Name(target)}, nil
		}
		se, refused := kindOf(err)
		if !refused || se.Code.Kind() == proto.KindNoSuchFile || se.Code.Kind() == proto.KindPermissionDenied {
			return Result{}, remoteError("readlink", op.Path, err)
		}
		// readlink(2) of what is not a link is EINVAL, which servers
		// send as a bad message or a failure.
		if a, there, lerr := lookAt(ctx, c, abs); lerr != nil {
			return Result{}, lerr
		} else if there && a.Has(sftpwire.AttrPermissions) && a.Permissions&modeType != modeSymlink {
			return Result{}, refusedAs(proto.KindNotASymlink, "readlink", op.Path, "not a symbolic link"+aType(a), se)
		}
		return Result{}, remoteError("readlink", op.Path, err)
	})
}
