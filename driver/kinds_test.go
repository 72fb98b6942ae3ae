package driver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sftper/sftper/proto"
)

// Every ConnError the driver makes has the kind of what happened.
func TestConnErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		behaviour   string
		cfg         Config
		sessionOnly bool // the fake asks on the terminal, which only a session has
		want        proto.Kind
	}{
		{"refused", Config{}, false, proto.KindConnectFailed},
		{"hang", Config{ConnectTimeout: 300 * time.Millisecond}, false, proto.KindTimeout},
		{"hostkey", Config{}, true, proto.KindHostKeyUnknown},
		{"password", Config{}, true, proto.KindAuthFailed},
		{"ok", Config{StartDir: "missing"}, false, proto.KindConnectFailed},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			eachKind(t, func(t *testing.T, batch bool) {
				if batch && tc.sessionOnly {
					t.Skip("the fake asks on a terminal")
				}
				s, _ := fakeConn(t, tc.behaviour, tc.cfg, batch)
				ce := connErr(t, s, "pwd")
				if ce.ErrorKind() != tc.want {
					t.Errorf("kind %s (%q), want %s", ce.ErrorKind(), ce.Msg, tc.want)
				}
			})
		})
	}
}

// A connection that ends under a command is connection_lost; a command
// that moves nothing for the stall timeout is timeout.
func TestLostAndStalledKinds(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		s, _ := fakeConn(t, "ok", Config{StallTimeout: 400 * time.Millisecond}, batch)
		run(t, s, "say warm")
		if ce := connErr(t, s, "die"); ce.ErrorKind() != proto.KindConnectionLost || !ce.Sent {
			t.Errorf("die: %s %q (sent %v), want a sent connection_lost", ce.ErrorKind(), ce.Msg, ce.Sent)
		}
		if ce := connErr(t, s, "sleep 1h"); ce.ErrorKind() != proto.KindTimeout {
			t.Errorf("stall: %s %q, want timeout", ce.ErrorKind(), ce.Msg)
		}
	})
}

// Kill fails what is in flight as interrupted; a waiter whose context is
// cancelled gets the context's error, of kind interrupted.
func TestKillInterrupts(t *testing.T) {
	eachKind(t, func(t *testing.T, batch bool) {
		s, _ := fakeConn(t, "ok", Config{}, batch)
		run(t, s, "say warm")
		p, err := s.Send(context.Background(), "sleep 1h", nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // under way
		s.Kill()
		_, err = p.Wait(context.Background())
		var ce *ConnError
		if !errors.As(err, &ce) || ce.ErrorKind() != proto.KindInterrupted {
			t.Errorf("after Kill: %v, want an interrupted *ConnError", err)
		}

		s, _ = fakeConn(t, "ok", Config{}, batch)
		ctx, cancel := context.WithCancel(context.Background())
		p, err = s.Send(ctx, "sleep 1h", nil)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		_, err = p.Wait(ctx)
		if !errors.Is(err, context.Canceled) || proto.KindOf(err) != proto.KindInterrupted {
			t.Errorf("after cancel: %v (kind %s), want context.Canceled of kind interrupted", err, proto.KindOf(err))
		}
	})
}

// Close says what went wrong: an sftp that does not end on the end of its
// input (killed after closeGrace), an unexpected exit status; nothing for
// a clean end.
func TestCloseSaysWhatWentWrong(t *testing.T) {
	s, _ := fakeSession(t, "ok", Config{})
	run(t, s, "pwd")
	if err := s.Close(); err != nil {
		t.Errorf("clean: Close = %v", err)
	}

	s, _ = fakeSession(t, "badexit", Config{})
	run(t, s, "pwd")
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("status 3: Close = %v, want an error with the status", err)
	}

	s, _ = fakeSession(t, "hang", Config{ConnectTimeout: time.Hour})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	pid := s.kids[0].cmd.Process.Pid
	t0 := time.Now()
	err := s.Close()
	if err == nil || !strings.Contains(err.Error(), "did not exit within "+closeGrace.String()) {
		t.Errorf("hung: Close = %v, want an error saying sftp was killed", err)
	}
	if d := time.Since(t0); d < closeGrace || d > closeGrace+3*time.Second {
		t.Errorf("hung: Close took %v, want about %v", d, closeGrace)
	}
	waitGone(t, pid)

	b, _ := fakeConn(t, "ok", Config{}, true)
	run(t, b, "pwd")
	if err := b.Close(); err != nil {
		t.Errorf("batch: Close = %v", err)
	}
}
