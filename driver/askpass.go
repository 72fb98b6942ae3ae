package driver

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Passwords in batch mode.
//
// In batch mode ssh has no terminal to ask on. With SSH_ASKPASS_REQUIRE=force
// it runs the SSH_ASKPASS program instead, with the question as its
// argument, and reads the answer from its output. sftper names its own
// binary as that program, with AskpassEnv naming a Unix socket in a private
// directory (0700) where the sftper that started ssh listens. The helper
// passes the question (and its parent, ssh, by pid) over the socket; sftper
// decides exactly as it does on a terminal (see answers) and sends back the
// secret or nothing; the helper prints it for ssh. The secret never appears
// in any command line, environment or file.

// AskpassEnv is the environment variable that makes sftper act as ssh's
// askpass helper: it names the socket to ask on.
const AskpassEnv = "SFTPER_ASKPASS_SOCKET"

// The socket is handled with package syscall rather than net: importing net
// links the C library into sftper for its name resolver, which costs every
// run 2 MiB of memory and a dynamic executable, for nothing sftper needs.

// Askpass is the helper's side: it asks the sftper listening on socket
// what to answer to prompt, prints the answer, and returns the exit status
// for ssh (non-zero: no answer).
func Askpass(socket, prompt string, stdout io.Writer) int {
	fd, err := unixSocket(false)
	if err != nil {
		return 1
	}
	conn := os.NewFile(uintptr(fd), "askpass")
	defer conn.Close()
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: socket}); err != nil {
		fmt.Fprintf(os.Stderr, "sftper askpass: %s: %v\n", socket, err)
		return 1
	}
	if _, err := fmt.Fprintf(conn, "%d\n%s", os.Getppid(), prompt); err != nil {
		return 1
	}
	syscall.Shutdown(fd, syscall.SHUT_WR)
	reply, err := io.ReadAll(io.LimitReader(conn, 1<<16))
	if err != nil || len(reply) == 0 {
		return 1
	}
	if _, err := stdout.Write(append(reply, '\n')); err != nil {
		return 1
	}
	return 0
}

// askpassServer answers the helper for one Scripts.
type askpassServer struct {
	ln      *os.File // the listening socket, in Go's poller
	path    string
	dir     string
	answers *answers
	log     func(format string, args ...any)
}

// startAskpass listens in a new private directory.
func startAskpass(secret *Secret, logf func(string, ...any)) (*askpassServer, error) {
	dir, err := makeOwnDir(logf) // see leftovers.go
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "askpass")
	fd, err := unixSocket(true)
	if err == nil {
		if err = syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err == nil {
			err = syscall.Listen(fd, 16)
		}
		if err != nil {
			syscall.Close(fd)
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("askpass socket: %w", err)
	}
	a := &askpassServer{ln: os.NewFile(uintptr(fd), path), path: path, dir: dir, answers: newAnswers(secret), log: logf}
	go a.serve()
	return a, nil
}

// env is what ssh needs to ask sftper.
func (a *askpassServer) env() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return []string{"SSH_ASKPASS=" + exe, "SSH_ASKPASS_REQUIRE=force", AskpassEnv + "=" + a.path}, nil
}

func (a *askpassServer) serve() {
	rc, err := a.ln.SyscallConn()
	if err != nil {
		return
	}
	for {
		var conn int
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			conn, aerr = acceptCloexec(int(fd))
			return aerr != syscall.EAGAIN
		})
		if err != nil {
			return // closed
		}
		if aerr == nil {
			go a.handle(conn)
		}
	}
}

func (a *askpassServer) handle(fd int) {
	conn := os.NewFile(uintptr(fd), "askpass")
	defer conn.Close()
	if !sameUser(fd) {
		return
	}
	req, err := io.ReadAll(io.LimitReader(conn, 1<<16))
	if err != nil {
		return
	}
	pid, prompt, _ := strings.Cut(string(req), "\n")
	if _, err := strconv.Atoi(pid); err != nil {
		return
	}
	p, ok := DetectPrompt(prompt)
	if !ok {
		p = Prompt{Kind: PromptOther, Text: strings.TrimSpace(prompt)}
	}
	// Keyed by the asking ssh: every script without a shared
	// connection logs in, and each may be asked once.
	keyed := p
	keyed.Text = pid + "\x00" + p.Text
	reply, ok := a.answers.answer(keyed)
	if !ok {
		if p.Kind == PromptPassword || p.Kind == PromptPassphrase {
			a.log("ssh asked %q again: the %s was not accepted", p.Text, a.answers.secret)
		} else {
			a.log("ssh asked %q; sftper does not answer that", p.Text)
		}
		return
	}
	conn.Write(reply)
}

// sameUser checks that the helper runs as sftper's own user: the kernel
// says who connected (peerUID, in askpass_*.go).
func sameUser(fd int) bool {
	uid, err := peerUID(fd)
	return err == nil && uid == os.Getuid()
}

// unixSocket makes a Unix stream socket, close-on-exec, and non-blocking
// if asked. Not with SOCK_CLOEXEC, which macOS does not have: under
// syscall.ForkLock instead, which os/exec holds while it forks, so no
// child can inherit the socket between its making and its flag (as
// package net does where the flag is missing).
func unixSocket(nonblock bool) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if nonblock {
		if err := syscall.SetNonblock(fd, true); err != nil {
			syscall.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// acceptCloexec accepts a connection on ln, close-on-exec, the same way.
// The accepted socket is blocking (on macOS and FreeBSD it would inherit
// the listener's O_NONBLOCK; it is cleared).
func acceptCloexec(ln int) (int, error) {
	syscall.ForkLock.RLock()
	fd, _, err := syscall.Accept(ln)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// close stops listening and removes the socket's directory.
func (a *askpassServer) close() error {
	a.ln.Close()
	if err := os.RemoveAll(a.dir); err != nil {
		return fmt.Errorf("removing the askpass directory: %w", err)
	}
	return nil
}
