package driver

import (
	"sync"
)

// A process sftper must know the end of without being its parent: a
// session's ssh, which can exit while sftp waits for its next command (the
// server restarted, the connection was cut; sftp only notices at that next
// command, and in batch mode, which a session uses for its quiet output,
// does not even say so); a spare script's ssh, whose channel the server may
// close while the script waits for its lines (OpenSSH's ChannelTimeout, a
// killed session process); and the connection master, whose death must be
// known the moment a script is about to be given lines, not a scheduling
// round later. Two questions, then: tell me when it exits (Gone), and has
// it exited by now (Exited), answered by the kernel, not by a goroutine
// that may not have run yet.
//
// Each platform answers both exactly, without polling:
//   - Linux (exitwatch_linux.go): a pidfd, which becomes readable when the
//     process exits; Go's poller reports that, and poll(2) on it with no
//     timeout says whether it has happened yet.
//   - macOS and FreeBSD (exitwatch_kqueue.go): kqueue's EVFILT_PROC
//     NOTE_EXIT, the event the kernel posts when the process exits.

// procWatch follows one process.
type procWatch struct {
	sys  procWatchSys  // the platform's handle on the process
	gone chan struct{} // closed once the process has exited (or the watch was closed)
	once sync.Once
}

func (w *procWatch) end() { w.once.Do(func() { close(w.gone) }) }

// Gone is closed once the process has exited, or the watch was closed.
func (w *procWatch) Gone() <-chan struct{} { return w.gone }

// Exited reports whether the process has exited by now, exactly: it asks
// the kernel, not the goroutine that waits for Gone.
func (w *procWatch) Exited() bool {
	select {
	case <-w.gone:
		return true
	default:
	}
	return w.sys.exited()
}

// Close ends the watch.
func (w *procWatch) Close() { w.sys.close() }

// watchExit calls gone once process pid has exited, from a goroutine of its
// own. The returned stop ends the watch (gone is then not called). An error
// means the process cannot be watched.
func watchExit(pid int, gone func()) (stop func(), err error) {
	w, err := watchProc(pid)
	if err != nil {
		return nil, err
	}
	stopped := make(chan struct{})
	go func() {
		<-w.Gone()
		select {
		case <-stopped:
		default:
			gone()
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(stopped); w.Close() }) }, nil
}

// childOf returns the first child of pid whose command name is name, or 0.
func childOf(pid int, name string) int {
	for _, kid := range children(pid) {
		if processName(kid) == name {
			return kid
		}
	}
	return 0
}
