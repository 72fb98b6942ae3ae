package driver

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake sftp (as os/exec's tests do): when
// FAKE_SFTP names a behaviour, TestMain plays that sftp instead of running
// the tests. The fake speaks what real sftp does with stdin on a pipe:
// "sftp> LINE" echoed for every line read, errors ending in CR LF, and
// ssh's questions written to /dev/tty.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_SSH"); mode != "" && (slices.Contains(os.Args, "-G") || slices.Contains(os.Args, "-N")) {
		os.Exit(fakeSSH(mode))
	}
	if mode := os.Getenv("FAKE_SFTP"); mode != "" {
		os.Exit(fakeSftp(mode))
	}
	os.Exit(m.Run())
}

// fakeSSH plays ssh for the connection owner: "ssh -G" prints settings
// (FAKE_SSH_G, or fails when that is "fail"), and "ssh -N" plays a
// ControlMaster as mode says. A master that listens creates its socket
// and only then says so, as ssh does (mux.c); with FAKE_SSH_LATE it waits
// that long between the two, so a test can tell which of them the owner
// waits for.
func fakeSSH(mode string) int {
	if slices.Contains(os.Args, "-G") {
		g := os.Getenv("FAKE_SSH_G")
		if g == "fail" {
			fmt.Fprint(os.Stderr, "ssh: Bad configuration option: nonsense\n")
			return 255
		}
		fmt.Print(g)
		return 0
	}
	socket := ""
	for i, a := range os.Args {
		if v, ok := strings.CutPrefix(a, "ControlPath="); ok && i > 0 && os.Args[i-1] == "-o" {
			socket = v
		}
	}
	fmt.Fprint(os.Stderr, "debug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1 Debian-2\r\n")
	switch mode {
	case "denied":
		fmt.Fprint(os.Stderr, "tester@127.0.0.1: Permission denied (publickey).\r\n")
		return 255
	case "unknownkey":
		fmt.Fprint(os.Stderr, "debug1: Server host key: ssh-ed25519 SHA256:1ROtB79zLmHJ/WbS/CU13hV9Yt1U9Rw/17ETAc5k9Yo\r\n")
		fmt.Fprint(os.Stderr, "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\r\n")
		fmt.Fprint(os.Stderr, "Host key verification failed.\r\n")
		return 255
	case "exists":
		fmt.Fprintf(os.Stderr, "ControlSocket %s already exists, disabling multiplexing\r\n", socket)
		time.Sleep(time.Hour)
		return 0
	case "silent":
		time.Sleep(time.Hour)
		return 0
	}
	if err := os.WriteFile(socket, nil, 0o600); err != nil { // a stand-in: nothing connects to it
		fmt.Fprintf(os.Stderr, "unix_listener: %v\r\n", err)
		return 255
	}
	if d, err := time.ParseDuration(os.Getenv("FAKE_SSH_LATE")); err == nil {
		time.Sleep(d)
	}
	switch mode {
	case "stubborn":
		signal.Ignore(syscall.SIGTERM) // before it says it is ready
	case "deafonce":
		// As OpenSSH 9.2 can be: the first SIGTERM is handled but
		// does not wake it (see termAgain); the second ends it.
		terms := make(chan os.Signal, 2)
		signal.Notify(terms, syscall.SIGTERM)
		go func() {
			<-terms
			<-terms
			os.Exit(255)
		}()
	}
	fmt.Fprintf(os.Stderr, "debug1: setting up multiplex master socket\r\n")
	fmt.Fprintf(os.Stderr, "debug1: channel 0: new mux listener [%s] (inactive timeout: 0)\r\n", socket)
	time.Sleep(time.Hour)
	return 0
}

func fakeSftp(mode string) int {
	if f := os.Getenv("FAKE_SFTP_STARTS"); f != "" {
		// Count starts, so tests can see reconnects.
		fh, _ := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		fmt.Fprintln(fh, os.Getpid())
		fh.Close()
	}
	askTTY := func(question string) int {
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			fmt.Fprintf(os.Stderr, "no tty: %v\r\n", err)
			return 255
		}
		fmt.Fprint(tty, question)
		bufio.NewReader(tty).ReadString('\n') // wait for an answer that never comes
		return 255
	}
	switch mode {
	case "hostkey":
		return askTTY("\rThe authenticity of host '[127.0.0.1]:2222 ([127.0.0.1]:2222)' can't be established.\r\n" +
			"ED25519 key fingerprint is SHA256:1ROtB79zLmHJ/WbS/CU13hV9Yt1U9Rw/17ETAc5k9Yo.\r\n" +
			"This key is not known by any other names.\r\n" +
			"Are you sure you want to continue connecting (yes/no/[fingerprint])? ")
	case "password":
		return askTTY("\rtester@127.0.0.1's password: ")
	case "question":
		return askTTY("\rPlease enter your favourite colour: ")
	case "refused":
		fmt.Print("ssh: connect to host 127.0.0.1 port 1: Connection refused\r\n")
		fmt.Print("Connection closed\r\n")
		return 255
	case "hang":
		time.Sleep(time.Hour)
		return 0
	}
	if mode == "badexit" {
		defer os.Exit(3) // after a normal session: a status sftp should not end with
	}
	if mode == "slowstart" {
		time.Sleep(300 * time.Millisecond)
	}
	// With -b, as sftp -b: quiet (no "Connected to"), and the first
	// failing line ends the script with status 1.
	script := slices.Contains(os.Args, "-b")
	if !script {
		fmt.Print("Connected to fake.\n")
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<10), 1<<20) // say's long outputs come from long lines
	for in.Scan() {
		line := in.Text()
		// "@": no echo; "-": a failure does not end a script. Either
		// order, as in sftp.
		quiet, goOn := false, false
		for len(line) > 0 && (line[0] == '@' || line[0] == '-') {
			quiet = quiet || line[0] == '@'
			goOn = goOn || line[0] == '-'
			line = line[1:]
		}
		abort := script && !goOn
		cmd, arg, _ := strings.Cut(line, " ")
		if cmd == "badparse" {
			fmt.Print("Invalid command.\r\n") // parse errors come before the echo
			if abort {
				return 1
			}
		}
		if !quiet {
			fmt.Printf("sftp> %s\n", line)
		}
		switch cmd {
		case "say":
			for _, w := range strings.Split(arg, "|") {
				fmt.Println(w)
			}
		case "err":
			fmt.Printf("%s\r\n", arg)
			if abort {
				return 1
			}
		case "silentfail": // as sftp's df: fails without a word
			if abort {
				return 1
			}
		case "die":
			if script {
				return 255 // batch mode prints nothing (killed by SIGPIPE)
			}
			fmt.Print("\rConnection closed.  \n")
			return 255
		case "cd":
			if strings.Contains(arg, "missing") {
				fmt.Print("stat remote: No such file or directory\r\n")
				if abort {
					return 1
				}
			}
		case "pwd":
			fmt.Println("Remote working directory: /home/fake {a}")
		case "sleep":
			d, _ := time.ParseDuration(arg)
			time.Sleep(d)
		case "trickle": // a slow transfer: a line every 20 ms, for that long
			d, _ := time.ParseDuration(arg)
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				fmt.Println(".")
			}
		}
	}
	return 0
}
