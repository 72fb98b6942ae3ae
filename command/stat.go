package command

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// STAT {"path": REMOTE} and LSTAT {"path": REMOTE}: a remote file's
// attributes, exactly as the server sends them, read on the attribute
// channel (driver/attrs.go). STAT follows a symlink, LSTAT does not.
var (
	statCommand  = entry("STAT", decodeStat, func(op Stat) []Effect { return readsRemote(op.Path) }, startStat)
	lstatCommand = entry("LSTAT", decodeLstat, func(op Lstat) []Effect { return readsRemote(op.Path) }, startLstat)
)

// Stat asks for the attributes of Path, following a symlink.
type Stat struct{ Path string }

// Lstat asks for the attributes of Path itself.
type Lstat struct{ Path string }

func (Stat) Name() string  { return "STAT" }
func (Lstat) Name() string { return "LSTAT" }

func decodeStat(a *proto.Args) Stat   { return Stat{Path: a.Str("path")} }
func decodeLstat(a *proto.Args) Lstat { return Lstat{Path: a.Str("path")} }

// Reading attributes reads the path on the server, in the call and not
// after it.
func readsRemote(p string) []Effect { return []Effect{remote(Read, p)} }

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
		if follow {
			a, err := c.Stat(ctx, p)
			if err != nil {
				return nil, remoteError(name, asked, err)
			}
			return a, nil
		}
		return lstat(ctx, c, asked, p)
	}, func(v any, err error) (Result, error) {
		if err != nil {
			return Result{}, err
		}
		a := v.(sftpwire.Attrs)
		return Result{Message: describeAttrs(a), Data: attrsData(a)}, nil
	})
}

// lstat is LSTAT, checked where the server may get it wrong: ProFTPD's
// mod_sftp (1.3.8) answers LSTAT of a symlink with its target's
// attributes, a plausible and wrong answer. There LSTAT goes with a
// READLINK of the same path, sent at the same time (no round trip more):
// when READLINK finds a symlink and LSTAT's answer is
// not one, the link's own attributes are read from its directory's
// listing (READDIR gives lstat's view on every server tested), or the
// request is an error.
func lstat(ctx context.Context, c *sftpwire.Client, asked, p string) (any, error) {
	if !followsOnLstat(c.Version()) {
		a, err := c.Lstat(ctx, p)
		if err != nil {
			return nil, remoteError("lstat", asked, err)
		}
		return a, nil
	}
	linked := make(chan error, 1)
	go func() {
		_, err := c.ReadLink(ctx, p)
		linked <- err
	}()
	a, err := c.Lstat(ctx, p)
	isLink := <-linked == nil
	if err != nil {
		return nil, remoteError("lstat", asked, err)
	}
	if !isLink || !a.Has(sftpwire.AttrPermissions) || a.Permissions&modeType == modeSymlink {
		return a, nil
	}
	dir, base := path.Split(strings.TrimSuffix(p, "/"))
	if base == "" || base == "." || base == ".." {
		return nil, proto.Errorf(proto.KindFailure, fmt.Sprintf("lstat %q: the server gave a symlink's target's attributes, and the link's own cannot be read from a listing", asked))
	}
	names, err := c.ReadDir(ctx, dir+".")
	if err != nil {
		return nil, remoteError("lstat (listing the directory)", asked, err)
	}
	for _, n := range names {
		if n.Name == base && n.Attrs.Has(sftpwire.AttrPermissions) && n.Attrs.Permissions&modeType == modeSymlink {
			return n.Attrs, nil
		}
	}
	return nil, proto.Errorf(proto.KindFailure, fmt.Sprintf("lstat %q: the server gave a symlink's target's attributes, and its directory's listing does not give the link's own", asked))
}

// followsOnLstat reports whether the server may be one whose LSTAT
// follows symlinks: ProFTPD's mod_sftp (see modSFTP). The check costs a
// READLINK, which moves a symlink's atime on, so it is not made where it
// is not needed.
func followsOnLstat(v sftpwire.Version) bool { return modSFTP(v) }

// modSFTP reports whether the server may be ProFTPD's mod_sftp, whose
// answers differ from what was asked in ways sftper must make up for
// (LSTAT, READLINK; see sftpwire.Version.ModSFTP).
func modSFTP(v sftpwire.Version) bool { return v.ModSFTP() }

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
// send (SFTP makes each group optional) is null, never a guess. In JSON:
// {"size", "mtime", "mode", "atime", "uid", "gid"}; mtime and atime are
// Unix seconds, mode the full st_mode as sent (file type, permissions,
// setuid/setgid/sticky). Kept flat, without pointers: a listing holds one
// per entry.
type Attrs struct {
	flags          uint32 // sftpwire.Attr* of the fields sent
	size           uint64
	mtime, atime   uint32
	mode, uid, gid uint32
}

func attrsData(a sftpwire.Attrs) Attrs {
	return Attrs{flags: a.Flags, size: a.Size, mtime: a.Mtime, atime: a.Atime, mode: a.Permissions, uid: a.UID, gid: a.GID}
}

// MarshalJSON writes the object described at Attrs.
func (a Attrs) MarshalJSON() ([]byte, error) { return a.appendJSON(make([]byte, 0, 96), '{'), nil }

// appendJSON appends a's members to b, after open ('{', or ',' when
// members come before them), and the closing brace.
func (a Attrs) appendJSON(b []byte, open byte) []byte {
	b = append(b, open)
	num := func(name string, flag uint32, v uint64) {
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		if a.flags&flag == flag {
			b = strconv.AppendUint(b, v, 10)
		} else {
			b = append(b, "null"...)
		}
	}
	num("size", sftpwire.AttrSize, a.size)
	b = append(b, ',')
	num("mtime", sftpwire.AttrACModTime, uint64(a.mtime))
	b = append(b, ',')
	num("mode", sftpwire.AttrPermissions, uint64(a.mode))
	b = append(b, ',')
	num("atime", sftpwire.AttrACModTime, uint64(a.atime))
	b = append(b, ',')
	num("uid", sftpwire.AttrUIDGID, uint64(a.uid))
	b = append(b, ',')
	num("gid", sftpwire.AttrUIDGID, uint64(a.gid))
	return append(b, '}')
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
