package command

import (
	"context"
	"errors"
	"fmt"

	"strings"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// STAT {"path": REMOTE} and LSTAT {"path": REMOTE}: a remote file's
// attributes, exactly as the server sends them, read on the attribute
// channel (driver/attrs.go). STAT follows a symlink, LSTAT does not.
var (
	statCommand  = entry("STAT", decodeStat, statEffects[Stat], startStat)
	lstatCommand = entry("LSTAT", decodeLstat, statEffects[Lstat], startLstat)
)

// Stat asks for the attributes of Path, following a symlink.
type Stat struct{ Path string }

// Lstat asks for the attributes of Path itself.
type Lstat struct{ Path string }

func (Stat) Name() string  { return "STAT" }
func (Lstat) Name() string { return "LSTAT" }

func decodeStat(a *proto.Args) Stat   { return Stat{Path: a.Str("path")} }
func decodeLstat(a *proto.Args) Lstat { return Lstat{Path: a.Str("path")} }

// Reading attributes reads on the server, in the call and not after it.
func statEffects[O any](O) []Effect { return readRemote }

var readRemote = []Effect{{Access: Read, Place: Remote}}

func startStat(e *env, op Stat) step   { return e.stat(op.Path, true) }
func startLstat(e *env, op Lstat) step { return e.stat(op.Path, false) }

func (e *env) stat(asked string, follow bool) step {
	p, err := e.wirePath(asked)
	if err != nil {
		return finished(Result{}, err)
	}
	name := "lstat"
	if follow {
		name = "stat"
	}
	return e.call(func(ctx context.Context, c *sftpwire.Client) (any, error) {
		var a sftpwire.Attrs
		var err error
		if follow {
			a, err = c.Stat(ctx, p)
		} else {
			a, err = c.Lstat(ctx, p)
		}
		if err != nil {
			return nil, remoteError(name, asked, err)
		}
		return a, nil
	}, func(v any, err error) (Result, error) {
		if err != nil {
			return Result{}, err
		}
		a := v.(sftpwire.Attrs)
		return Result{Message: describeAttrs(a), Data: attrsData(a)}, nil
	})
}

// wirePath checks a path that goes to the server in an SFTP packet, not
// on an sftp command line, and makes it absolute. Any bytes can go there
// but NUL: servers take names as C strings, so a NUL would cut the name
// short and the request would be about another file.
func (e *env) wirePath(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", refuse(fmt.Errorf("path %q holds a NUL byte, which no file name can hold", p))
	}
	return e.resolve(p)
}

// Attrs are a remote file's attributes as the server sent them: the data
// of STAT and LSTAT, and of each LISTDIR entry. A field the server did not
// send (SFTP makes each group optional) is null, never a guess.
type Attrs struct {
	Size  *uint64 `json:"size"`
	Mtime *int64  `json:"mtime"` // Unix seconds
	Mode  *uint32 `json:"mode"`  // the full st_mode as sent: file type, permissions, setuid/setgid/sticky
	Atime *int64  `json:"atime"` // Unix seconds
	UID   *uint32 `json:"uid"`
	GID   *uint32 `json:"gid"`
}

func attrsData(a sftpwire.Attrs) Attrs {
	var d Attrs
	if a.Has(sftpwire.AttrSize) {
		d.Size = &a.Size
	}
	if a.Has(sftpwire.AttrACModTime) {
		mt, at := int64(a.Mtime), int64(a.Atime)
		d.Mtime, d.Atime = &mt, &at
	}
	if a.Has(sftpwire.AttrPermissions) {
		d.Mode = &a.Permissions
	}
	if a.Has(sftpwire.AttrUIDGID) {
		d.UID, d.GID = &a.UID, &a.GID
	}
	return d
}

// File types in st_mode, as SFTP v3 servers send them in permissions.
const (
	modeType    = 0o170000
	modeDir     = 0o040000
	modeRegular = 0o100000
	modeSymlink = 0o120000
)

// fileType is the type in a's mode, "" when the server sent none.
func fileType(a sftpwire.Attrs) string {
	if !a.Has(sftpwire.AttrPermissions) {
		return ""
	}
	switch a.Permissions & modeType {
	case modeRegular:
		return "regular file"
	case modeDir:
		return "directory"
	case modeSymlink:
		return "symbolic link"
	case 0o010000:
		return "named pipe"
	case 0o140000:
		return "socket"
	case 0o020000:
		return "character device"
	case 0o060000:
		return "block device"
	}
	return ""
}

// describeAttrs is a STAT's message: "regular file, 12 bytes".
func describeAttrs(a sftpwire.Attrs) string {
	t := fileType(a)
	if t == "" {
		t = "file of a type the server did not say"
	}
	if a.Has(sftpwire.AttrSize) && (a.Permissions&modeType == modeRegular || !a.Has(sftpwire.AttrPermissions)) {
		return fmt.Sprintf("%s, %d bytes", t, a.Size)
	}
	return t
}

// remoteError is a request the server refused, with its kind from the
// status code, the server's own text and the code's name: `stat
// "/srv/x": No such file (SSH_FX_NO_SUCH_FILE)`. Other errors (the
// channel's) are returned as they are.
func remoteError(op, path string, err error) error {
	var se *sftpwire.StatusError
	if !errors.As(err, &se) {
		return err
	}
	text := strings.TrimSpace(se.Message)
	msg := fmt.Sprintf("%s %q: %s", op, path, se.Code)
	if text != "" {
		msg = fmt.Sprintf("%s %q: %s (%s)", op, path, text, se.Code)
	}
	return &proto.Error{Kind: se.Code.Kind(), Msg: msg, Err: se}
}
