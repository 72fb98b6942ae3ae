package batch

// The harness for running the real OpenSSH sftp client against a local
// sftp-server (sftp -D), in pipe mode, the way sftper's drivers do: each
// command line is followed by a unique comment line, and sftp's echo of that
// comment marks the end of the command's output.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// sftpServers are the places distributions install OpenSSH's sftp-server.
var sftpServers = []string{
	"/usr/lib/openssh/sftp-server",     // Debian, Ubuntu
	"/usr/libexec/openssh/sftp-server", // Fedora, RHEL
	"/usr/libexec/sftp-server",         // Alpine, Arch, macOS
	"/usr/lib/ssh/sftp-server",         // Arch
}

// requireSftp finds sftp and sftp-server. It skips the test when either is
// missing, except in CI, where a missing binary is a failure.
func requireSftp(t testing.TB) (client, server string) {
	t.Helper()
	client, err := exec.LookPath("sftp")
	if err == nil {
		err = fmt.Errorf("no sftp-server in %v", sftpServers)
		for _, s := range sftpServers {
			if fi, statErr := os.Stat(s); statErr == nil && fi.Mode().IsRegular() {
				server, err = s, nil
				break
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("OpenSSH sftp missing in CI: %v", err)
		}
		t.Skipf("OpenSSH sftp missing: %v", err)
	}
	return client, server
}

// sftpProc is one `sftp -D sftp-server` child reading commands from a pipe,
// with its stdout and stderr merged into one pipe so that their order is
// exact.
type sftpProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // one line at a time, LF removed, CR kept; closed at EOF
	exited chan struct{}
	status error // cmd.Wait's result, once exited is closed
	nonce  string
	seq    int
}

const sftpTimeout = 30 * time.Second

// startSftp starts sftp with dir as its working directory, which is both the
// local directory and the remote start directory (sftp-server inherits it).
// It returns once sftp has read and echoed a first marker.
func startSftp(t testing.TB, dir string) *sftpProc {
	t.Helper()
	client, server := requireSftp(t)
	home := t.TempDir()
	cmd := exec.Command(client, "-D", server)
	cmd.Dir = dir
	// A fixed environment, the one sftper gives sftp: TZ=UTC and a UTF-8
	// locale, in which sftp prints names as sftpPrinted says. SHELL and
	// PATH make a "!" shell escape work, so that a quoting failure shows
	// as a file the shell created.
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
		"SHELL=/bin/sh",
		"TZ=UTC",
		"LC_ALL=C.UTF-8",
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sftp: %v", err)
	}
	w.Close()
	var nonce [8]byte
	rand.Read(nonce[:])
	p := &sftpProc{
		t: t, cmd: cmd, stdin: stdin,
		lines:  make(chan string, 1024),
		exited: make(chan struct{}),
		nonce:  hex.EncodeToString(nonce[:]),
	}
	go func() {
		defer close(p.lines)
		defer r.Close()
		br := bufio.NewReader(r)
		for {
			ln, err := br.ReadString('\n')
			if ln != "" {
				p.lines <- strings.TrimSuffix(ln, "\n")
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		p.status = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.close)
	p.raw("") // the handshake: sftp is ready once it echoes a marker
	return p
}

// close ends sftp by closing its stdin (EOF is its "bye") and waits for it;
// a child that does not exit is killed.
func (p *sftpProc) close() {
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(sftpTimeout):
		p.cmd.Process.Kill()
		<-p.exited
	}
	for range p.lines {
	}
}

// raw writes text, which must end in a newline or be empty, then a marker
// line, and returns every line sftp printed before echoing the marker:
// echoes of the lines sent, their output, and their messages.
func (p *sftpProc) raw(text string) []string {
	p.t.Helper()
	p.seq++
	marker := fmt.Sprintf("# batch-test-%s-%d", p.nonce, p.seq)
	if _, err := io.WriteString(p.stdin, text+marker+"\n"); err != nil {
		p.t.Fatalf("write to sftp: %v; it printed: %q", err, p.drain())
	}
	var got []string
	timeout := time.NewTimer(sftpTimeout)
	defer timeout.Stop()
	for {
		select {
		case ln, ok := <-p.lines:
			if !ok {
				<-p.exited
				p.t.Fatalf("sftp ended (%v) before echoing %q; it printed %q", p.status, marker, got)
			}
			if ln == "sftp> "+marker {
				return got
			}
			got = append(got, ln)
		case <-timeout.C:
			p.t.Fatalf("sftp did not echo %q within %s; it printed %q", marker, sftpTimeout, got)
		}
	}
}

func (p *sftpProc) drain() []string {
	var got []string
	timeout := time.After(time.Second)
	for {
		select {
		case ln, ok := <-p.lines:
			if !ok {
				return got
			}
			got = append(got, ln)
		case <-timeout:
			return got
		}
	}
}

// run sends one command line and checks that sftp read it as exactly one
// command: the only echo is the line itself. It returns the command's
// output and messages, without the echo.
func (p *sftpProc) run(line string) []string {
	p.t.Helper()
	got := p.raw(line + "\n")
	echoes, out := splitEchoes(got)
	if want := []string{"sftp> " + sftpPrinted(line)}; !slices.Equal(echoes, want) {
		p.t.Fatalf("sftp did not read %q as one command: echoes %q, want %q (all output %q)", line, echoes, want, got)
	}
	return out
}

// runOK is run for a command that must succeed: no diagnostics.
func (p *sftpProc) runOK(line string) []string {
	p.t.Helper()
	out := p.run(line)
	if msgs := Messages(out); len(msgs) > 0 {
		p.t.Fatalf("%q failed: %q", line, msgs)
	}
	return out
}

// splitEchoes separates sftp's echoes of the lines it read from the rest.
// No output line starts with "sftp> ": progress lines start with a verb
// ("Uploading", "Fetching", "Removing"), pwd's answer with "Remote",
// messages with their text.
func splitEchoes(lines []string) (echoes, out []string) {
	for _, ln := range lines {
		if strings.HasPrefix(ln, "sftp> ") {
			echoes = append(echoes, ln)
		} else {
			out = append(out, ln)
		}
	}
	return echoes, out
}

// sftpPrinted is how sftp prints s on stdout in a UTF-8 locale: printable
// characters, TAB, CR and LF as they are, every other byte as \ooo, and the
// backslash itself not escaped.
func sftpPrinted(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\%03o`, s[0])
		case r == '\t' || r == '\r' || r == '\n' || unicode.IsPrint(r):
			b.WriteString(s[:n])
		default:
			for i := 0; i < n; i++ {
				fmt.Fprintf(&b, `\%03o`, s[i])
			}
		}
		s = s[n:]
	}
	return b.String()
}

// snapshot describes the tree under dir, relative paths to what is there:
// a file's contents, "<dir>", or "<link>" and the target.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			got[rel] = "<link>" + target
		case d.IsDir():
			got[rel] = "<dir>"
		default:
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			got[rel] = string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
