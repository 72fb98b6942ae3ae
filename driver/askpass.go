package driver

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
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

// Askpass is the helper's side: it asks the sftper listening on socket
// what to answer to prompt, prints the answer, and returns the exit status
// for ssh (non-zero: no answer).
func Askpass(socket, prompt string, stdout io.Writer) int {
	conn, err := net.DialTimeout("unix", socket, 10*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sftper askpass: %v\n", err)
		return 1
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "%d\n%s", os.Getppid(), prompt); err != nil {
		return 1
	}
	conn.(*net.UnixConn).CloseWrite()
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
	ln      *net.UnixListener
	dir     string
	answers *answers
	log     func(format string, args ...any)
}

// startAskpass listens in a new private directory.
func startAskpass(secret *Secret, logf func(string, ...any)) (*askpassServer, error) {
	dir, err := os.MkdirTemp("", "sftper-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "askpass")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("askpass socket: %w", err)
	}
	a := &askpassServer{ln: ln, dir: dir, answers: newAnswers(secret), log: logf}
	go a.serve()
	return a, nil
}

// env is what ssh needs to ask sftper.
func (a *askpassServer) env() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return []string{"SSH_ASKPASS=" + exe, "SSH_ASKPASS_REQUIRE=force", AskpassEnv + "=" + a.ln.Addr().String()}, nil
}

func (a *askpassServer) serve() {
	for {
		conn, err := a.ln.AcceptUnix()
		if err != nil {
			return
		}
		go a.handle(conn)
	}
}

func (a *askpassServer) handle(conn *net.UnixConn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if !sameUser(conn) {
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

// sameUser checks that the helper runs as sftper's own user.
func sameUser(conn *net.UnixConn) bool {
	raw, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var cred *syscall.Ucred
	raw.Control(func(fd uintptr) {
		cred, _ = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	return cred != nil && int(cred.Uid) == os.Getuid()
}

func (a *askpassServer) close() {
	a.ln.Close()
	os.RemoveAll(a.dir)
}
