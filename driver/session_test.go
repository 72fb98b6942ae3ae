package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeConn returns a Conn (a Session, or Scripts for batch) whose sftp is
// this test binary playing behaviour, and the file that counts its starts.
func fakeConn(t *testing.T, behaviour string, cfg Config, batch bool) (Conn, string) {
	t.Helper()
	starts := filepath.Join(t.TempDir(), "starts")
	t.Setenv("FAKE_SFTP", behaviour)
	t.Setenv("FAKE_SFTP_STARTS", starts)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Program = []string{exe}
	cfg.Destination = "fake"
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	var c Conn
	if batch {
		c = NewScripts(cfg) // cfg.Share is off: there is no ssh to share
	} else {
		c = NewSession(cfg)
	}
	t.Cleanup(func() { c.Close() })
	return c, starts
}

// fakeSession is fakeConn for the tests that look inside a Session.
func fakeSession(t *testing.T, behaviour string, cfg Config) (*Session, string) {
	c, starts := fakeConn(t, behaviour, cfg, false)
	return c.(*Session), starts
}

// eachKind runs f for a Session and for Scripts: both must answer alike.
func eachKind(t *testing.T, f func(t *testing.T, batch bool)) {
	t.Run("session", func(t *testing.T) { f(t, false) })
	t.Run("batch", func(t *testing.T) { f(t, true) })
}

func startCount(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

func run(t *testing.T, s Conn, line string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := Run(ctx, s, line)
	if err != nil {
		t.Fatalf("Run(%q): %v", line, err)
	}
	return out
}

func TestRunReturnsEachCommandsOwnOutput(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		s, starts := fakeConn(t, "ok", Config{}, batch)
		tests := []struct {
			line string
			want []string
		}{
			{"say a|b c", []string{"a", "b c"}},
			{"err remote delete /x: Failure", []string{"remote delete /x: Failure\r"}},
			{"pwd", []string{"Remote working directory: /home/fake {a}"}},
			// Parse errors come before the command's echo and still belong to it.
			{"badparse", []string{"Invalid command.\r"}},
			// Output that looks like a prompt or like a marker does not end
			// the command: only the exact marker of this session does.
			{"say sftp> |sftp> # sftper-00000000000000000000000000000000-9|x", []string{"sftp> ", "sftp> # sftper-00000000000000000000000000000000-9", "x"}},
		}
		for _, tt := range tests {
			if diff := cmp.Diff(tt.want, run(t, s, tt.line)); diff != "" {
				t.Errorf("Run(%q) (-want +got):\n%s", tt.line, diff)
			}
		}
		// One session for everything; or a first script (cd, pwd) and
		// one script per command, each run after the previous ended.
		want := 1
		if batch {
			want = 1 + len(tests)
		}
		if n := startCount(t, starts); n != want {
			t.Errorf("sftp started %d times for %d commands, want %d", n, len(tests), want)
		}
	})
}

func TestStartConnectsInBackground(t *testing.T) {
	s, starts := fakeSession(t, "slowstart", Config{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"x"}, run(t, s, "say x")); diff != "" {
		t.Error(diff)
	}
	if n := startCount(t, starts); n != 1 {
		t.Errorf("sftp started %d times, want 1", n)
	}
}

func connErr(t *testing.T, s Conn, line string) *ConnError {
	t.Helper()
	_, err := Run(context.Background(), s, line)
	var ce *ConnError
	if !errors.As(err, &ce) {
		t.Fatalf("Run(%q) = %v, want a *ConnError", line, err)
	}
	return ce
}

func TestQuestionsOnTheTerminalAreRefused(t *testing.T) {
	tests := []struct {
		mode string
		want []string
	}{
		{"hostkey", []string{"never answers", "SHA256:1ROtB79zLmHJ/WbS/CU13hV9Yt1U9Rw/17ETAc5k9Yo", "ssh-keyscan"}},
		{"password", []string{"authentication failed", "tester@127.0.0.1's password:"}},
		{"question", []string{"Please enter your favourite colour:"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			s, _ := fakeSession(t, tt.mode, Config{ConnectTimeout: 20 * time.Second})
			start := time.Now()
			ce := connErr(t, s, "pwd")
			for _, w := range tt.want {
				if !strings.Contains(ce.Msg, w) {
					t.Errorf("error %q does not contain %q", ce.Msg, w)
				}
			}
			if ce.Sent {
				t.Error("the command was reported as sent")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refusing took %v; it must not wait for the connect timeout", d)
			}
		})
	}
}

func TestConnectTimeout(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		s, _ := fakeConn(t, "hang", Config{ConnectTimeout: 500 * time.Millisecond}, batch)
		start := time.Now()
		ce := connErr(t, s, "pwd")
		if !strings.Contains(ce.Msg, "connect timed out after 500ms") {
			t.Errorf("error = %q", ce.Msg)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
}

func TestConnectFailureSaysWhy(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		s, starts := fakeConn(t, "refused", Config{}, batch)
		ce := connErr(t, s, "pwd")
		for _, w := range []string{"connect failed", "ssh: connect to host 127.0.0.1 port 1: Connection refused", "status 255"} {
			if !strings.Contains(ce.Msg, w) {
				t.Errorf("error %q does not contain %q", ce.Msg, w)
			}
		}
		// The next command tries again.
		connErr(t, s, "pwd")
		if n := startCount(t, starts); n != 2 {
			t.Errorf("sftp started %d times, want 2 (one per command)", n)
		}
	})
}

// TestEarlyConnectFailureIsNotLost: ssh may fail and print why before
// sftper has sent anything (a server that hangs up at once). What it
// printed is the reason for the failed connect, every time, never a stray
// warning leaving only "status 255".
func TestEarlyConnectFailureIsNotLost(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		// The invariant that makes it so: the connect marker is queued
		// before spawn returns, so before its output can be read.
		t.Setenv("FAKE_SFTP", "hang")
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cfg := &Config{Program: []string{exe}, Destination: "fake", ConnectTimeout: time.Hour, Log: log.New(io.Discard, "", 0)}
		var c *process
		if batch {
			sc, err := startScript(cfg, Settings{}, nil, nil, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			c = sc.process
		} else {
			sc, err := startSession(cfg, Settings{}, nil, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			defer sc.tty.close()
			c = sc.process
		}
		c.qmu.Lock()
		queued := len(c.queue) == 1 && c.queue[0] == c.first && c.first.connect
		c.qmu.Unlock()
		c.kill()
		<-c.ended
		if !queued {
			t.Fatal("spawn returned without the connect marker queued")
		}

		s, _ := fakeConn(t, "refused", Config{}, batch)
		for i := range 20 {
			ce := connErr(t, s, "pwd")
			if !strings.Contains(ce.Msg, "Connection refused") {
				t.Fatalf("attempt %d: error %q does not say why", i, ce.Msg)
			}
		}
	})
}

func TestFailedStartIsRetriedByTheFirstCommand(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		s, starts := fakeConn(t, "refused", Config{}, batch)
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // let the background handshake fail
		connErr(t, s, "pwd")
		if n := startCount(t, starts); n != 2 {
			t.Errorf("sftp started %d times, want 2: a command must not get a stale failure", n)
		}
	})
}

func TestLostSessionIsReplacedByTheNextCommand(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		s, starts := fakeConn(t, "ok", Config{}, batch)
		run(t, s, "say before")
		ce := connErr(t, s, "die")
		// sftp -b (a session uses it too) dies silently when its
		// connection does.
		want := "connection lost: sftp exited with status 255"
		if !ce.Sent || ce.Msg != want {
			t.Errorf("error = %+v, want %q", ce, want)
		}
		if diff := cmp.Diff([]string{"after"}, run(t, s, "say after")); diff != "" {
			t.Error(diff)
		}
		want2 := 2
		if batch {
			want2 = 4 // the first script, then one per command
		}
		if n := startCount(t, starts); n != want2 {
			t.Errorf("sftp started %d times, want %d", n, want2)
		}
	})
}

func TestStartDir(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		s, _ := fakeConn(t, "ok", Config{StartDir: "sub dir"}, batch)
		run(t, s, "pwd")

		s, _ = fakeConn(t, "ok", Config{StartDir: "missing"}, batch)
		ce := connErr(t, s, "pwd")
		if !strings.Contains(ce.Msg, `starting directory "missing": stat remote: No such file or directory`) {
			t.Errorf("error = %q", ce.Msg)
		}
	})
}

func TestCancelKillsTheChild(t *testing.T) {
	s, _ := fakeSession(t, "ok", Config{})
	run(t, s, "pwd")
	pid := s.kids[0].cmd.Process.Pid
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Run(ctx, s, "sleep 1h"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	waitGone(t, pid)
}

func TestCloseEndsTheChild(t *testing.T) {
	s, _ := fakeSession(t, "ok", Config{})
	run(t, s, "pwd")
	pid := s.kids[0].cmd.Process.Pid
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	waitGone(t, pid)
	if _, err := Run(context.Background(), s, "pwd"); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still exists", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestChildEnvPinsOnlyLocaleTimeAndTerminal(t *testing.T) {
	got := childEnv([]string{"HOME=/h", "TZ=Asia/Kolkata", "LC_ALL=C", "SSH_AUTH_SOCK=/a", "LANG=de_DE.UTF-8"})
	want := map[string]string{"HOME": "/h", "SSH_AUTH_SOCK": "/a", "LANG": "de_DE.UTF-8", "TZ": "UTC", "LC_ALL": "C.UTF-8", "TERM": "dumb", "EDITRC": "/dev/null"}
	gotMap := map[string]string{}
	for _, kv := range got {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := gotMap[k]; dup {
			t.Errorf("%s set twice", k)
		}
		gotMap[k] = v
	}
	if diff := cmp.Diff(want, gotMap); diff != "" {
		t.Error(diff)
	}
}

func TestResolveJoinsTheWorkingDirectory(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		s, _ := fakeConn(t, "ok", Config{}, batch)
		for p, want := range map[string]string{"x": "/home/fake {a}/x", "/abs": "/abs", "../y": "/home/fake {a}/../y"} {
			got, err := s.Resolve(context.Background(), p)
			if err != nil || got != want {
				t.Errorf("Resolve(%q) = %q, %v; want %q", p, got, err, want)
			}
		}
	})
}

// TestScriptStopsAtTheFailingLine: in batch mode a failing line ends its
// script; it alone gets the failure, and the lines queued after it run in
// the next script, in order.
func TestScriptStopsAtTheFailingLine(t *testing.T) {
	var logged bytes.Buffer
	s, starts := fakeConn(t, "ok", Config{Log: log.New(&logged, "", 0)}, true)
	ctx := context.Background()
	if _, err := Run(ctx, s, "say warm"); err != nil { // connected, first scripts done
		t.Fatal(err)
	}
	lines := []string{"say a", "err remote open \"/x\": Permission denied", "say b", "silentfail", "say c"}
	var ps []*Pending
	for _, l := range lines {
		p, err := s.Send(ctx, l, nil)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	type result struct {
		Lines []string
		Err   string
	}
	var got []result
	for _, p := range ps {
		out, err := p.Wait(ctx)
		r := result{Lines: out}
		if err != nil {
			r.Err = err.Error()
		}
		got = append(got, r)
	}
	want := []result{
		{Lines: []string{"a"}},
		{Lines: []string{"remote open \"/x\": Permission denied\r"}},
		{Lines: []string{"b"}},
		{Err: `sftp stopped at "silentfail" with status 1 without saying why`},
		{Lines: []string{"c"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	// The log says which step of which script failed.
	for _, w := range []string{`failed and sftp stopped there (remote open "/x": Permission denied)`, `stopped at "silentfail"`} {
		if !strings.Contains(logged.String(), w) {
			t.Errorf("log %q does not contain %q", logged.String(), w)
		}
	}
	// At least one script per failure and one for the rest: 2 + 3 (the
	// warm-up's two, then a..err, b..silentfail, c), or more if the lines
	// arrived while a script was already running.
	if n := startCount(t, starts); n < 5 {
		t.Errorf("sftp started %d times, want at least 5", n)
	}
}

// TestScriptsCloseWaitsForQueuedLines: Close runs what was sent first.
func TestScriptsCloseWaitsForQueuedLines(t *testing.T) {
	s, _ := fakeConn(t, "ok", Config{}, true)
	ctx := context.Background()
	var ps []*Pending
	for i := range 20 {
		p, err := s.Send(ctx, fmt.Sprintf("say %d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		select {
		case <-p.done:
		default:
			t.Fatalf("line %d still outstanding after Close", i)
		}
		if out, err := p.Wait(ctx); err != nil || len(out) != 1 || out[0] != fmt.Sprint(i) {
			t.Errorf("line %d: %q, %v", i, out, err)
		}
	}
	if _, err := s.Send(ctx, "say late", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}

// TestDeepPipelineKeepsEachCommandsOutput: with more commands queued than
// coalesceDepth, route takes their ends in batches (see coalesceDepth);
// every command still gets its own output, whole and in order, long
// outputs included.
func TestDeepPipelineKeepsEachCommandsOutput(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		s, _ := fakeConn(t, "ok", Config{}, batch)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		n := 4 * coalesceDepth
		want := make([][]string, n)
		var ps []*Pending
		for i := range n {
			words := []string{fmt.Sprint(i), fmt.Sprintf("%d-b", i)}
			if i%9 == 4 {
				// More than route's buffer holds: read across pauses.
				for j := range 3000 {
					words = append(words, fmt.Sprintf("%d-entry-%d-%s", i, j, strings.Repeat("x", 20)))
				}
			}
			want[i] = words
			p, err := s.Send(ctx, "say "+strings.Join(words, "|"), nil)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		for i, p := range ps {
			out, err := p.Wait(ctx)
			if err != nil {
				t.Fatalf("command %d: %v", i, err)
			}
			if diff := cmp.Diff(want[i], out); diff != "" {
				t.Errorf("command %d (-want +got):\n%s", i, diff)
			}
		}
	})
}
