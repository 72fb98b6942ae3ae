package driver

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// A command during which sftp moves nothing for StallTimeout fails saying
// it timed out, the command queued behind it is not run, and the next
// command gets a fresh sftp. A command that keeps moving data, however
// long it takes, is left alone.
func TestStalledCommandTimesOut(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		s, starts := fakeConn(t, "ok", Config{StallTimeout: 400 * time.Millisecond}, batch)
		run(t, s, "say warm")
		if out := run(t, s, "trickle 1s"); len(out) < 10 {
			t.Errorf("a slow command that keeps printing gave %d lines", len(out))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		before := startCount(t, starts)
		hung, err := s.Send(ctx, "sleep 1h", nil)
		if err != nil {
			t.Fatal(err)
		}
		behind, err := s.Send(ctx, "say behind", nil)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		_, err = hung.Wait(ctx)
		var ce *ConnError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Msg, "timed out: sftp moved no data for 400ms;") || !ce.Sent {
			t.Fatalf("the hung command: %v; want a sent *ConnError saying it timed out", err)
		}
		t.Logf("answered after %v", time.Since(t0))
		if _, err := behind.Wait(ctx); !errors.As(err, &ce) || !strings.HasPrefix(ce.Msg, "not run:") || ce.Sent {
			// In batch mode "say behind" may have gone into a script of
			// its own: then it runs.
			if !batch || err != nil {
				t.Errorf("the command behind it: %v; want a *ConnError saying it did not run", err)
			}
		}
		if out := run(t, s, "say after"); len(out) != 1 || out[0] != "after" {
			t.Errorf("the next command gave %q", out)
		}
		if startCount(t, starts) == before {
			t.Errorf("no fresh sftp after the timeout")
		}
	})
}

// bytesMoved reads the kernel's counters (processMoved, in proc_*.go);
// they grow with work.
func TestBytesMoved(t *testing.T) {
	before, err := bytesMoved(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.ReadFile(exe); err != nil {
			t.Fatal(err)
		}
		after, err := bytesMoved(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bytes moved still %d after 5 s of reading", after)
		}
	}
	if _, err := bytesMoved(1 << 30); err == nil {
		t.Errorf("no error for a process that does not exist")
	}
}

// An --sftp-command that forks sftp instead of becoming it (sh -c, timeout,
// sshpass) is seen through: what its sftp moves counts.
func TestStallSeesThroughAWrapper(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := fakeConn(t, "ok", Config{StallTimeout: 400 * time.Millisecond}, false)
	s.(*Session).cfg.Program = []string{"/bin/sh", "-c", `"$0" "$@"; exit $?`, exe}
	if out := run(t, s, "trickle 1500ms"); len(out) < 10 {
		t.Errorf("a slow command that keeps printing, under a wrapper, gave %d lines", len(out))
	}
}

// sftp's -l makes it pause on purpose; the stall timeout must outlast
// those pauses, which bandwidthPause computes from the user's options.
func TestBandwidthPause(t *testing.T) {
	at := func(limit, buf float64) time.Duration {
		return time.Duration(9 * buf * 8 / (limit * 1024) * float64(time.Second))
	}
	for _, tc := range []struct {
		prog []string
		want time.Duration
	}{
		{nil, 0},
		{[]string{"sftp"}, 0},
		{[]string{"sftp", "-R", "64"}, 0},
		{[]string{"sftp", "-l", "300"}, at(300, 261120)},
		{[]string{"sftp", "-l300"}, at(300, 261120)},
		{[]string{"sftp", "-ql", "300"}, at(300, 261120)},
		{[]string{"sftp", "-B", "65536", "-l", "1000"}, at(1000, 65536)},
		{[]string{"sftp", "-o", "-l 5", "-l", "100"}, at(100, 261120)}, // a value is not an option
		{[]string{"sftp", "--", "-l", "100"}, 0},
		{[]string{"sftp", "-l", "lots"}, 0},
	} {
		if got := bandwidthPause(tc.prog); got != tc.want {
			t.Errorf("bandwidthPause(%q) = %v, want %v", tc.prog, got, tc.want)
		}
	}
	cfg := Config{Program: []string{"sftp", "-l", "300"}, StallTimeout: time.Second}.withDefaults()
	if want := 2 * at(300, 261120); cfg.StallTimeout != want {
		t.Errorf("stall timeout with -l 300: %v, want %v", cfg.StallTimeout, want)
	}
}
