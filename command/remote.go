package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// Remote changes made on the attribute channel: the commands that are one
// SFTP request each (MKDIR, RMDIR, RENAME, CHMOD, SYMLINK, READLINK, UTIME,
// REALPATH, DF). sftp has no command for some of them (READLINK, UTIME,
// REALPATH), prints only the minute or the KiB for others, and reports every
// refusal as one of nine texts; on the channel sftper sends the request
// itself, names reach the server byte for byte (a newline included), and
// the server's own status code and text come back. The channel's calls and
// sftp's lines are kept in request order (driver/gate.go), so these
// commands are ordered with the transfers around them as sftp's own
// commands would be.

// What a status code cannot say. OpenSSH's server turns every errno it
// has no code for into SSH_FX_FAILURE (EEXIST, ENOTEMPTY, EISDIR...), and
// ENOTDIR into SSH_FX_NO_SUCH_FILE; other servers send the later drafts'
// exact codes, or the same bare failure. Where the kind matters to a
// client (a MKDIR of a name that exists, an RMDIR of a directory that is
// not empty), a refusal is followed by a look at the path (lstat, or the
// start of a listing), and the kind is what is there. The look is made
// only after a refusal, so a request that works costs one round trip.

// kindOf returns the refusal err's kind from its status code, and whether
// err is a refusal at all (a *sftpwire.StatusError) rather than the
// channel's failure.
func kindOf(err error) (*sftpwire.StatusError, bool) {
	var se *sftpwire.StatusError
	return se, errors.As(err, &se)
}

// lookAt lstats p after a refusal: the attributes, whether something is
// there (false also when the server refuses the look: then nothing more
// is known), and the channel's error if the look could not be made.
func lookAt(ctx context.Context, c *sftpwire.Client, p string) (sftpwire.Attrs, bool, error) {
	a, err := c.Lstat(ctx, p)
	if err != nil {
		if _, refused := kindOf(err); refused {
			return sftpwire.Attrs{}, false, nil
		}
		return sftpwire.Attrs{}, false, err
	}
	return a, true, nil
}

// refusedAs is remoteError with the kind kind and a reason said in words:
// `mkdir "/srv/x": already exists (a regular file; the server said:
// Failure, SSH_FX_FAILURE)`.
func refusedAs(kind proto.Kind, op, asked, reason string, se *sftpwire.StatusError) error {
	said := se.Code.String()
	if se.Message != "" {
		said = fmt.Sprintf("%s, %s", se.Message, se.Code)
	}
	return &proto.Error{Kind: kind, Msg: fmt.Sprintf("%s %q: %s (the server said: %s)", op, asked, reason, said), Err: se}
}

// existsError is the error of op, refused with se, when what is at p may
// be in its way: already_exists if something is there, else the code's.
func existsError(ctx context.Context, c *sftpwire.Client, op, asked, p string, se *sftpwire.StatusError) error {
	if se.Code.Kind() != proto.KindFailure && se.Code.Kind() != proto.KindAlreadyExists {
		return remoteError(op, asked, se)
	}
	a, there, err := lookAt(ctx, c, p)
	if err != nil {
		return err
	}
	if !there {
		return remoteError(op, asked, se)
	}
	return refusedAs(proto.KindAlreadyExists, op, asked, "already exists"+aType(a), se)
}

// aType is " (a regular file)" for a's type, "" when the server sent none.
func aType(a sftpwire.Attrs) string {
	if t := fileType(a); t != "" {
		return fmt.Sprintf(" (a %s)", t)
	}
	return ""
}

// callRemote runs f on the attribute channel with the path p checked and
// made absolute, and answers with what f returns.
func (e *env) callRemote(p string, f func(ctx context.Context, c *sftpwire.Client, abs string) (Result, error)) step {
	abs, err := e.wirePath(p)
	if err != nil {
		return finished(Result{}, err)
	}
	return e.call(func(ctx context.Context, c *sftpwire.Client) (any, error) {
		return f(ctx, c, abs)
	}, func(v any, err error) (Result, error) {
		if err != nil {
			return Result{}, err
		}
		return v.(Result), nil
	})
}
