package command

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
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

// localAttrs are the permission bits (setuid, setgid, sticky included) and
// times of the local file p, as SFTP carries them: whole seconds. unix's
// Stat_t names the times alike on Linux, macOS and FreeBSD.
func localAttrs(p string) (sftpwire.Attrs, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return sftpwire.Attrs{}, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	return sftpwire.Attrs{
		Flags:       sftpwire.AttrPermissions | sftpwire.AttrACModTime,
		Permissions: uint32(st.Mode) & 0o7777,
		Atime:       uint32(st.Atim.Sec),
		Mtime:       uint32(st.Mtim.Sec),
	}, nil
}

// goSetBits is the setuid, setgid and sticky bits of an st_mode as Go's
// os.FileMode has them.
func goSetBits(mode uint32) os.FileMode {
	var m os.FileMode
	if mode&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}
