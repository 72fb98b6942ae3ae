//go:build darwin || freebsd

package driver

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Exit watches on macOS and FreeBSD: kqueue's EVFILT_PROC with NOTE_EXIT
// (see exitwatch.go).
//
// Two kqueues per watch, each with the process's exit registered: one that
// a goroutine of the watch's own blocks in until the exit (or until Close
// triggers its EVFILT_USER event), and one that Exited asks with no wait.
// One would not do: kevent hands a posted event to one caller only, so the
// goroutine could take the exit from under Exited's question, or the other
// way round.

// wakeIdent names the EVFILT_USER event that Close triggers.
const wakeIdent = 1

// procWatchSys is the two kqueues.
type procWatchSys struct {
	wait, ask int // kqueue descriptors

	mu     sync.Mutex
	seen   bool // ask has reported the exit
	closed bool
}

// newKqueue makes a close-on-exec kqueue with process pid's exit
// registered, and with the wake-up event when wake is set.
func newKqueue(pid int, wake bool) (int, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(kq) // fork(2) does not pass kqueues on anyway; exec must not either
	changes := []unix.Kevent_t{{}}
	unix.SetKevent(&changes[0], pid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	changes[0].Fflags = unix.NOTE_EXIT
	if wake {
		var w unix.Kevent_t
		unix.SetKevent(&w, wakeIdent, unix.EVFILT_USER, unix.EV_ADD|unix.EV_CLEAR)
		changes = append(changes, w)
	}
	if _, err := unix.Kevent(kq, changes, nil, nil); err != nil {
		unix.Close(kq)
		return -1, err // ESRCH: the process is gone already
	}
	return kq, nil
}

// watchProc starts watching process pid. An error means it cannot be
// watched (it is gone already).
func watchProc(pid int) (*procWatch, error) {
	wait, err := newKqueue(pid, true)
	if err != nil {
		return nil, err
	}
	ask, err := newKqueue(pid, false)
	if err != nil {
		unix.Close(wait)
		return nil, err
	}
	w := &procWatch{sys: procWatchSys{wait: wait, ask: ask}, gone: make(chan struct{})}
	go func() {
		events := make([]unix.Kevent_t, 1)
		for {
			n, err := unix.Kevent(wait, nil, events, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n > 0 {
				break // the exit, or Close's wake-up
			}
		}
		w.end()
		w.sys.mu.Lock()
		unix.Close(wait)
		w.sys.wait = -1
		w.sys.mu.Unlock()
	}()
	return w, nil
}

// exited asks the second kqueue, with no wait.
func (s *procWatchSys) exited() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen || s.closed {
		return s.seen
	}
	events := make([]unix.Kevent_t, 1)
	n, err := unix.Kevent(s.ask, nil, events, &unix.Timespec{})
	s.seen = err == nil && n == 1
	return s.seen
}

// close wakes the waiting goroutine, which closes its kqueue, and closes
// the other.
func (s *procWatchSys) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.wait >= 0 {
		var w unix.Kevent_t
		unix.SetKevent(&w, wakeIdent, unix.EVFILT_USER, 0)
		w.Fflags = unix.NOTE_TRIGGER
		unix.Kevent(s.wait, []unix.Kevent_t{w}, nil, nil)
	}
	unix.Close(s.ask)
}
