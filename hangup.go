package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// readerGone returns a channel that is closed when nobody can read what
// sftper writes to out any more: the reading end of a pipe closed, or the
// peer of a Unix socket gone. For anything else (a file, a terminal) it is
// never closed, and a TCP socket whose peer has closed reads only as
// half-closed (which a peer that still reads looks like too), so that is
// left to the next write.
//
// poll(2) with no events asked for still reports POLLERR, which a pipe's
// writing end gets once its last reader has gone, and POLLHUP, which a
// socket gets when its peer has shut down; so one blocking poll in a
// goroutine of its own (and so one thread) notices at once, without
// making stdout non-blocking (its open file description is shared with
// the caller) and without writing anything.
//
// The poll watches only for the reader's end: an error from poll itself
// stops the watch (logged with logf), and is never taken for a hang-up.
func readerGone(out *os.File, logf func(string, ...any)) <-chan struct{} {
	gone := make(chan struct{})
	var st syscall.Stat_t
	if err := syscall.Fstat(int(out.Fd()), &st); err != nil {
		return gone
	}
	if kind := st.Mode & syscall.S_IFMT; kind != syscall.S_IFIFO && kind != syscall.S_IFSOCK {
		return gone
	}
	fd := int32(out.Fd())
	go func() {
		for {
			pfd := []unix.PollFd{{Fd: fd}}
			n, err := unix.Poll(pfd, -1)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil:
				logf("cannot watch for the reader of the output going (poll: %v); a closed output is noticed at the next result", err)
			case n == 1 && pfd[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0:
				close(gone)
			}
			return
		}
	}()
	return gone
}
