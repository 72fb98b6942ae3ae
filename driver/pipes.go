package driver

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// childPipes are sftp's standard input, output and error.
//
// Output and error go into one pipe so that their order is exact, but
// through two separate open file descriptions of it. The reason is ssh:
// sftp hands its stderr to ssh, and ssh sets O_NONBLOCK on its stderr
// (ssh_session2_open: "enable nonblocking unless tty"). O_NONBLOCK belongs
// to the open file description, so with a plain 2>&1 sftp's stdout turns
// non-blocking too, and when sftper falls behind (a busy machine, a large
// listing) and the pipe is full, stdio's write fails with EAGAIN and the
// lines are dropped: echoes, markers, listing entries, silently. Measured
// here under load: commands whose output vanished. sftp's stdout gets a
// description of its own that nobody makes non-blocking; the stderr one,
// which ssh does change, is made blocking again once the session is up
// (see restoreBlocking), and the pipe is enlarged where the platform
// allows it (pipes_linux.go) so that falling behind takes long.
//
// Two descriptions of one pipe come from opening it twice, which only a
// named pipe allows everywhere: the output pipe is a FIFO, made in a
// private directory of its own under $TMPDIR, opened once for reading and
// twice for writing, and unlinked with its directory at once; the open
// descriptions are all that is left of it. (Linux could also reopen an
// anonymous pipe through /proc/self/fd, but macOS and FreeBSD cannot, and
// one mechanism that the whole test suite exercises on Linux beats a
// second one that runs only where it is not tested.) Were sftper killed
// in the microseconds between making the directory and removing it, an
// empty sftper-fifo-* directory would stay in $TMPDIR.
type childPipes struct {
	inR, inW *os.File // sftp's stdin
	outR     *os.File // what sftper reads: stdout and stderr, in order
	outW     *os.File // sftp's stdout
	errW     *os.File // sftp's (and so ssh's) stderr: the same pipe, another description
	errCtl   *os.File // sftper's handle on errW's description

	restore sync.Once
}

func newChildPipes() (p *childPipes, err error) {
	p = &childPipes{}
	defer func() {
		if err != nil {
			p.closeAll()
		}
	}()
	if p.inR, p.inW, err = pipe(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sftper-fifo-")
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	defer os.RemoveAll(dir)
	fifo := filepath.Join(dir, "out")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	// The reading end first, non-blocking (for Go's poller), so that
	// opening the writing ends does not wait for a reader. syscall.Open
	// rather than os.OpenFile, which would make the writing ends
	// non-blocking for Go's poller too.
	fds := make([]int, 0, 3)
	for _, flag := range []int{syscall.O_RDONLY | syscall.O_NONBLOCK, syscall.O_WRONLY, syscall.O_WRONLY} {
		fd, err := syscall.Open(fifo, flag|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
		if err != nil {
			for _, fd := range fds {
				syscall.Close(fd)
			}
			return nil, fmt.Errorf("output pipe: %w", err)
		}
		fds = append(fds, fd)
	}
	// NewFile registers a non-blocking descriptor with the poller.
	p.outR = os.NewFile(uintptr(fds[0]), "|out")
	p.outW = os.NewFile(uintptr(fds[1]), "|1")
	p.errW = os.NewFile(uintptr(fds[2]), "|2")
	// A larger pipe is only a cushion; failing to get one changes nothing.
	enlargePipe(fds[0])
	syscall.ForkLock.RLock()
	ctl, err := syscall.Dup(fds[2])
	if err == nil {
		syscall.CloseOnExec(ctl)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("dup stderr pipe: %w", err)
	}
	p.errCtl = os.NewFile(uintptr(ctl), "|2ctl")
	return p, nil
}

// pipe makes sftp's input pipe: the end for sftper (the writing end) goes
// through Go's poller, the end for the child stays blocking (O_NONBLOCK
// belongs to each end's open file description, so the two can differ).
// os.Pipe would make both ends non-blocking, and a child whose input or
// output is non-blocking can lose it. Blocking I/O in sftper would work
// too, but cost a thread per blocked call and keep the runtime's monitor
// polling: measurably more CPU when thousands of small commands each wait
// for their marker. Close-on-exec under syscall.ForkLock, as package os
// does where pipe2 is missing (macOS).
func pipe() (r, w *os.File, err error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err = syscall.Pipe(p[:])
	if err == nil {
		syscall.CloseOnExec(p[0])
		syscall.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	if err := syscall.SetNonblock(p[1], true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|in"), nil
}

// started closes the ends that belong to the child now that it has them.
func (p *childPipes) started() {
	p.inR.Close()
	p.outW.Close()
	p.errW.Close()
}

// restoreBlocking clears the O_NONBLOCK that ssh set on the stderr
// description, so that neither sftp's error messages nor ssh's can be
// dropped either, and lets go of sftper's handle on it (while sftper holds
// it, the output pipe cannot reach end of file). Called once the session is
// up, when ssh has done its setting, and again when the child has exited;
// only the first call does anything.
func (p *childPipes) restoreBlocking() {
	p.restore.Do(func() {
		syscall.SetNonblock(int(p.errCtl.Fd()), false)
		p.errCtl.Close()
	})
}

func (p *childPipes) closeAll() {
	for _, f := range []*os.File{p.inR, p.inW, p.outR, p.outW, p.errW, p.errCtl} {
		if f != nil {
			f.Close()
		}
	}
}
