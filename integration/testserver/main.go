// Command testserver runs one throwaway OpenSSH sshd (integration/sshdtest)
// for a test suite written in another language: the Python client's tests
// (python/tests) start it as a subprocess.
//
// Once the server answers, it prints one JSON line on stdout:
//
//	{"ssh_config": PATH, "alias": NAME, "home": DIR, "uid": N, "gid": N,
//	 "user": NAME, "port": N, "log_file": PATH}
//
// `sftp -F ssh_config alias` logs in as user, starting in home (owned by
// uid and gid). With -password (root only) the server also takes the
// "password" method and the login account gets a random password: the
// line then also has "password" and "password_config", an ssh_config for
// alias that offers no key, so that ssh asks for the password. Then it
// reads commands, one a line, on stdin, and answers
// each with one JSON line:
//
//	kill-connections   {"killed": N}: every logged-in connection dropped
//	                   (sshdtest's KillConnections), the listener kept
//
// or {"error": TEXT}. At the end of stdin, or on SIGTERM or SIGINT, it
// stops the server, removes its files and exits 0. It exits 1, with the
// reason on stderr, when the server cannot start.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sftper/sftper/integration/sshdtest"
)

// ready is the first line written to stdout.
type ready struct {
	SSHConfig string `json:"ssh_config"`
	Alias     string `json:"alias"`
	Home      string `json:"home"`
	UID       int    `json:"uid"`
	GID       int    `json:"gid"`
	User      string `json:"user"`
	Port      int    `json:"port"`
	LogFile   string `json:"log_file"`

	// With -password only.
	Password       string `json:"password,omitempty"`
	PasswordConfig string `json:"password_config,omitempty"`
}

func main() {
	password := flag.Bool("password", false, "give the login account a password and offer the password method (root only)")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: testserver [-password] (commands on stdin)")
		os.Exit(2)
	}
	// Taken before the server starts, so that a SIGTERM during start-up
	// still ends in Cleanup rather than leaving sshd running.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	srv, err := sshdtest.Start(sshdtest.Options{Password: *password})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(1)
	}
	defer srv.Cleanup()

	r := ready{
		SSHConfig: srv.SSHConfig, Alias: sshdtest.Alias, Home: srv.Home,
		UID: srv.UID, GID: srv.GID, User: srv.User, Port: srv.Port, LogFile: srv.LogFile,
	}
	if *password {
		r.Password = string(srv.Password)
		if r.PasswordConfig, err = srv.PasswordPromptConfig(); err != nil {
			fmt.Fprintln(os.Stderr, "testserver:", err)
			return
		}
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		return
	}

	// Commands are read by one goroutine and carried out by main, so a
	// signal and a command never run against the server at once.
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-sigs:
			return
		case line, ok := <-lines:
			if !ok {
				return
			}
			if err := out.Encode(do(srv, strings.TrimSpace(line))); err != nil {
				fmt.Fprintln(os.Stderr, "testserver:", err)
				return
			}
		}
	}
}

// do carries out one command and returns its answer.
func do(srv *sshdtest.Server, cmd string) map[string]any {
	switch cmd {
	case "kill-connections":
		n, err := srv.KillConnections()
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		return map[string]any{"killed": n}
	default:
		return map[string]any{"error": fmt.Sprintf("unknown command %q", cmd)}
	}
}
