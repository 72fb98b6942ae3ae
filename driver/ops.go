package driver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/proto"
)

// Runner runs one sftp command line and returns what sftp printed for it,
// split at LF, without its echo. *Session is one.
type Runner interface {
	Run(ctx context.Context, line string) ([]string, error)
}

// Execute carries out one request on r and returns its result (without the
// request's id). A request carrying a path that cannot be passed to sftp
// safely fails before anything runs.
func Execute(ctx context.Context, r Runner, op proto.Op) *proto.Response {
	x := executor{ctx: ctx, r: r}
	var resp *proto.Response
	switch op := op.(type) {
	case proto.Put:
		resp = x.put(op)
	case proto.Get:
		resp = x.get(op)
	case proto.ListDir:
		resp = x.listDir(op)
	case proto.Delete:
		resp = x.delete(op)
	default:
		resp = &proto.Response{Status: proto.StatusFail, Message: fmt.Sprintf("command %s is not supported", op.Name())}
	}
	return resp
}

type executor struct {
	ctx context.Context
	r   Runner
}

func fail(err error) *proto.Response {
	return &proto.Response{Status: proto.StatusFail, Message: err.Error()}
}

func failed(msg string, data any) *proto.Response {
	return &proto.Response{Status: proto.StatusError, Message: msg, Data: data}
}

// localPath makes p absolute against sftper's working directory without
// cleaning it: "a/../b" must mean what the file system says, not what
// lexical cleaning says when a is a symlink.
func localPath(p string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(wd, "/") + "/" + p, nil
}

// remoteState says what a failed PUT may have left on the server.
type remoteState struct {
	Remote string `json:"remote"` // "unchanged" or "partial"
}

func (x executor) put(op proto.Put) *proto.Response {
	src, err := localPath(op.Source)
	if err != nil {
		return failed(err.Error(), remoteState{"unchanged"})
	}
	line, err := batch.Put(src, op.Dest)
	if err != nil {
		return fail(err)
	}
	// sftp would say the same, but checking first keeps a missing or
	// unreadable source from ever opening a connection or a remote file.
	fi, err := os.Stat(src)
	if err != nil {
		return failed(fmt.Sprintf("local source: %v", unwrapPathError(err, op.Source)), remoteState{"unchanged"})
	}
	if !fi.Mode().IsRegular() {
		return failed(fmt.Sprintf("local source %q is not a regular file", op.Source), remoteState{"unchanged"})
	}
	out, err := x.r.Run(x.ctx, line)
	if err != nil {
		state := "partial"
		var ce *ConnError
		if errors.As(err, &ce) && !ce.Sent {
			state = "unchanged"
		}
		return failed(err.Error(), remoteState{state})
	}
	if msgs := batch.Messages(out); len(msgs) > 0 {
		return failed(strings.Join(msgs, "; "), remoteState{putState(msgs)})
	}
	if fi, err = os.Stat(src); err != nil {
		return failed(err.Error(), remoteState{"partial"})
	}
	return &proto.Response{
		Status:  proto.StatusOK,
		Message: fmt.Sprintf("uploaded %s to %s", op.Source, op.Dest),
		Data:    map[string]any{"source": src, "dest": op.Dest, "size": fi.Size()},
	}
}

// putState tells from sftp's messages whether a failed upload got as far as
// creating the remote file: sftp checks the local file ("stat ...",
// "local ...") and then opens the remote one ("dest open ..."), and only
// after that can anything be left behind.
func putState(msgs []string) string {
	for _, m := range msgs {
		if !(strings.HasPrefix(m, "stat ") || strings.HasPrefix(m, "local ") || strings.HasPrefix(m, "dest open ") ||
			strings.HasPrefix(m, "open local ") || strings.HasPrefix(m, "Couldn't open local")) {
			return "partial"
		}
	}
	return "unchanged"
}

func unwrapPathError(err error, p string) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s %q: %v", pe.Op, p, pe.Err)
	}
	return err.Error()
}

// get downloads into a temporary file beside the destination and renames it
// into place only once sftp has said the download is complete. A failed GET
// therefore leaves nothing new behind, and an existing destination file is
// never truncated or half-written.
func (x executor) get(op proto.Get) *proto.Response {
	if err := batch.CheckPath(op.Source); err != nil {
		return fail(err)
	}
	if err := batch.CheckPath(op.Dest); err != nil {
		return fail(err)
	}
	dest, err := localPath(op.Dest)
	if err != nil {
		return failed(err.Error(), nil)
	}
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		// Like sftp and scp: a directory receives the file under its own name.
		dest = strings.TrimSuffix(dest, "/") + "/" + path.Base(op.Source)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(dest), ".sftper-"+hex.EncodeToString(rnd[:])+".part")
	line, err := batch.Get(op.Source, tmp)
	if err != nil {
		return fail(err)
	}
	out, err := x.r.Run(x.ctx, line)
	if err == nil {
		if msgs := batch.Messages(out); len(msgs) > 0 {
			err = errors.New(strings.ReplaceAll(strings.Join(msgs, "; "), tmp, dest))
		}
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		os.Remove(tmp)
		return failed(err.Error(), nil)
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return failed(err.Error(), nil)
	}
	return &proto.Response{
		Status:  proto.StatusOK,
		Message: fmt.Sprintf("downloaded %s to %s", op.Source, dest),
		Data:    map[string]any{"source": op.Source, "dest": dest, "size": fi.Size()},
	}
}

func (x executor) listDir(op proto.ListDir) *proto.Response {
	l, err := batch.NewListing(op.Path)
	if err != nil {
		return fail(err)
	}
	out, err := x.r.Run(x.ctx, l.Line)
	now := time.Now()
	if err != nil {
		return failed(err.Error(), nil)
	}
	entries, err := l.Parse(out, now)
	if err == nil {
		return &proto.Response{Status: proto.StatusOK, Message: fmt.Sprintf("%d entries", len(entries)), Data: entries}
	}
	msgs := batch.Messages(out)
	if len(msgs) == 0 {
		return failed(err.Error(), nil)
	}
	for i := range msgs {
		msgs[i] = l.Clean(msgs[i])
	}
	msg := strings.Join(msgs, "; ")
	if strings.HasPrefix(msgs[0], "Can't ls: ") && strings.HasSuffix(msgs[0], " not found") {
		// The listing path ends in "/.", which does not resolve under
		// a file: ask about the path itself to tell the two apart.
		if x.isNonDirectory(op.Path) {
			msg = fmt.Sprintf("%q is not a directory", op.Path)
		} else {
			msg = fmt.Sprintf("%q: No such file or directory", op.Path)
		}
	}
	return failed(msg, nil)
}

// isNonDirectory reports whether remote exists and is not a directory: sftp
// then lists it as a single entry and says nothing else.
func (x executor) isNonDirectory(remote string) bool {
	line, err := batch.Stat(remote)
	if err != nil {
		return false
	}
	out, err := x.r.Run(x.ctx, line)
	return err == nil && len(out) == 1 && len(batch.Messages(out)) == 0
}

func (x executor) delete(op proto.Delete) *proto.Response {
	line, err := batch.Remove(op.Path)
	if err != nil {
		return fail(err)
	}
	out, err := x.r.Run(x.ctx, line)
	if err != nil {
		return failed(err.Error(), nil)
	}
	if msgs := batch.Messages(out); len(msgs) > 0 {
		return failed(strings.Join(msgs, "; "), nil)
	}
	return &proto.Response{Status: proto.StatusOK, Message: fmt.Sprintf("deleted %s", op.Path)}
}
