//go:build darwin || freebsd

package driver

// enlargePipe does nothing: macOS and FreeBSD size a pipe's buffer
// themselves (growing it to 64 KiB as writes outrun reads) and let no
// program ask for more.
func enlargePipe(fd int) {}

// fionread is the ioctl that says how many bytes wait in a pipe: FIONREAD
// of <sys/filio.h>, _IOR('f', 127, int), the same on both (neither
// package syscall nor golang.org/x/sys/unix names it there).
const fionread = 0x4004667f
