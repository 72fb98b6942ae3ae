package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// LISTDIR {"path": REMOTE} lists a remote directory, on the attribute
// channel (driver/attrs.go): every name exactly as the server sent it,
// with its attributes exactly as sent (lstat's: a symlink as itself).
var listDirCommand = entry("LISTDIR", decodeListDir, func(op ListDir) []Effect { return readsRemote(op.Path) }, startListDir)

// ListDir lists the remote directory Path.
type ListDir struct{ Path string }

func (ListDir) Name() string { return "LISTDIR" }

func decodeListDir(a *proto.Args) ListDir { return ListDir{Path: a.Str("path")} }

// Entry is one entry of a listing: in JSON, {"name"} and the members of
// its Attrs.
type Entry struct {
	Name  proto.Name
	Attrs Attrs
}

// MarshalJSON writes the entry as one flat object.
func (e Entry) MarshalJSON() ([]byte, error) {
	name, err := e.Name.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(name)+104)
	b = append(append(b, `{"name":`...), name...)
	return e.Attrs.appendJSON(b, ','), nil
}

func startListDir(e *env, op ListDir) step {
	dir, err := e.wirePath(op.Path)
	if err != nil {
		return finished(Result{}, err)
	}
	return e.call(func(ctx context.Context, c *sftpwire.Client) (any, error) {
		select {
		case e.r.listings <- struct{}{}:
			defer func() { <-e.r.listings }()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return listDir(ctx, c, op.Path, dir)
	}, func(v any, err error) (Result, error) {
		if err != nil {
			return Result{}, err
		}
		entries := v.([]Entry)
		return Result{Message: fmt.Sprintf("%d entries", len(entries)), Data: entries}, nil
	})
}

// listingsAtOnce is how many LISTDIRs are read on the channel at the same
// time. More than one, so that a stream of listings does not wait a round
// trip each; few, because each may hold a whole listing until its result
// is written, and results are written in request order. Measured with 32
// listings of 3,000 entries in flight (integration/memory_test.go),
// sftper's peak RSS: 49 MB with every one at once, 27 MB with 4, against
// 10 MB with 2 in flight.
const listingsAtOnce = 2

// listDir reads the directory dir (asked as asked), sorted by name in
// byte order, without "." and "..".
//
// It opens dir + "/.", not dir: a directory that can be read but not
// searched opens, but the server then cannot lstat its entries, and
// OpenSSH's server leaves out of READDIR every entry it cannot lstat (it
// would list such a directory as empty, a plausible and wrong answer).
// Looking "." up in dir needs search permission, so that open fails with
// the server's "permission denied" instead. The "/." also makes a symlink
// to a directory list the directory.
func listDir(ctx context.Context, c *sftpwire.Client, asked, dir string) ([]Entry, error) {
	names, err := c.ReadDir(ctx, strings.TrimSuffix(dir, "/")+"/.")
	if err != nil {
		return nil, whyNotListed(ctx, c, asked, dir, err)
	}
	entries := make([]Entry, 0, len(names))
	for _, n := range names {
		if n.Name == "." || n.Name == ".." {
			continue
		}
		if n.Name == "" || strings.Contains(n.Name, "/") {
			// No file in a directory can be named so; a server that
			// says otherwise is broken or hostile, and a client would
			// take the name for a path (OpenSSH's sftp refuses it too).
			return nil, proto.Errorf(proto.KindFailure, fmt.Sprintf("list %q: the server listed an entry named %q, which no directory entry can be named", asked, n.Name))
		}
		entries = append(entries, Entry{Name: proto.Name(n.Name), Attrs: attrsData(n.Attrs)})
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(string(a.Name), string(b.Name)) })
	return entries, nil
}

// whyNotListed turns a failed open of dir/. into the request's error. The
// status code says why, except where a file is in the way: "/." under a
// file is ENOTDIR, which OpenSSH's server reports as "no such file"
// (errno_to_portable), and other servers as a bare failure. A stat of dir
// itself tells those apart: a path that is there and not a directory is
// not_a_directory.
func whyNotListed(ctx context.Context, c *sftpwire.Client, asked, dir string, err error) error {
	listErr := remoteError("list", asked, err)
	var se *sftpwire.StatusError
	if !errors.As(err, &se) {
		return listErr
	}
	switch se.Code {
	case sftpwire.NoSuchFile, sftpwire.NoSuchPath, sftpwire.Failure, sftpwire.NotADirectory:
	default:
		return listErr
	}
	a, serr := c.Stat(ctx, dir)
	if serr != nil {
		var se2 *sftpwire.StatusError
		if errors.As(serr, &se2) {
			return listErr // not there (or not to be looked at): the listing's own error says so
		}
		return serr // the channel's
	}
	if t := fileType(a); t != "" && t != "directory" {
		return &proto.Error{Kind: proto.KindNotADirectory, Msg: fmt.Sprintf("list %q: not a directory (a %s)", asked, t), Err: se}
	}
	return listErr
}
