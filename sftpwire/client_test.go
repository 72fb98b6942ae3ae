package sftpwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The client against the fake server of fake_test.go. server_test.go has
// it against real ones.

// result is what a call returned, for calls run in a goroutine.
type result struct {
	attrs Attrs
	names []Name
	path  string
	err   error
}

func goStat(ctx context.Context, c *Client, path string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		a, err := c.Stat(ctx, path)
		ch <- result{attrs: a, err: err}
	}()
	return ch
}

func goReadDir(ctx context.Context, c *Client, path string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		n, err := c.ReadDir(ctx, path)
		ch <- result{names: n, err: err}
	}()
	return ch
}

// await is the result of a call, which must come within 10 s.
func await(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not return within 10 s")
	}
	panic("unreachable")
}

// closedBy checks that err is a *ClosedError for the reason why (matched
// with errors.Is), or, when why is nil, for a *ProtocolError.
func closedBy(t *testing.T, err, why error) {
	t.Helper()
	var ce *ClosedError
	if !errors.As(err, &ce) {
		t.Fatalf("err %v (%T), want a *ClosedError", err, err)
	}
	if why == nil {
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Fatalf("err %v, want a *ClosedError for a *ProtocolError", err)
		}
		return
	}
	if !errors.Is(err, why) {
		t.Fatalf("err %v, want a *ClosedError for %v", err, why)
	}
}

// TestClientHandshake: INIT as sent, and VERSION as kept.
func TestClientHandshake(t *testing.T) {
	f, end := newFake(t)
	f.startReading()
	done := make(chan *Client, 1)
	go func() {
		c, err := NewClient(end, Options{})
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	init := f.expect(fxpInit)
	if want := "\x00\x00\x00\x05\x01\x00\x00\x00\x03"; string(init.raw) != want {
		t.Errorf("INIT %q, want %q", init.raw, want)
	}
	f.send(versionPacket(serverVersion))
	c := <-done
	if c == nil {
		return
	}
	if diff := cmp.Diff(serverVersion, c.Version()); diff != "" {
		t.Errorf("Version (-want +got):\n%s", diff)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	checkNoLeaks(t)
}

func TestClientStat(t *testing.T) {
	c, f := startFake(t, Options{})
	ctx := context.Background()
	want := Attrs{Flags: 0x0f, Size: 5, UID: 1, GID: 2, Permissions: 0o100644, Atime: 3, Mtime: 4}
	for _, tt := range []struct {
		name string
		call func(context.Context, string) (Attrs, error)
		typ  byte
	}{{"Stat", c.Stat, fxpStat}, {"Lstat", c.Lstat, fxpLstat}} {
		t.Run(tt.name, func(t *testing.T) {
			ch := make(chan result, 1)
			go func() {
				a, err := tt.call(ctx, "a\nb\xff")
				ch <- result{attrs: a, err: err}
			}()
			r := f.expect(tt.typ)
			if r.arg != "a\nb\xff" {
				t.Errorf("path sent %q", r.arg)
			}
			f.send(attrsPacket(r.id, want))
			got := await(t, ch)
			if got.err != nil {
				t.Fatal(got.err)
			}
			if diff := cmp.Diff(want, got.attrs); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}

			ch2 := goStat(ctx, c, "missing")
			r = f.expect(fxpStat)
			f.send(statusPacket(r.id, NoSuchFile, "No such file"))
			got = await(t, ch2)
			var se *StatusError
			if !errors.As(got.err, &se) || *se != (StatusError{Code: NoSuchFile, Message: "No such file", Lang: "en"}) {
				t.Errorf("err %#v, want the server's *StatusError", got.err)
			}
		})
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err() = %v on a client that runs", err)
	}
}

// TestClientIDs: every request has an id of its own, one more than the
// last, and answers are matched by id whatever their order.
func TestClientIDs(t *testing.T) {
	c, f := startFake(t, Options{})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := c.Stat(context.Background(), strconv.Itoa(i))
			if err == nil && a.Size != uint64(i) {
				err = fmt.Errorf("Stat(%d) got the answer for %d", i, a.Size)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	reqs := make([]fakeRequest, n)
	seen := map[uint32]bool{}
	for i := range reqs {
		reqs[i] = f.expect(fxpStat)
		if seen[reqs[i].id] {
			t.Fatalf("id %d sent twice", reqs[i].id)
		}
		seen[reqs[i].id] = true
	}
	for id := uint32(1); id <= n; id++ {
		if !seen[id] {
			t.Errorf("ids are not 1 to %d: %d missing", n, id)
		}
	}
	// Answered last first.
	for i := n - 1; i >= 0; i-- {
		size, _ := strconv.Atoi(reqs[i].arg)
		f.send(attrsPacket(reqs[i].id, Attrs{Flags: AttrSize, Size: uint64(size)}))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestClientReadDir(t *testing.T) {
	ctx := context.Background()
	a := Name{Name: "a", Longname: "-rw-r--r-- a", Attrs: Attrs{Flags: AttrSize, Size: 1}}
	b := Name{Name: "b\n\xff", Longname: "?", Attrs: Attrs{}}
	dot := Name{Name: ".", Longname: "drwxr-xr-x ."}

	t.Run("complete", func(t *testing.T) {
		c, f := startFake(t, Options{})
		ch := goReadDir(ctx, c, "dir")
		r := f.expect(fxpOpendir)
		if r.arg != "dir" {
			t.Errorf("OPENDIR %q", r.arg)
		}
		f.send(handlePacket(r.id, "H\x00"))
		r = f.expect(fxpReaddir)
		if r.arg != "H\x00" {
			t.Errorf("READDIR with handle %q", r.arg)
		}
		f.send(namePacket(r.id, dot, a))
		r = f.expect(fxpReaddir)
		f.send(namePacket(r.id, b))
		r = f.expect(fxpReaddir)
		f.send(statusPacket(r.id, EOF, "End of file"))
		// The CLOSE comes, and the listing waits for its answer.
		r = f.expect(fxpClose)
		if r.arg != "H\x00" {
			t.Errorf("CLOSE with handle %q", r.arg)
		}
		select {
		case got := <-ch:
			t.Fatalf("ReadDir returned before CLOSE was answered: %v", got)
		case <-time.After(50 * time.Millisecond):
		}
		f.send(statusPacket(r.id, Failure, "close failed")) // changes nothing
		got := await(t, ch)
		if got.err != nil {
			t.Fatal(got.err)
		}
		if diff := cmp.Diff([]Name{dot, a, b}, got.names); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		ch2 := goStat(ctx, c, "x")
		r = f.expect(fxpStat)
		f.send(attrsPacket(r.id, Attrs{}))
		if got := await(t, ch2); got.err != nil {
			t.Fatalf("the next call after a failed CLOSE: %v", got.err)
		}
	})

	t.Run("empty NAME ends it", func(t *testing.T) {
		c, f := startFake(t, Options{})
		ch := goReadDir(ctx, c, "dir")
		f.send(handlePacket(f.expect(fxpOpendir).id, "h"))
		f.send(namePacket(f.expect(fxpReaddir).id, a))
		f.send(namePacket(f.expect(fxpReaddir).id))
		f.send(statusPacket(f.expect(fxpClose).id, OK, ""))
		got := await(t, ch)
		if got.err != nil || len(got.names) != 1 {
			t.Fatalf("got %v, %v; want the one entry", got.names, got.err)
		}
	})

	t.Run("the stream ends at CLOSE", func(t *testing.T) {
		c, f := startFake(t, Options{})
		ch := goReadDir(ctx, c, "dir")
		f.send(handlePacket(f.expect(fxpOpendir).id, "h"))
		f.send(namePacket(f.expect(fxpReaddir).id, a))
		f.send(statusPacket(f.expect(fxpReaddir).id, EOF, ""))
		f.expect(fxpClose)
		f.out.Close()
		got := await(t, ch)
		if got.err != nil || len(got.names) != 1 {
			t.Fatalf("got %v, %v; want the complete listing", got.names, got.err)
		}
		closedBy(t, c.Err(), io.EOF)
	})

	t.Run("refused midway", func(t *testing.T) {
		c, f := startFake(t, Options{})
		ch := goReadDir(ctx, c, "dir")
		f.send(handlePacket(f.expect(fxpOpendir).id, "h"))
		f.send(namePacket(f.expect(fxpReaddir).id, a))
		f.send(statusPacket(f.expect(fxpReaddir).id, PermissionDenied, "denied"))
		r := f.expect(fxpClose)
		if r.arg != "h" {
			t.Errorf("CLOSE with handle %q", r.arg)
		}
		f.send(statusPacket(r.id, OK, ""))
		got := await(t, ch)
		var se *StatusError
		if !errors.As(got.err, &se) || se.Code != PermissionDenied || se.Message != "denied" {
			t.Fatalf("err %v, want the READDIR's *StatusError", got.err)
		}
		if got.names != nil {
			t.Errorf("a failed listing returned %v", got.names)
		}
	})

	t.Run("not opened", func(t *testing.T) {
		c, f := startFake(t, Options{})
		ch := goReadDir(ctx, c, "dir")
		f.send(statusPacket(f.expect(fxpOpendir).id, NoSuchFile, ""))
		got := await(t, ch)
		var se *StatusError
		if !errors.As(got.err, &se) || se.Code != NoSuchFile || se.Error() != "SSH_FX_NO_SUCH_FILE" {
			t.Fatalf("err %v, want the OPENDIR's *StatusError", got.err)
		}
		// No CLOSE (there is no handle): the next request is the Stat.
		ch2 := goStat(ctx, c, "x")
		f.send(attrsPacket(f.expect(fxpStat).id, Attrs{}))
		await(t, ch2)
	})

	t.Run("cancelled midway", func(t *testing.T) {
		c, f := startFake(t, Options{})
		ctx, cancel := context.WithCancel(ctx)
		ch := goReadDir(ctx, c, "dir")
		f.send(handlePacket(f.expect(fxpOpendir).id, "h"))
		rd := f.expect(fxpReaddir)
		cancel()
		got := await(t, ch)
		if !errors.Is(got.err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", got.err)
		}
		// The handle is closed all the same, without waiting, and the
		// late answers are dropped.
		cl := f.expect(fxpClose)
		f.send(namePacket(rd.id, a))
		f.send(statusPacket(cl.id, OK, ""))
		ch2 := goStat(context.Background(), c, "x")
		f.send(attrsPacket(f.expect(fxpStat).id, Attrs{}))
		if got := await(t, ch2); got.err != nil {
			t.Fatal(got.err)
		}
	})
}

func TestClientRealPath(t *testing.T) {
	c, f := startFake(t, Options{})
	ch := make(chan result, 1)
	go func() {
		p, err := c.RealPath(context.Background(), "a/../b")
		ch <- result{path: p, err: err}
	}()
	r := f.expect(fxpRealpath)
	if r.arg != "a/../b" {
		t.Errorf("REALPATH %q", r.arg)
	}
	f.send(namePacket(r.id, Name{Name: "/home/\xff/b", Longname: "/home/\xff/b"}))
	got := await(t, ch)
	if got.err != nil || got.path != "/home/\xff/b" {
		t.Fatalf("got %q, %v", got.path, got.err)
	}
}

// TestClientContext: a call whose ctx ends returns ctx's error, wrapped;
// its answer, when it comes, is dropped and the client goes on. A ctx
// already done sends nothing.
func TestClientContext(t *testing.T) {
	c, f := startFake(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	ch := goStat(ctx, c, "slow")
	r := f.expect(fxpStat)
	cancel()
	got := await(t, ch)
	if !errors.Is(got.err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", got.err)
	}
	f.send(attrsPacket(r.id, Attrs{Flags: AttrSize, Size: 99}))

	if _, err := c.Stat(ctx, "not sent"); !errors.Is(err, context.Canceled) {
		t.Fatalf("with a ctx already done: err %v", err)
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer dcancel()
	ch = goStat(dctx, c, "deadline")
	r2 := f.expect(fxpStat)
	if got := await(t, ch); !errors.Is(got.err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want context.DeadlineExceeded", got.err)
	}

	ch = goStat(context.Background(), c, "next")
	r3 := f.expect(fxpStat) // not "not sent": that one never went out
	if r3.arg != "next" || r3.id != r2.id+1 {
		t.Errorf("next request %q id %d, want \"next\" id %d", r3.arg, r3.id, r2.id+1)
	}
	f.send(attrsPacket(r3.id, Attrs{Flags: AttrSize, Size: 3}))
	if got := await(t, ch); got.err != nil || got.attrs.Size != 3 {
		t.Fatalf("after a dropped answer: %v, %v", got.attrs, got.err)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
}

// Timeouts short enough for a test and long enough for -race on a loaded
// machine; slack is how much later than the timeout a call may return.
const (
	testTimeout = 300 * time.Millisecond
	slack       = 3 * time.Second
)

// TestClientTimeout: a server that never answers closes the client with
// ErrTimeout within the timeout, and every later call fails at once.
func TestClientTimeout(t *testing.T) {
	c, f := startFake(t, Options{Timeout: testTimeout})
	start := time.Now()
	ch1 := goStat(context.Background(), c, "a")
	ch2 := goReadDir(context.Background(), c, "d")
	f.next()
	f.next()
	for _, ch := range []<-chan result{ch1, ch2} {
		got := await(t, ch)
		closedBy(t, got.err, ErrTimeout)
	}
	if d := time.Since(start); d < testTimeout || d > testTimeout+slack {
		t.Errorf("the calls returned after %v; the timeout is %v", d, testTimeout)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done is not closed")
	}
	closedBy(t, c.Err(), ErrTimeout)
	if !f.client.isClosed() {
		t.Error("the stream is not closed")
	}
	start = time.Now()
	closedBy(t, await(t, goStat(context.Background(), c, "b")).err, ErrTimeout)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("a call after the timeout took %v", d)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	closedBy(t, c.Err(), ErrTimeout) // the first reason stays
	checkNoLeaks(t)
}

// TestClientTimeoutWriting: a server that stops reading leaves a call
// stuck in Write; the timeout ends it too.
func TestClientTimeoutWriting(t *testing.T) {
	f, end := newFake(t)
	go func() {
		// Read INIT, answer it, then read nothing more.
		var init [9]byte
		io.ReadFull(f.in, init[:])
		f.send(versionPacket(serverVersion))
	}()
	c, err := NewClient(end, Options{Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	closedBy(t, await(t, goStat(context.Background(), c, "x")).err, ErrTimeout)
	if d := time.Since(start); d > testTimeout+slack {
		t.Errorf("returned after %v", d)
	}
	c.Close()
	checkNoLeaks(t)
}

func TestNewClientTimeout(t *testing.T) {
	f, end := newFake(t)
	f.startReading() // reads INIT, answers nothing
	start := time.Now()
	type opened struct {
		c   *Client
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		c, err := NewClient(end, Options{Timeout: testTimeout})
		ch <- opened{c, err}
	}()
	var o opened
	select {
	case o = <-ch:
	case <-time.After(testTimeout + slack):
		t.Fatal("NewClient did not return")
	}
	if o.c != nil {
		t.Fatal("a client without VERSION")
	}
	closedBy(t, o.err, ErrTimeout)
	if d := time.Since(start); d < testTimeout || d > testTimeout+slack {
		t.Errorf("returned after %v; the timeout is %v", d, testTimeout)
	}
	if !end.isClosed() {
		t.Error("the stream is not closed")
	}
	checkNoLeaks(t)
}

// TestNewClientFails: what the server may say instead of VERSION. The
// stream is closed each time.
func TestNewClientFails(t *testing.T) {
	tests := []struct {
		name   string
		answer []byte
		eof    bool  // the server closes after the answer
		why    error // nil for a *ProtocolError
		msg    string
	}{
		{"nothing", nil, true, io.EOF, ""},
		{"a status", statusPacket(0, Failure, ""), false, nil, "STATUS, not VERSION"},
		{"version 4", versionPacket(Version{Version: 4}), false, nil, "version 4"},
		{"version 2", versionPacket(Version{Version: 2}), false, nil, "version 2"},
		{"a cut extension", framed(fxpVersion, u32(3), str("name"), u32(9)), false, nil, "cut short"},
		{"a shell's greeting", []byte("Welcome to Example Inc.\r\n"), false, nil, "remote shell"},
		{"half a packet", []byte{0, 0, 0, 20, fxpVersion, 0, 0}, true, nil, "into a packet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, end := newFake(t)
			f.startReading()
			go func() {
				f.next()
				f.send(tt.answer)
				if tt.eof {
					f.out.Close()
				}
			}()
			c, err := NewClient(end, Options{Timeout: 10 * time.Second})
			if c != nil {
				t.Fatal("got a client")
			}
			closedBy(t, err, tt.why)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err %q does not say %q", err, tt.msg)
			}
			if !end.isClosed() {
				t.Error("the stream is not closed")
			}
			checkNoLeaks(t)
		})
	}
}

// TestClientClose: calls in flight and later fail with ErrClientClosed;
// Close closes the stream, may be called again, and leaves nothing
// running.
func TestClientClose(t *testing.T) {
	c, f := startFake(t, Options{})
	var chs []<-chan result
	for i := 0; i < 5; i++ {
		chs = append(chs, goStat(context.Background(), c, "p"+strconv.Itoa(i)))
	}
	chs = append(chs, goReadDir(context.Background(), c, "d"))
	for range chs {
		f.next()
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, ch := range chs {
		closedBy(t, await(t, ch).err, ErrClientClosed)
	}
	if !f.client.isClosed() {
		t.Error("the stream is not closed")
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done is not closed")
	}
	closedBy(t, c.Err(), ErrClientClosed)
	_, err := c.RealPath(context.Background(), ".")
	closedBy(t, err, ErrClientClosed)
	if err := c.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	checkNoLeaks(t)
}

// closeErrRW is a stream whose Close fails.
type closeErrRW struct {
	*pipeEnd
	err error
}

func (c closeErrRW) Close() error { c.pipeEnd.Close(); return c.err }

// TestClientCloseError: Close reports the stream's Close's error, every
// time it is called.
func TestClientCloseError(t *testing.T) {
	f, end := newFake(t)
	f.startReading()
	go func() {
		f.next()
		f.send(versionPacket(serverVersion))
	}()
	boom := errors.New("boom")
	c, err := NewClient(closeErrRW{end, boom}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := c.Close(); err != boom {
			t.Errorf("Close %d: %v, want the stream's error", i, err)
		}
	}
}

// TestClientProtocolErrors: an answer that breaks the protocol closes
// the client with a *ProtocolError, for the call it answered and all
// others.
func TestClientProtocolErrors(t *testing.T) {
	tests := []struct {
		name   string
		answer func(id uint32) []byte
		msg    string
	}{
		{"an id nobody asked for", func(id uint32) []byte { return attrsPacket(id+1, Attrs{}) }, "which no request is waiting"},
		{"HANDLE for STAT", func(id uint32) []byte { return handlePacket(id, "h") }, "a HANDLE packet answers STAT"},
		{"NAME for STAT", func(id uint32) []byte { return namePacket(id) }, "a NAME packet answers STAT"},
		{"DATA", func(id uint32) []byte { return framed(fxpData, u32(id), str("x")) }, "a DATA packet"},
		{"a second VERSION", func(id uint32) []byte { return framed(fxpVersion, u32(id)) }, "a VERSION packet"},
		{"an unknown type", func(id uint32) []byte { return framed(77, u32(id)) }, "type 77"},
		{"ATTRS cut short", func(id uint32) []byte { return framed(fxpAttrs, u32(id), u32(AttrSize), []byte{1, 2}) }, "cut short: size"},
		{"no id", func(uint32) []byte { return framed(fxpAttrs, []byte{0, 0}) }, "too short for a request id"},
		{"length 0", func(uint32) []byte { return u32(0) }, "length 0"},
		{"too long", func(uint32) []byte { return u32(MaxPacket + 1) }, "longer than"},
		{"STATUS OK without the attributes", func(id uint32) []byte { return statusPacket(id, OK, "") }, "STATUS OK"},
		{"garbage", func(uint32) []byte { return []byte("\x00\x00\x00\x03garbage") }, "DATA packet of 3 bytes, too short for a request id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := startFake(t, Options{Timeout: 10 * time.Second})
			other := goReadDir(context.Background(), c, "d")
			f.expect(fxpOpendir)
			ch := goStat(context.Background(), c, "x")
			r := f.expect(fxpStat)
			f.send(tt.answer(r.id))
			got := await(t, ch)
			closedBy(t, got.err, nil)
			if !strings.Contains(got.err.Error(), tt.msg) {
				t.Errorf("err %q does not say %q", got.err, tt.msg)
			}
			closedBy(t, await(t, other).err, nil)
			closedBy(t, c.Err(), nil)
			if !f.client.isClosed() {
				t.Error("the stream is not closed")
			}
			checkNoLeaks(t)
		})
	}
}

func TestClientRealPathCount(t *testing.T) {
	for _, names := range [][]Name{nil, {{Name: "/a"}, {Name: "/b"}}} {
		c, f := startFake(t, Options{})
		ch := make(chan error, 1)
		go func() {
			_, err := c.RealPath(context.Background(), ".")
			ch <- err
		}()
		f.send(namePacket(f.expect(fxpRealpath).id, names...))
		err := <-ch
		closedBy(t, err, nil)
		if !strings.Contains(err.Error(), fmt.Sprintf("holds %d names", len(names))) {
			t.Errorf("err %q", err)
		}
	}
}

// TestClientStreamEnd: the server's end of the stream closing, cleanly
// or with an error, or inside a packet.
func TestClientStreamEnd(t *testing.T) {
	boom := errors.New("boom")
	for _, tt := range []struct {
		name string
		end  func(f *fakeServer)
		why  error
	}{
		{"EOF", func(f *fakeServer) { f.out.Close() }, io.EOF},
		{"a read error", func(f *fakeServer) { f.out.CloseWithError(boom) }, boom},
		{"inside a packet", func(f *fakeServer) { f.send([]byte{0, 0, 0, 9, fxpStatus}); f.out.Close() }, nil},
		{"the server stops reading", func(f *fakeServer) { f.in.CloseWithError(boom) }, boom},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, f := startFake(t, Options{})
			ch := goStat(context.Background(), c, "x")
			f.expect(fxpStat)
			tt.end(f)
			if tt.name == "the server stops reading" {
				// The pending call waits on; the next one's write fails.
				closedBy(t, await(t, goStat(context.Background(), c, "y")).err, tt.why)
			}
			closedBy(t, await(t, ch).err, tt.why)
			closedBy(t, c.Err(), tt.why)
			c.Close()
			checkNoLeaks(t)
		})
	}
}

// TestClientRequestTooLong: a path that cannot go in one packet is the
// caller's error; the client goes on.
func TestClientRequestTooLong(t *testing.T) {
	c, f := startFake(t, Options{})
	_, err := c.Stat(context.Background(), strings.Repeat("x", MaxPacket))
	if !errors.Is(err, errRequestTooLong) {
		t.Fatalf("err %v", err)
	}
	ch := goStat(context.Background(), c, "x")
	f.send(attrsPacket(f.expect(fxpStat).id, Attrs{}))
	if got := await(t, ch); got.err != nil {
		t.Fatal(got.err)
	}
}
