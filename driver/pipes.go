package driver

import (
	"fmt"
	"os"
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
// (see restoreBlocking), and the pipe is enlarged so that falling behind
// takes long.
type childPipes struct {
	inR, inW *os.File // sftp's stdin
	outR     *os.File // what sftper reads: stdout and stderr, in order
	outW     *os.File // sftp's stdout
	errW     *os.File // sftp's (and so ssh's) stderr: the same pipe, another description
	errCtl   *os.File // sftper's handle on errW's description

	restore sync.Once
}

// pipeSize is asked for the output pipe; Linux allows up to
// /proc/sys/fs/pipe-max-size (1 MiB by default) without privilege.
const pipeSize = 1 << 20

func newChildPipes() (p *childPipes, err error) {
	p = &childPipes{}
	defer func() {
		if err != nil {
			p.closeAll()
		}
	}()
	if p.inR, p.inW, err = pipe(false); err != nil {
		return nil, err
	}
	if p.outR, p.outW, err = pipe(true); err != nil {
		return nil, err
	}
	// A larger pipe is only a cushion; failing to get one changes nothing.
	syscall.Syscall(syscall.SYS_FCNTL, p.outR.Fd(), syscall.F_SETPIPE_SZ, pipeSize)
	// Opening the pipe again through /proc gives a new open file
	// description of the same pipe. syscall.Open rather than os.OpenFile,
	// which would make it non-blocking for Go's poller.
	fd, err := syscall.Open(fmt.Sprintf("/proc/self/fd/%d", p.outW.Fd()), syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen output pipe: %w", err)
	}
	p.errW = os.NewFile(uintptr(fd), "|2")
	ctl, _, errno := syscall.Syscall(syscall.SYS_FCNTL, p.errW.Fd(), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return nil, fmt.Errorf("dup stderr pipe: %w", errno)
	}
	p.errCtl = os.NewFile(ctl, "|2ctl")
	return p, nil
}

// pipe makes a pipe whose end for sftper goes through Go's poller and whose
// end for the child stays blocking (O_NONBLOCK belongs to each end's open
// file description, so the two can differ). os.Pipe would make both ends
// non-blocking, and a child whose output is non-blocking can lose it.
// Blocking reads in sftper would work too, but cost a thread per blocked
// read and keep the runtime's monitor polling: measurably more CPU when
// thousands of small commands each wait for their marker.
func pipe(sftperReads bool) (r, w *os.File, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	ours := p[1]
	if sftperReads {
		ours = p[0]
	}
	if err := syscall.SetNonblock(ours, true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	// NewFile registers a non-blocking descriptor with the poller.
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
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
