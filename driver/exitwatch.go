package driver

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// A session's ssh can exit while sftp waits for its next command (the
// server restarted, the connection was cut). sftp only notices at that
// next command, which then fails; in batch mode (which a session uses for
// its quiet output) it does not even say so. So sftper watches ssh itself
// and ends an idle session as soon as its ssh has gone: the next command
// then starts a fresh one.

// sysPidfdOpen is pidfd_open(2), the same number on every Linux
// architecture Go supports (Linux 5.3 and later).
const sysPidfdOpen = 434

// watchExit calls gone once process pid has exited, from a goroutine of its
// own, through a pidfd in Go's poller (no polling). The returned stop ends
// the watch. An error means the process cannot be watched (too old a
// kernel, or it is gone already: then gone is not called).
func watchExit(pid int, gone func()) (stop func(), err error) {
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(pid), 0, 0)
	if errno != 0 {
		return nil, errno
	}
	if err := syscall.SetNonblock(int(fd), true); err != nil {
		syscall.Close(int(fd))
		return nil, err
	}
	syscall.CloseOnExec(int(fd))
	f := os.NewFile(fd, "pidfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	go func() {
		// A pidfd becomes readable when its process exits; the first
		// call only asks the poller to wait for that.
		waited := false
		err := rc.Read(func(uintptr) bool {
			done := waited
			waited = true
			return done
		})
		if err == nil {
			gone()
		}
	}()
	return func() { f.Close() }, nil
}

// childOf returns the first child of pid whose command name is name, or 0.
func childOf(pid int, name string) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		kid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile("/proc/" + f + "/comm"); err == nil && strings.TrimSpace(string(comm)) == name {
			return kid
		}
	}
	return 0
}
