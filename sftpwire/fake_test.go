package sftpwire

import (
	"encoding/binary"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// A fake server on an in-memory stream (io.Pipe), for what a real server
// will not do: answer late, in the wrong order, with the wrong id, with
// garbage, or never.

// pipeEnd is the client's end of the stream. Close closes both
// directions, which ends a Read blocked on the pipe, as closing an
// os.File pipe does.
type pipeEnd struct {
	r      *io.PipeReader
	w      *io.PipeWriter
	once   sync.Once
	closed chan struct{}
}

func (p *pipeEnd) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *pipeEnd) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeEnd) Close() error {
	p.once.Do(func() {
		p.r.Close()
		p.w.Close()
		close(p.closed)
	})
	return nil
}

// isClosed reports whether the client closed its end.
func (p *pipeEnd) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

// fakeServer is the server's end.
type fakeServer struct {
	t      testing.TB
	in     *io.PipeReader // what the client writes
	out    *io.PipeWriter // what the client reads
	client *pipeEnd

	reqs     chan fakeRequest // the requests read, in order; closed when the stream ends
	started  bool             // startReading was called
	readDone chan struct{}
}

// fakeRequest is one packet the client wrote.
type fakeRequest struct {
	raw []byte // the whole packet, length included
	typ byte
	id  uint32 // the version, for INIT
	arg string // the first string after the id: a path, a handle, or an EXTENDED request's name
}

// newFake makes a stream with a fake server at one end and returns both
// ends; nothing is read or written yet.
func newFake(t testing.TB) (*fakeServer, *pipeEnd) {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	end := &pipeEnd{r: cr, w: cw, closed: make(chan struct{})}
	f := &fakeServer{t: t, in: sr, out: sw, client: end, reqs: make(chan fakeRequest, 1000), readDone: make(chan struct{})}
	t.Cleanup(func() {
		end.Close()
		sr.Close()
		sw.Close()
		if f.started {
			<-f.readDone
		}
	})
	return f, end
}

// startReading reads the client's packets into f.reqs until the stream
// ends. Until it is called the client's writes block, as they would on a
// server that does not read.
func (f *fakeServer) startReading() {
	f.started = true
	go func() {
		defer close(f.readDone)
		defer close(f.reqs)
		for {
			var head [4]byte
			if _, err := io.ReadFull(f.in, head[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(head[:])
			body := make([]byte, n)
			if _, err := io.ReadFull(f.in, body); err != nil {
				return
			}
			r := fakeRequest{raw: cat(head[:], body), typ: body[0]}
			d := decoder{b: body[1:], what: "request"}
			r.id = d.uint32("id")
			if r.typ != fxpInit {
				r.arg = d.string("arg")
			}
			f.reqs <- r
		}
	}()
}

// next is the client's next request; the test fails if none comes soon.
func (f *fakeServer) next() fakeRequest {
	f.t.Helper()
	select {
	case r, ok := <-f.reqs:
		if !ok {
			f.t.Fatal("the stream ended; no request came")
		}
		return r
	case <-time.After(10 * time.Second):
		f.t.Fatal("no request came within 10 s")
	}
	panic("unreachable")
}

// expect is next, checked to be of type typ.
func (f *fakeServer) expect(typ byte) fakeRequest {
	f.t.Helper()
	r := f.next()
	if r.typ != typ {
		f.t.Fatalf("the client sent %s, want %s", typeName(r.typ), typeName(typ))
	}
	return r
}

// send writes b to the client. A client that has closed its end makes
// the write fail; that is no failure of the test.
func (f *fakeServer) send(b []byte) { f.out.Write(b) }

// serverVersion is what the fake answers INIT with.
var serverVersion = Version{Version: 3, Extensions: []Extension{{"fake@example.com", "1"}}}

// startFake starts a fake server that answers INIT with serverVersion,
// and a client on it.
func startFake(t testing.TB, opts Options) (*Client, *fakeServer) {
	t.Helper()
	return startFakeVersion(t, opts, serverVersion)
}

// startFakeVersion is startFake with the server answering INIT with v.
func startFakeVersion(t testing.TB, opts Options, v Version) (*Client, *fakeServer) {
	t.Helper()
	f, end := newFake(t)
	f.startReading()
	go func() {
		if r, ok := <-f.reqs; ok && r.typ == fxpInit {
			f.send(versionPacket(v))
		}
	}()
	c, err := NewClient(end, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, f
}

// checkNoLeaks fails the test if a goroutine of a Client is still
// running: once Close has returned and the stream has ended, nothing of
// the client may run. A goroutine that has just closed readerDone can
// still be on its way out, so this waits a moment for it.
func checkNoLeaks(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var left []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "sftpwire.(*Client)") && !strings.Contains(g, "checkNoLeaks") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines of the client still running after Close:\n%s", strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
