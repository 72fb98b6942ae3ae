package client

import (
	"syscall"
	"unsafe"
)

// StdoutFull reports whether the pipe from sftper's stdout holds all it can,
// so that sftper's next write there blocks until something is read.
func (p *Proc) StdoutFull() (bool, error) {
	rc, err := p.stdout.SyscallConn() // not Fd, which would make it blocking
	if err != nil {
		return false, err
	}
	var queued int32
	var size uintptr
	var errno syscall.Errno
	err = rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&queued)))
		if errno == 0 {
			const getPipeSize = 1032 // F_GETPIPE_SZ
			size, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, getPipeSize, 0)
		}
	})
	if err == nil && errno != 0 {
		err = errno
	}
	return err == nil && uintptr(queued) >= size, err
}
