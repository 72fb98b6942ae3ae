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
		// A pidfd becomes readable when its process exits. Each call
		// asks the kernel rather than trusting the poller: Read first
		// forgets any readiness the poller saw before it (its
		// prepareRead), and the poller is edge-triggered, so an exit
		// between the watch's start and Read would otherwise never be
		// reported. An error means the watch was closed.
		rc.Read(pidfdExited)
		w.end()
	}()
	return w, nil
}

// pidfdExited asks the kernel whether the pidfd's process has exited:
// poll(2) with no wait.
func pidfdExited(fd uintptr) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n == 1
}

// exited asks the kernel.
func (s *procWatchSys) exited() bool {
	exited := false
	s.rc.Control(func(fd uintptr) { exited = pidfdExited(fd) })
	return exited
}

func (s *procWatchSys) close() { s.f.Close() }
