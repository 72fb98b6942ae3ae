package command

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// MKDIR {"path": REMOTE, "parents": BOOL, "mode": INT} creates a remote
// directory. With "parents", every missing directory above it is created
// too, and a directory that is there already is no error (mkdir -p).
// "mode" is the new directory's permission bits, exactly (as mkdir -m: the
// server's umask does not apply); without it the server gives the mode it
// gives by default (0777 less its umask). Directories that "parents"
// creates above it get the default. data: {"created": [PATH...]}, the
// directories created, outermost first (empty when it was there already).
var mkdirCommand = entry("MKDIR", decodeMkdir, mkdirEffects, startMkdir)

// Mkdir creates the remote directory Path.
type Mkdir struct {
	Path    string
	Parents bool
	Mode    uint32
	HasMode bool
}

func (Mkdir) Name() string { return "MKDIR" }

func decodeMkdir(a *proto.Args) Mkdir {
	op := Mkdir{Path: a.Str("path"), Parents: a.Bool("parents", false)}
	op.Mode, op.HasMode = a.Mode("mode")
	return op
}

func mkdirEffects(op Mkdir) []Effect { return []Effect{remote(Write, op.Path)} }

// Made is the data of an ok MKDIR.
type Made struct {
	Created []proto.Name `json:"created"`
}

func startMkdir(e *env, op Mkdir) step {
	return e.callRemote(op.Path, func(ctx context.Context, c *sftpwire.Client, abs string) (Result, error) {
		// The mode goes with the MKDIR as well, so that the directory
		// is never more open than asked, not even for a moment.
		var attrs sftpwire.Attrs
		if op.HasMode {
			attrs = sftpwire.Attrs{Flags: sftpwire.AttrPermissions, Permissions: op.Mode}
		}
		var created []proto.Name
		var err error
		if op.Parents {
			created, err = mkdirAll(ctx, c, op.Path, abs, attrs)
		} else {
			err = mkdir(ctx, c, op.Path, abs, attrs)
			created = []proto.Name{proto.Name(abs)}
		}
		if err != nil {
			return Result{}, err
		}
		if op.HasMode && len(created) > 0 && created[len(created)-1] == proto.Name(abs) {
			// mkdir(2) leaves out what the server's umask masks;
			// the mode asked for is the mode wanted.
			if err := setMode(ctx, c, "mkdir (setting its mode)", op.Path, abs, op.Mode); err != nil {
				return Result{}, err
			}
		}
		msg := fmt.Sprintf("created %s", op.Path)
		if len(created) == 0 {
			msg = fmt.Sprintf("%s is a directory already", op.Path)
		}
		if created == nil {
			created = []proto.Name{}
		}
		return Result{Message: msg, Data: &Made{Created: created}}, nil
	})
}

// mkdir creates abs (asked as asked) with attrs, or says why not.
func mkdir(ctx context.Context, c *sftpwire.Client, asked, abs string, attrs sftpwire.Attrs) error {
	err := c.Mkdir(ctx, abs, attrs)
	if err == nil {
		return nil
	}
	se, refused := kindOf(err)
	if !refused {
		return err
	}
	return existsError(ctx, c, "mkdir", asked, abs, se)
}

// mkdirAll creates abs (with attrs) and every missing directory above it
// (with none), and returns those it created, outermost first. It tries
// abs first: in the common cases (its parent is there, or it is there
// itself) that is the only request; only a missing parent sends it up the
// path.
func mkdirAll(ctx context.Context, c *sftpwire.Client, asked, abs string, attrs sftpwire.Attrs) ([]proto.Name, error) {
	err := c.Mkdir(ctx, abs, attrs)
	if err == nil {
		return []proto.Name{proto.Name(abs)}, nil
	}
	se, refused := kindOf(err)
	if !refused {
		return nil, err
	}
	// Whatever the code (a missing parent, a name that is there, a
	// refusal), what is at abs now decides.
	a, there, lerr := lookAt(ctx, c, abs)
	if lerr != nil {
		return nil, lerr
	}
	if there {
		if a.Has(sftpwire.AttrPermissions) && a.Permissions&modeType == modeDir {
			return nil, nil
		}
		if a.Has(sftpwire.AttrPermissions) && a.Permissions&modeType == modeSymlink {
			// mkdir -p follows a link to a directory.
			if t, err := c.Stat(ctx, abs); err == nil && t.Has(sftpwire.AttrPermissions) && t.Permissions&modeType == modeDir {
				return nil, nil
			}
		}
		return nil, refusedAs(proto.KindAlreadyExists, "mkdir", asked, "exists and is not a directory"+aType(a), se)
	}
	parent := path.Dir(strings.TrimSuffix(abs, "/"))
	switch se.Code.Kind() {
	case proto.KindNoSuchFile, proto.KindNotADirectory, proto.KindFailure:
		// A directory on the way may be missing (or be a file:
		// OpenSSH's server says "no such file" for ENOTDIR,
		// ProFTPD's "failure").
	default:
		return nil, remoteError("mkdir", asked, se)
	}
	if parent == abs || parent == "/" || parent == "." {
		return nil, remoteError("mkdir", asked, se)
	}
	created, err := mkdirAll(ctx, c, parent, parent, sftpwire.Attrs{})
	if err != nil {
		var pe *proto.Error
		if errors.As(err, &pe) && pe.Kind == proto.KindAlreadyExists {
			// Something on the way is not a directory.
			return nil, &proto.Error{Kind: proto.KindNotADirectory, Msg: fmt.Sprintf("mkdir %q: a path on the way is not a directory (%s)", asked, pe.Msg), Err: pe}
		}
		return nil, err
	}
	if err := c.Mkdir(ctx, abs, attrs); err != nil {
		if se, refused := kindOf(err); refused {
			return nil, existsError(ctx, c, "mkdir", asked, abs, se)
		}
		return nil, err
	}
	return append(created, proto.Name(abs)), nil
}
