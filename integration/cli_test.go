package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// runOnce runs sftper with no input and returns exit code, stdout, stderr.
func runOnce(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	needSSH(t)
	cmd := exec.Command(sftperBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = bytes.NewReader(nil)
	if raceBuild && os.Getenv("GORACE") == "" {
		cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(reqTimeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("sftper %q did not exit", args)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func TestUsage(t *testing.T) {
	needSSH(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no arguments", nil},
		{"options but no destination", []string{"-F", "/dev/null"}},
		{"unknown long flag", []string{"--bogus", "host"}},
		{"unknown short flag", []string{"-Z", "host"}},
		{"flag missing its value", []string{"host", "-F"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runOnce(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !containsFold(stderr, "usage") {
				t.Errorf("stderr lacks the usage:\n%s", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
		})
	}
	t.Run("--version", func(t *testing.T) {
		code, stdout, stderr := runOnce(t, "--version")
		if code != 0 || strings.TrimSpace(stdout+stderr) == "" {
			t.Errorf("exit %d, output %q %q; want exit 0 and a version", code, stdout, stderr)
		}
	})
	t.Run("--help", func(t *testing.T) {
		code, stdout, stderr := runOnce(t, "--help")
		if code != 0 || !containsFold(stdout+stderr, "usage") {
			t.Errorf("exit %d, output %q %q; want exit 0 and the usage", code, stdout, stderr)
		}
	})
}

// TestEndOfInput: EOF finishes what was asked, closes the session and
// exits 0.
func TestEndOfInput(t *testing.T) { eachMode(t, testEndOfInput) }

func testEndOfInput(t *testing.T, m mode) {
	t.Run("immediately", func(t *testing.T) {
		s := startDefault(t, m, client.Text)
		s.finish()
	})
	t.Run("after requests in flight", func(t *testing.T) {
		s := startDefault(t, m, client.Text)
		rel, abs := remoteDir(t, srv)
		src := filepath.Join(s.dir, "f")
		writeFile(t, nil, src, bytes.Repeat([]byte("x"), 1<<20))
		var wire []byte
		for _, r := range []string{
			`{"command":"PUT","args":{"source":"f","dest":"` + rel + `/f"},"id":1}`,
			`{"command":"LISTDIR","args":{"path":"` + rel + `"},"id":2}`,
		} {
			wire = append(wire, client.Frame(client.Text, []byte(r))...)
		}
		if err := s.p.Write(wire, reqTimeout); err != nil {
			t.Fatal(err)
		}
		s.p.CloseStdin()
		for i := 1; i <= 2; i++ {
			b, err := s.p.Recv(reqTimeout)
			if err != nil {
				t.Fatalf("result %d: %v", i, err)
			}
			if res, _ := client.Decode(b); res.Status != "ok" {
				t.Errorf("result %d: %s", i, b)
			}
		}
		if code, err := s.p.Wait(reqTimeout); err != nil || code != 0 {
			t.Errorf("exit %d, %v; want 0", code, err)
		}
		if fi, err := os.Stat(filepath.Join(abs, "f")); err != nil || fi.Size() != 1<<20 {
			t.Errorf("uploaded file: %v, %v", fi, err)
		}
	})
}

// children returns sftper's living descendants with their names.
func children(t *testing.T, pid int) map[int]string {
	t.Helper()
	pids, err := sshdtest.Descendants(pid)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, p := range pids {
		comm, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/comm")
		if err == nil {
			out[p] = strings.TrimSpace(string(comm))
		}
	}
	return out
}

// gone waits a little for processes to die: after sftper exits, ssh may
// need a moment to notice its sftp is gone.
func gone(t *testing.T, procs map[int]string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var alive []string
		for p, name := range procs {
			if sshdtest.Alive(p) {
				alive = append(alive, name+"/"+strconv.Itoa(p))
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("left running after sftper exited: %v", alive)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSignals(t *testing.T) { eachMode(t, testSignals) }

func testSignals(t *testing.T, m mode) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		for _, busy := range []bool{false, true} {
			name := sig.String()
			if busy {
				name += " during a transfer"
			}
			t.Run(name, func(t *testing.T) {
				args := append([]string{"--sftp-command", "sftp -l 2000"}, defaultArgs()...)
				s := start(t, runOpts{mode: m, framing: client.Text}, args...)
				rel, abs := remoteDir(t, srv)
				s.must("ok", listdir(rel))
				if busy {
					src := filepath.Join(s.dir, "big")
					writeFile(t, nil, src, bytes.Repeat([]byte("y"), 8<<20))
					if err := s.p.Send([]byte(`{"command":"PUT","args":{"source":"big","dest":"`+rel+`/big"}}`), reqTimeout); err != nil {
						t.Fatal(err)
					}
					waitForFile(t, partFile(abs, "big"))
				}
				kids := children(t, s.p.Pid())
				if len(kids) == 0 {
					t.Fatal("sftper has no child processes while connected")
				}
				if err := s.p.Signal(sig); err != nil {
					t.Fatal(err)
				}
				if busy {
					// The request in hand is answered, or sftper just exits.
					if b, err := s.p.Recv(reqTimeout); err == nil {
						if res, _ := client.Decode(b); res.Status == "ok" {
							t.Errorf("interrupted PUT answered ok: %s", b)
						}
					}
				}
				if _, err := s.p.Wait(reqTimeout); err != nil {
					t.Fatal(err)
				}
				gone(t, kids)
				if containsFold(s.p.Stderr(), "goroutine ", "panic:") {
					t.Errorf("stack trace on stderr:\n%s", s.p.Stderr())
				}
			})
		}
	}
}

// TestSignalWithStalledReader: a reader that has stopped reading cannot keep
// sftper from stopping. On SIGTERM, with a result stuck in a full pipe,
// sftper gives up on the results, stops its children, removes what it
// made in $TMPDIR and exits 128+15.
func TestSignalWithStalledReader(t *testing.T) { eachMode(t, testSignalWithStalledReader) }

func testSignalWithStalledReader(t *testing.T, m mode) {
	rel, abs := remoteDir(t, srv)
	const n = 3000 // about 400 KB of listing, far more than a pipe holds by default
	for i := range n {
		name := filepath.Join(abs, fmt.Sprintf("entry-with-a-longish-name-%05d", i))
		if err := os.WriteFile(name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Chown(abs); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "tmpdir-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	s := start(t, runOpts{mode: m, framing: client.Text, env: []string{"TMPDIR=" + tmp}}, defaultArgs()...)
	s.must("ok", listdir(".")) // connected
	kids := children(t, s.p.Pid())
	for range 3 {
		if err := s.p.Send([]byte(`{"command":"LISTDIR","args":{"path":"`+rel+`"}}`), reqTimeout); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(reqTimeout)
	for {
		full, err := s.p.StdoutFull()
		if err != nil {
			t.Fatal(err)
		}
		if full {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sftper's stdout never filled up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := s.p.Wait(reqTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit status %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	if !strings.Contains(s.p.Stderr(), "could not be written") {
		t.Errorf("no word of the results given up on stderr:\n%s", s.p.Stderr())
	}
	gone(t, kids)
	clean(t, tmp)
}

// waitForFile waits until a transfer has started writing path.
// partFile is where an atomic PUT to dir/name writes before it renames.
func partFile(dir, name string) string { return filepath.Join(dir, "."+name+".sftper-part") }

func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(reqTimeout)
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never started to grow", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClosedStdout(t *testing.T) { eachMode(t, testClosedStdout) }

func testClosedStdout(t *testing.T, m mode) {
	s := startDefault(t, m, client.Text)
	s.must("ok", listdir("."))
	kids := children(t, s.p.Pid())
	s.p.CloseStdout()
	for range 5 {
		// sftper may already be gone and the write fail; that is fine.
		if s.p.Send([]byte(`{"command":"LISTDIR","args":{"path":"."}}`), reqTimeout) != nil {
			break
		}
	}
	s.p.CloseStdin()
	if _, err := s.p.Wait(reqTimeout); err != nil {
		t.Fatal(err)
	}
	if containsFold(s.p.Stderr(), "goroutine ", "panic:") {
		t.Errorf("stack trace on stderr:\n%s", s.p.Stderr())
	}
	gone(t, kids)
}

// TestStartDirectory: the path of an sftp:// URL is where relative remote
// paths start, relative to the login directory unless written absolute.
func TestStartDirectory(t *testing.T) { eachMode(t, testStartDirectory) }

func testStartDirectory(t *testing.T, m mode) {
	_, abs := remoteDir(t, srv)
	for _, tc := range []struct {
		name, dir string
		dest      func(dir string) string
	}{
		{"relative", "relative", func(dir string) string {
			return "sftp://sftper-test/" + strings.TrimPrefix(dir, srv.Home+"/")
		}},
		{"double slash", "double-slash", func(dir string) string { return "sftp://sftper-test/" + dir }},
		{"percent-encoded slash", "pct-slash", func(dir string) string {
			return "sftp://sftper-test/%2F" + strings.TrimPrefix(dir, "/")
		}},
		{"percent-encoded space", "with space", func(dir string) string {
			return "sftp://sftper-test/" + strings.ReplaceAll(strings.TrimPrefix(dir, srv.Home+"/"), " ", "%20")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(abs, tc.dir)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			srv.Chown(dir)
			s := start(t, runOpts{mode: m, framing: client.Text}, "-F", srv.SSHConfig, tc.dest(dir))
			writeFile(t, nil, filepath.Join(s.dir, "rel.txt"), []byte("rel"))
			res := s.must("ok", put("rel.txt", "rel.txt"))
			if got := data[xfer](t, res); got.Dest != "rel.txt" {
				t.Errorf("dest %q, want as given", got.Dest)
			}
			if got, err := os.ReadFile(filepath.Join(dir, "rel.txt")); err != nil || string(got) != "rel" {
				t.Errorf("%s/rel.txt: %q %v", dir, got, err)
			}
			checkListing(t, s.must("ok", listdir(".")), dir)
			s.must("ok", get("rel.txt", "back.txt"))
			if got := readFile(t, filepath.Join(s.dir, "back.txt")); string(got) != "rel" {
				t.Errorf("back.txt: %q", got)
			}
			// Absolute paths still mean what they say.
			checkListing(t, s.must("ok", listdir(srv.Home)), srv.Home)
			s.must("ok", del("rel.txt"))
			if exists(filepath.Join(dir, "rel.txt")) {
				t.Error("DELETE of a relative path missed")
			}
			s.finish()
		})
	}
	t.Run("missing start directory", func(t *testing.T) {
		s := start(t, runOpts{mode: m, framing: client.Text}, "-F", srv.SSHConfig, "sftp://sftper-test/no-such-dir")
		s.expect("error", listdir("."))
		s.p.CloseStdin()
		s.p.Wait(reqTimeout)
	})
}

// TestDestinationForms: no ssh_config at all, everything on sftper's
// command line, in each syntax OpenSSH knows.
func TestDestinationForms(t *testing.T) { eachMode(t, testDestinationForms) }

func testDestinationForms(t *testing.T, m mode) {
	port := strconv.Itoa(srv.Port)
	common := []string{
		"-F", "/dev/null",
		"-i", srv.KeyFile,
		"-o", "IdentitiesOnly=yes",
		"-oUserKnownHostsFile=" + srv.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-oStrictHostKeyChecking=yes",
		"-o", "UpdateHostKeys=no",
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"user@host with -P", []string{"-P", port, srv.User + "@127.0.0.1"}},
		{"URL with user and port", []string{"sftp://" + srv.User + "@127.0.0.1:" + port}},
		{"URL with port and -o User", []string{"-o", "User=" + srv.User, "sftp://127.0.0.1:" + port}},
		{"URL with directory", []string{"sftp://" + srv.User + "@127.0.0.1:" + port + "/."}},
		{"alias with user", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{}, common...), tc.args...)
			if tc.args == nil {
				args = []string{"-F", srv.SSHConfig, srv.User + "@" + sshdtest.Alias}
			}
			s := start(t, runOpts{mode: m, framing: client.Text}, args...)
			checkListing(t, s.must("ok", listdir(".")), srv.Home)
			s.finish()
		})
	}
}

// TestProxyJump: -J reaches the server through itself.
func TestProxyJump(t *testing.T) { eachMode(t, testProxyJump) }

func testProxyJump(t *testing.T, m mode) {
	s := startServer(t, sshdtest.Options{})
	p := start(t, runOpts{mode: m, framing: client.Text, server: s}, "-F", s.SSHConfig, "-J", sshdtest.Alias, sshdtest.Alias)
	checkListing(t, p.must("ok", listdir(".")), s.Home)
	p.finish()
	if n := strings.Count(s.Log(), "Accepted publickey"); n != 2 {
		t.Errorf("%d logins, want 2 (the jump and the target)", n)
	}
}

// TestSFTPCommand: --sftp-command and $SFTPER_SFTP_COMMAND choose the
// program, split like a shell would; the flag wins over the variable.
func TestSFTPCommand(t *testing.T) { eachMode(t, testSFTPCommand) }

func testSFTPCommand(t *testing.T, m mode) {
	sftpPath, err := exec.LookPath("sftp")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "dir with space")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The wrapper records its arguments, one per line, then runs sftp.
	wrapper := filepath.Join(dir, "my sftp")
	script := "#!/bin/sh\nlog=\"$1\"; shift\nprintf '%s\\n' \"$@\" > \"$log\"\nexec " + sftpPath + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	for _, tc := range []struct {
		name string
		flag string
		env  string
	}{
		{name: "flag", flag: "flag.log"},
		{name: "env", env: "env.log"},
		{name: "flag wins", flag: "flag-wins.log", env: "env-loses.log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args, env []string
			if tc.flag != "" {
				args = append(args, "--sftp-command", quote(wrapper)+" "+quote(filepath.Join(dir, tc.flag))+" -l 100000")
			}
			if tc.env != "" {
				env = append(env, "SFTPER_SFTP_COMMAND="+quote(wrapper)+" "+quote(filepath.Join(dir, tc.env))+" -l 100000")
			}
			s := start(t, runOpts{mode: m, framing: client.Text, env: env}, append(args, defaultArgs()...)...)
			s.must("ok", listdir("."))
			s.finish()
			used := tc.flag
			if used == "" {
				used = tc.env
			}
			got, err := os.ReadFile(filepath.Join(dir, used))
			if err != nil {
				t.Fatalf("the wrapper did not run: %v", err)
			}
			if !strings.Contains("\n"+string(got), "\n-l\n100000\n") {
				t.Errorf("sftp got arguments\n%s\nwant -l 100000 among them", got)
			}
			if tc.flag != "" && tc.env != "" && exists(filepath.Join(dir, tc.env)) {
				t.Error("$SFTPER_SFTP_COMMAND was used despite --sftp-command")
			}
		})
	}
}

// TestClosedStdoutStopsNewWork: once the reader of the results has gone,
// nothing more is started: a PUT queued behind a running GET never runs,
// and sftper ends promptly, exit status 1, its children gone.
func TestClosedStdoutStopsNewWork(t *testing.T) { eachMode(t, testClosedStdoutStopsNewWork) }

func testClosedStdoutStopsNewWork(t *testing.T, m mode) {
	_, dir := remoteDir(t, srv)
	remoteBig := filepath.Join(dir, "big")
	sparse(t, remoteBig, 4<<30) // long enough to be running when stdout closes
	if err := srv.Chown(remoteBig); err != nil {
		t.Fatal(err)
	}
	s := startDefault(t, m, client.Text)
	src := filepath.Join(s.dir, "src")
	writeFile(t, nil, src, []byte("never"))
	s.must("ok", listdir(dir))
	kids := children(t, s.p.Pid())
	for _, r := range []any{get(remoteBig, filepath.Join(s.dir, "got")), put(src, filepath.Join(dir, "queued"))} {
		b, _ := json.Marshal(r)
		if err := s.p.Send(b, reqTimeout); err != nil {
			t.Fatal(err)
		}
	}
	// The GET is under way.
	for deadline := time.Now().Add(reqTimeout); ; time.Sleep(5 * time.Millisecond) {
		started := false
		for _, n := range dirNames(t, s.dir) {
			started = started || strings.HasSuffix(n, ".part")
		}
		if started {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the GET did not start")
		}
	}
	t0 := time.Now()
	s.p.CloseStdout()
	code, err := s.p.Wait(reqTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s mode: sftper exited %.2f s after its stdout closed", m, time.Since(t0).Seconds())
	if code != 1 {
		t.Errorf("exit status %d after stdout closed, want 1", code)
	}
	if exists(filepath.Join(dir, "queued")) {
		t.Errorf("the PUT queued behind the GET ran after the reader had gone")
	}
	gone(t, kids)
	if !strings.Contains(s.p.Stderr(), "reader of sftper's output has gone") {
		t.Errorf("stderr does not say why sftper stopped:\n%s", s.p.Stderr())
	}
}
