package driver

import "golang.org/x/sys/unix"

// pipeSize is asked for the output pipe; Linux allows up to
// /proc/sys/fs/pipe-max-size (1 MiB by default) without privilege.
const pipeSize = 1 << 20

// enlargePipe asks for a pipeSize buffer on pipe fd (see childPipes).
func enlargePipe(fd int) { unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, pipeSize) }

// fionread is the ioctl that says how many bytes wait in a pipe.
const fionread = unix.TIOCINQ
