package command

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/sftper/sftper/proto"
)

// Local files: PUT's source, GET's destination.

// localPath makes p absolute against sftper's working directory without
// cleaning it: "a/../b" must mean what the file system says, not what
// lexical cleaning says when a is a symlink.
func localPath(p string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	wd, err := workDir()
	if err != nil {
		return "", localError(err.Error(), err)
	}
	return strings.TrimSuffix(wd, "/") + "/" + p, nil
}

// startWD is the working directory as os.Getwd names it at start ($PWD when
// that is the same directory, so the user's own name for it) and as the
// kernel names it.
var startWD = sync.OnceValues(func() ([2]string, error) {
	logical, err := os.Getwd()
	if err != nil {
		return [2]string{}, err
	}
	physical, err := syscall.Getwd()
	return [2]string{logical, physical}, err
})

// workDir is the working directory's name now: one getcwd call, where
// os.Getwd stats both "." and $PWD on every request. sftper never changes
// directory, but the directory may be renamed while it runs, and then the
// kernel's new name is the right one.
func workDir() (string, error) {
	start, err := startWD()
	if err != nil {
		return os.Getwd()
	}
	now, err := syscall.Getwd()
	if err != nil {
		return "", err
	}
	if now == start[1] {
		return start[0], nil
	}
	return now, nil
}

// localError is a failure with a local file, saying msg; it unwraps to
// cause (an *os.PathError, say), so errors.Is(err, fs.ErrNotExist) holds
// for a missing local file.
func localError(msg string, cause error) *proto.Error {
	return &proto.Error{Kind: proto.KindLocal, Msg: msg, Err: cause}
}

// unwrapPathError says err about the path p as the caller named it.
func unwrapPathError(err error, p string) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s %q: %v", pe.Op, p, pe.Err)
	}
	return err.Error()
}
