package main

import (
	"os"
	"syscall"
)

// pollableStdin returns standard input as a file that Go's poller watches,
// when it is a pipe or a socket (what a script that starts sftper gives
// it); otherwise (a terminal, a file) os.Stdin as it is. restore puts the
// input back in blocking mode, for whoever reads it after sftper.
//
// Why: Go reads a blocking standard input in a blocking read(2), which
// ties up a thread while sftper waits for the next request; the runtime's
// monitor sees a P in a system call, hands it to another thread, and goes
// on polling every 20 µs while that lasts. A client that sends one
// request and waits for its result keeps that up between every two
// requests: measured on this project's machine (a virtual one, where
// switching threads costs), it was a third of sftper's own CPU per
// request. Read through the poller, the goroutine parks and the threads
// sleep until a request comes.
//
// O_NONBLOCK belongs to the open file description, which fd 0 and its
// dup share: a pipe's read end is normally sftper's alone once the parent
// has closed its copy (as Python's subprocess and a shell pipeline do),
// and restore clears the flag again on the way out in case it is not. A
// terminal's description is shared with the shell, and is never touched.
// The poller gets a dup, so that os.Stdin keeps fd 0 to itself and each
// *os.File closes only its own descriptor.
func pollableStdin() (f *os.File, restore func()) {
	nothing := func() {}
	var st syscall.Stat_t
	if err := syscall.Fstat(0, &st); err != nil {
		return os.Stdin, nothing
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFIFO, syscall.S_IFSOCK:
	default:
		return os.Stdin, nothing
	}
	fd, err := syscall.Dup(0)
	if err != nil {
		return os.Stdin, nothing
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return os.Stdin, nothing
	}
	return os.NewFile(uintptr(fd), "/dev/stdin"), func() { syscall.SetNonblock(0, false) }
}
