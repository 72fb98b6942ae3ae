package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// RENAME {"source": REMOTE, "dest": REMOTE, "overwrite": BOOL} renames a
// remote file or directory.
//
// Without "overwrite", an existing dest is an error of kind
// already_exists and nothing changes. sftper looks at dest first and sends
// SSH_FXP_RENAME only if nothing is there: OpenSSH's server then refuses
// to replace a file that appeared meanwhile (it links and unlinks), but
// the draft leaves it to each server, so on another server a dest created
// between the look and the rename can be replaced.
//
// With "overwrite", dest is replaced in one step (posix-rename@openssh.com,
// rename(2) on the server: a reader sees the old file or the new one,
// never neither) where the server has that extension, as OpenSSH's,
// ProFTPD's and the Green End server do. Where it has not, dest is removed
// and source renamed in two requests: between them dest does not exist,
// and data says "atomic": false.
//
// data: {"atomic": BOOL}, whether dest, if it was there, was replaced in
// one step.
var renameCommand = entry("RENAME", decodeRename, renameEffects, startRename)

// Rename renames Source to Dest.
type Rename struct {
	Source, Dest string
	Overwrite    bool
}

func (Rename) Name() string { return "RENAME" }

func decodeRename(a *proto.Args) Rename {
	return Rename{Source: a.Str("source"), Dest: a.Str("dest"), Overwrite: a.Bool("overwrite", false)}
}

func renameEffects(op Rename) []Effect {
	return []Effect{remote(Write, op.Source), remote(Write, op.Dest)}
}

// Renamed is the data of an ok RENAME.
type Renamed struct {
	Atomic bool `json:"atomic"`
}

func startRename(e *env, op Rename) step {
	src, err := e.wirePath(op.Source)
	if err != nil {
		return finished(Result{}, err)
	}
	dest, err := e.wirePath(op.Dest)
	if err != nil {
		return finished(Result{}, err)
	}
	if effectPath(src) == effectPath(dest) && effectPath(src) != "" {
		return finished(Result{}, refuse(fmt.Errorf("source and dest are the same path (%q): a rename onto itself changes nothing", op.Source)))
	}
	return e.call(func(ctx context.Context, c *sftpwire.Client) (any, error) {
		return rename(ctx, c, op, src, dest)
	}, func(v any, err error) (Result, error) {
		if err != nil {
			return Result{}, err
		}
		return v.(Result), nil
	})
}

func rename(ctx context.Context, c *sftpwire.Client, op Rename, src, dest string) (Result, error) {
	done := func(atomic bool) (Result, error) {
		return Result{Message: fmt.Sprintf("renamed %s to %s", op.Source, op.Dest), Data: &Renamed{Atomic: atomic}}, nil
	}
	fail := func(err error) (Result, error) {
		if _, refused := kindOf(err); refused {
			return Result{}, renameError(ctx, c, op, src, err)
		}
		return Result{}, err
	}
	if op.Overwrite {
		err := c.PosixRename(ctx, src, dest)
		if err == nil {
			return done(true)
		}
		if !errors.Is(err, sftpwire.ErrUnsupported) {
			return fail(err)
		}
		// No atomic replace on this server: move dest out of the way
		// first, if it is there.
		if err := c.Rename(ctx, src, dest); err == nil {
			return done(true) // nothing was there to replace
		}
		if _, there, err := lookAt(ctx, c, dest); err != nil || !there {
			if err != nil {
				return Result{}, err
			}
			return fail(c.Rename(ctx, src, dest))
		}
		if _, there, err := lookAt(ctx, c, src); err != nil || !there {
			if err != nil {
				return Result{}, err
			}
			return fail(c.Rename(ctx, src, dest)) // its own error: no source
		}
		if err := removeAny(ctx, c, dest); err != nil {
			return fail(err)
		}
		if err := c.Rename(ctx, src, dest); err != nil {
			return fail(err)
		}
		return done(false)
	}
	if a, there, err := lookAt(ctx, c, dest); err != nil {
		return Result{}, err
	} else if there {
		return Result{}, proto.Errorf(proto.KindAlreadyExists, fmt.Sprintf("rename %q to %q: %q already exists%s; nothing was renamed (overwrite: true replaces it)", op.Source, op.Dest, op.Dest, aType(a)))
	}
	if err := c.Rename(ctx, src, dest); err != nil {
		return fail(err)
	}
	return done(true)
}

// removeAny removes p, a file or an empty directory.
func removeAny(ctx context.Context, c *sftpwire.Client, p string) error {
	a, err := c.Lstat(ctx, p)
	if err != nil {
		return err
	}
	if a.Has(sftpwire.AttrPermissions) && a.Permissions&modeType == modeDir {
		return c.Rmdir(ctx, p)
	}
	return c.Remove(ctx, p)
}

// renameError is a refused rename's error, its kind made exact: a dest
// that is there is already_exists (OpenSSH's server says "failure"); a
// missing source is no_such_file.
func renameError(ctx context.Context, c *sftpwire.Client, op Rename, src string, err error) error {
	se, _ := kindOf(err)
	what := fmt.Sprintf("%q to", op.Source)
	if se.Code.Kind() == proto.KindFailure || se.Code.Kind() == proto.KindAlreadyExists {
		if !op.Overwrite {
			if a, there, lerr := lookAt(ctx, c, op.Dest); lerr == nil && there {
				return refusedAs(proto.KindAlreadyExists, "rename "+what, op.Dest, "already exists"+aType(a), se)
			}
		} else if a, there, lerr := lookAt(ctx, c, op.Dest); lerr == nil && there && a.Has(sftpwire.AttrPermissions) && a.Permissions&modeType == modeDir {
			return refusedAs(proto.KindIsADirectory, "rename "+what, op.Dest, "a directory is in the way (only an empty one can be replaced, and only by a directory)", se)
		}
	}
	if se.Code.Kind() == proto.KindNoSuchFile {
		if _, there, lerr := lookAt(ctx, c, src); lerr == nil && !there {
			return refusedAs(proto.KindNoSuchFile, "rename", op.Source, "no such file", se)
		}
	}
	return remoteError("rename "+what, op.Dest, se)
}
