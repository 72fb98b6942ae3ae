package driver

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit watches on Linux: a pidfd (see exitwatch.go).

// procWatchSys is a pidfd in Go's poller.
type procWatchSys struct {
	f  *os.File
	rc syscall.RawConn
}

// watchProc starts watching process pid. An error means it cannot be
// watched (too old a kernel: pidfd_open is Linux 5.3; or it is gone
// already).
func watchProc(pid int) (*procWatch, error) {
	// Not PIDFD_NONBLOCK, which needs Linux 5.10. pidfd_open's
	// descriptors are close-on-exec.
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	w := &procWatch{sys: procWatchSys{f: f, rc: rc}, gone: make(chan struct{})}
	go func() {
		// A pidfd becomes readable when its process exits; the first
		// call only asks the poller to wait for that. An error means
		// the watch was closed.
		waited := false
		rc.Read(func(uintptr) bool {
			done := waited
			waited = true
			return done
		})
		w.end()
	}()
	return w, nil
}

// exited asks the kernel: poll(2) with no wait.
func (s *procWatchSys) exited() bool {
	exited := false
	s.rc.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		exited = err == nil && n == 1
	})
	return exited
}

func (s *procWatchSys) close() { s.f.Close() }
