package driver

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// A process sftper must know the end of without being its parent: a
// session's ssh, which can exit while sftp waits for its next command (the
// server restarted, the connection was cut; sftp only notices at that next
// command, and in batch mode, which a session uses for its quiet output,
// does not even say so); a spare script's ssh, whose channel the server may
// close while the script waits for its lines (OpenSSH's ChannelTimeout, a
// killed session process); and the connection master, whose death must be
// known the moment a script is about to be given lines, not a scheduling
// round later. A pidfd answers both questions exactly: it becomes readable
// when the process exits, which Go's poller reports without polling, and
// poll(2) on it with no timeout says whether that has happened yet.

// sysPidfdOpen is pidfd_open(2), the same number on every Linux
// architecture Go supports (Linux 5.3 and later).
const sysPidfdOpen = 434

// procWatch follows one process through a pidfd.
type procWatch struct {
	f    *os.File
	rc   syscall.RawConn
	gone chan struct{} // closed once the process has exited (or the watch was closed)
	once sync.Once
}

// watchProc starts watching process pid. An error means it cannot be
// watched (too old a kernel, or it is gone already).
func watchProc(pid int) (*procWatch, error) {
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
	w := &procWatch{f: f, rc: rc, gone: make(chan struct{})}
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
	exited := false
	w.rc.Control(func(fd uintptr) {
		pfd := struct {
			fd      int32
			events  int16
			revents int16
		}{fd: int32(fd), events: 0x1} // POLLIN
		var zero syscall.Timespec
		n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
		exited = errno == 0 && n == 1
	})
	return exited
}

// Close ends the watch.
func (w *procWatch) Close() { w.f.Close() }

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

// children returns the pids of pid's children (its main thread's).
func children(pid int) []int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if kid, err := strconv.Atoi(f); err == nil {
			out = append(out, kid)
		}
	}
	return out
}

// processName is process pid's command name, or "" if it is gone.
func processName(pid int) string {
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(comm))
}
