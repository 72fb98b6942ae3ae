package sftpwire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/sftper/sftper/proto"
)

// Version is the server's answer to INIT.
type Version struct {
	Version    uint32
	Extensions []Extension
}

// ErrTimeout: a request was not answered within the client's timeout; the
// client is closed.
var ErrTimeout = errors.New("the server did not answer in time")

// ProtocolError is a packet that breaks the protocol (too long, cut
// short, of a type not expected, an id nobody asked for); the client is
// closed.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "SFTP protocol error: " + e.Msg }

// ClosedError is every call's error once the stream has ended or the
// client is closed: Err says why (io.EOF, a read error, ErrTimeout, a
// *ProtocolError, or ErrClientClosed after Close).
type ClosedError struct{ Err error }

func (e *ClosedError) Error() string { return "SFTP stream ended: " + e.Err.Error() }
func (e *ClosedError) Unwrap() error { return e.Err }

// ErrClientClosed is why calls fail after Close.
var ErrClientClosed = errors.New("client closed")

// ErrUnsupported is wrapped by the error of a request that needs an
// extension the server did not announce in VERSION (or announced in a
// version other than the one this client speaks): nothing was sent, and
// the client goes on. A *StatusError with SSH_FX_OP_UNSUPPORTED (the
// server was asked and said it does not do that) matches it too.
//
// Its proto.Kind is KindUnsupported.
var ErrUnsupported error = &proto.Error{Kind: proto.KindUnsupported, Msg: "the server does not support this request"}

// Options tune a Client.
type Options struct {
	// Timeout bounds the wait for each answer (VERSION included); when
	// it passes, the client closes (see ErrTimeout). Zero: no bound.
	Timeout time.Duration
}

// protocolVersion is the version this client asks for and can read:
// draft-02's, the one OpenSSH speaks. Later versions change ATTRS.
const protocolVersion = 3

// Client is one SFTP v3 session over rw, safe for concurrent use:
// requests are sent as they come, with ids of their own, and answered as
// the server answers them.
//
// One goroutine reads the stream and hands each answer to the call
// waiting for its id; answers are decoded there, so a malformed one ends
// the client however many calls are waiting. Requests are written whole,
// one Write each, one writer at a time.
type Client struct {
	rw      io.ReadWriteCloser
	timeout time.Duration
	version Version // set by the reader before NewClient returns, then only read

	// wlock holds a token while a request is being written. A channel,
	// not a mutex, so that a call waiting for its turn still sees its
	// ctx end and the client close.
	wlock chan struct{}

	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]*call // requests sent and not yet answered
	closed  *ClosedError     // why the client ended; nil while it runs

	done       chan struct{} // closed once closed is set and rw is closed
	readerDone chan struct{} // closed when the reader has returned
	closeOnce  sync.Once
	closeErr   error // rw.Close's
}

// call is a request waiting for its answer.
type call struct {
	op    op // what was asked: for messages, and the answer's type
	reply chan response
}

// NewClient sends INIT (version 3) on rw and waits for the server's
// VERSION. Closing the client closes rw.
//
// When it fails, rw is closed too: the stream is then in no state to be
// used (half a packet may have been read), and closing it is what ends
// the goroutine reading it; as Close does, NewClient waits for that
// goroutine, so rw's Close must make a blocked Read return (pipes and
// os.File do). The error is a *ClosedError saying why: the
// stream's end or error, ErrTimeout when VERSION did not come within
// opts.Timeout, or a *ProtocolError (the first packet is not a VERSION,
// or names a version other than 3; a login shell's greeting on the
// channel shows up here as an oversize packet).
func NewClient(rw io.ReadWriteCloser, opts Options) (*Client, error) {
	c := &Client{
		rw:         rw,
		timeout:    opts.Timeout,
		wlock:      make(chan struct{}, 1),
		nextID:     1,
		pending:    make(map[uint32]*call),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	stop := c.startTimer()
	defer stop()
	versioned := make(chan error, 1)
	go c.read(versioned)

	init, err := finishPacket(appendUint32(beginPacket(fxpInit), protocolVersion))
	if err == nil {
		_, err = rw.Write(init)
	}
	if err != nil {
		c.shutdown(err)
	} else {
		select {
		case err := <-versioned:
			if err != nil {
				c.shutdown(err)
			}
		case <-c.done: // the timeout
		}
	}
	if err := c.Err(); err != nil {
		<-c.readerDone
		return nil, err
	}
	return c, nil
}

// ModSFTP reports whether the server may be ProFTPD's mod_sftp, whose
// quirks its clients must make up for (it follows symlinks on LSTAT,
// resolves READLINK's answer, ignores a SETSTAT to mode 0, and mixes up
// the packets of two channels that carry data at once): it announces the
// "versions" extension in a version 3 VERSION, as OpenSSH's server and the
// Green End server do not. mod_sftp says its name nowhere else in SFTP (no
// "vendor-id"); a server that announces "versions" is taken for it.
func (v Version) ModSFTP() bool {
	for _, e := range v.Extensions {
		if e.Name == "versions" {
			return true
		}
	}
	return false
}

// Version is what the server answered INIT with.
func (c *Client) Version() Version {
	v := c.version
	v.Extensions = slices.Clone(v.Extensions)
	return v
}

// Stat is SSH_FXP_STAT (follows symlinks); Lstat is SSH_FXP_LSTAT.
//
// A path the server refuses is a *StatusError; see ReadDir for the other
// errors.
func (c *Client) Stat(ctx context.Context, path string) (Attrs, error) {
	return c.attrs(ctx, opStat, opStat.strings(path))
}

func (c *Client) Lstat(ctx context.Context, path string) (Attrs, error) {
	return c.attrs(ctx, opLstat, opLstat.strings(path))
}

// attrs sends a request answered with ATTRS and returns them.
func (c *Client) attrs(ctx context.Context, o op, pkt []byte) (Attrs, error) {
	r, err := c.roundTrip(ctx, o, pkt)
	if err != nil {
		return Attrs{}, err
	}
	if r.typ == fxpStatus {
		return Attrs{}, c.refusal(o, r)
	}
	return r.attrs, nil
}

// ReadDir lists the directory path: OPENDIR, READDIR until EOF, CLOSE.
// Every entry the server sends is returned, "." and ".." included, in the
// server's order.
//
// A NAME packet with no entries ends the listing as EOF does (OpenSSH's
// sftp does the same; the draft says READDIR returns at least one name,
// and a server that kept sending none would otherwise loop forever).
//
// The CLOSE is sent after a complete listing and after a failed one
// alike, and its answer is waited for while ctx lasts, so that a Close
// right after ReadDir does not leave the server answering into a closed
// stream. What it answers is ignored: a listing that reached EOF is
// complete whatever CLOSE says (a server that failed to close a handle
// has a problem of its own, not a shorter listing), and even when the
// client closes while waiting for it, the listing is returned and the
// next call reports the end. When ctx has ended, CLOSE is sent without
// waiting; the reader still checks its answer (a STATUS) and drops it.
//
// The errors: a *StatusError for a request the server refused (a READDIR
// refused midway fails the whole listing: a part is not returned); ctx's
// error, wrapped, when ctx ends first; a *ClosedError once the client is
// closed, for whatever reason. A call that ctx ended has its answer
// dropped when it comes. A call stuck writing its request (the server is
// not reading) returns only when the write ends or the timeout closes
// the client, since half a packet cannot be taken back.
func (c *Client) ReadDir(ctx context.Context, path string) ([]Name, error) {
	r, err := c.roundTrip(ctx, opOpendir, opOpendir.strings(path))
	if err != nil {
		return nil, err
	}
	if r.typ == fxpStatus {
		return nil, c.refusal(opOpendir, r)
	}
	handle := r.handle
	defer c.closeHandle(ctx, handle)
	var names []Name
	for {
		r, err := c.roundTrip(ctx, opReaddir, opReaddir.strings(handle))
		if err != nil {
			return nil, err
		}
		if r.typ == fxpStatus {
			if r.status.Code == EOF {
				return names, nil
			}
			return nil, c.refusal(opReaddir, r)
		}
		if len(r.names) == 0 {
			return names, nil
		}
		names = append(names, r.names...)
	}
}

// RealPath is SSH_FXP_REALPATH.
//
// The server must answer with exactly one name; any other number is a
// *ProtocolError and closes the client. See ReadDir for the errors.
func (c *Client) RealPath(ctx context.Context, path string) (string, error) {
	return c.oneName(ctx, opRealpath, path)
}

// ReadLink is SSH_FXP_READLINK: the target a symlink holds. As for
// RealPath, an answer of other than one name is a *ProtocolError.
func (c *Client) ReadLink(ctx context.Context, path string) (string, error) {
	return c.oneName(ctx, opReadlink, path)
}

// oneName sends a request for path answered with NAME, which must hold
// exactly one name, and returns it.
func (c *Client) oneName(ctx context.Context, o op, path string) (string, error) {
	r, err := c.roundTrip(ctx, o, o.strings(path))
	if err != nil {
		return "", err
	}
	if r.typ == fxpStatus {
		return "", c.refusal(o, r)
	}
	if len(r.names) != 1 {
		return "", c.broken(&ProtocolError{fmt.Sprintf("the answer to %s (id %d) holds %d names, not 1", o, r.id, len(r.names))})
	}
	return r.names[0].Name, nil
}

// Has reports whether the server announced the extension ext in VERSION,
// whatever its data.
func (c *Client) Has(ext string) bool {
	_, ok := c.extension(ext)
	return ok
}

// extension is the data of the extension ext as VERSION announced it,
// the first time if more than once.
func (c *Client) extension(ext string) (string, bool) {
	for _, e := range c.version.Extensions {
		if e.Name == ext {
			return e.Data, true
		}
	}
	return "", false
}

// supports is nil when the server announced o's extension in the version
// o is written in, else the error saying it did not.
func (c *Client) supports(o op) error {
	v, ok := c.extension(o.ext)
	switch {
	case !ok:
		return fmt.Errorf("SFTP %s: the server did not announce it: %w", o, ErrUnsupported)
	case v != o.extVersion:
		return fmt.Errorf("SFTP %s: the server announced version %q; this client speaks %q: %w", o, v, o.extVersion, ErrUnsupported)
	}
	return nil
}

// do sends a request answered by STATUS alone: nil for OK, the server's
// *StatusError otherwise.
func (c *Client) do(ctx context.Context, o op, pkt []byte) error {
	r, err := c.roundTrip(ctx, o, pkt)
	if err != nil {
		return err
	}
	if r.status.Code != OK {
		se := r.status
		return &se
	}
	return nil
}

// Done is closed once the client is closed (by Close or because the
// stream ended); Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is nil while the client runs, then the *ClosedError every call
// fails with (errors.Is(err, ErrTimeout) and the like hold on it).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == nil {
		return nil
	}
	return c.closed
}

// Close closes rw; calls in flight fail with a *ClosedError.
//
// It returns once the reader goroutine has ended, so it relies on rw's
// Close making a blocked Read return (pipes and os.File do). It may be
// called more than once, from any goroutine; each returns rw.Close's
// error, which is the only error Close reports. A client already closed
// by the stream's end or a timeout has closed rw itself, and Close then
// changes nothing.
func (c *Client) Close() error {
	c.shutdown(ErrClientClosed)
	<-c.readerDone
	return c.closeErr
}

// shutdown closes the client for the reason why, unless it is already
// closed (then the first reason stays), and closes rw, which ends the
// reader and any write in progress. Every waiting call wakes on done.
//
// The order matters: the reason is set first, so that the read error
// that closing rw causes cannot take its place; done is closed last, so
// that a call that has failed (and anyone watching Done) finds rw
// closed already.
func (c *Client) shutdown(why error) {
	c.mu.Lock()
	if c.closed == nil {
		c.closed = &ClosedError{Err: why}
	}
	c.mu.Unlock()
	// Once, not a flag: a second caller waits for the first's Close to
	// return, so that Close always reports rw.Close's result.
	c.closeOnce.Do(func() {
		c.closeErr = c.rw.Close()
		close(c.done)
	})
}

// broken closes the client for a protocol error a call found and
// returns the call's error.
func (c *Client) broken(err *ProtocolError) error {
	c.shutdown(err)
	return c.Err()
}

// refusal is the error for a STATUS answering a request that asks for
// data: the server's *StatusError, or, for OK (success, and none of the
// data asked for), a protocol error.
func (c *Client) refusal(o op, r response) error {
	if r.status.Code == OK {
		return c.broken(&ProtocolError{fmt.Sprintf("the answer to %s (id %d) is STATUS OK, without the %s asked for", o, r.id, typeName(o.want))})
	}
	se := r.status
	return &se
}

// startTimer bounds the call that is starting by the client's timeout:
// when it passes before stop is called, the client closes with
// ErrTimeout. A timer that closes the client, rather than one the call
// selects on, also bounds a write stuck in the middle of a packet.
func (c *Client) startTimer() (stop func()) {
	if c.timeout <= 0 {
		return func() {}
	}
	t := time.AfterFunc(c.timeout, func() { c.shutdown(ErrTimeout) })
	return func() { t.Stop() }
}

// roundTrip sends the request pkt, built by o.begin, and waits for the
// answer, which the reader has checked is a STATUS or of type o.want.
func (c *Client) roundTrip(ctx context.Context, o op, pkt []byte) (response, error) {
	if err := ctx.Err(); err != nil {
		return response{}, ctxError(o, err)
	}
	stop := c.startTimer()
	defer stop()
	cl, err := c.send(ctx, o, pkt)
	if err != nil {
		return response{}, err
	}
	select {
	case r := <-cl.reply:
		return r, nil
	case <-ctx.Done():
		// The call stays pending: when its answer comes, the reader
		// checks it and puts it in reply, where nobody reads it.
		return response{}, ctxError(o, ctx.Err())
	case <-c.done:
		select {
		case r := <-cl.reply: // answered just before the end
			return r, nil
		default:
			return response{}, c.Err()
		}
	}
}

func ctxError(o op, err error) error {
	return fmt.Errorf("SFTP %s: %w", o, err)
}

// send registers a call for the request pkt (built by o.begin), gives it
// an id, and writes it. A request too long to send is the caller's
// error; nothing is sent and the client goes on.
func (c *Client) send(ctx context.Context, o op, pkt []byte) (*call, error) {
	pkt, err := finishPacket(pkt)
	if err != nil {
		return nil, fmt.Errorf("SFTP %s: %w", o, err)
	}
	c.mu.Lock()
	if c.closed != nil {
		c.mu.Unlock()
		return nil, c.Err()
	}
	id := c.nextID
	for id == 0 || c.pending[id] != nil {
		id++ // the ids have wrapped round, and this one is still unanswered
	}
	c.nextID = id + 1
	binary.BigEndian.PutUint32(pkt[idOffset:], id)
	cl := &call{op: o, reply: make(chan response, 1)}
	// Registered before it is written: the answer may come before
	// Write returns.
	c.pending[id] = cl
	c.mu.Unlock()

	select {
	case c.wlock <- struct{}{}:
	case <-ctx.Done():
		c.forget(id)
		return nil, ctxError(o, ctx.Err())
	case <-c.done:
		return nil, c.Err()
	}
	_, err = c.rw.Write(pkt)
	<-c.wlock
	if err != nil {
		c.shutdown(err)
		return nil, c.Err()
	}
	return cl, nil
}

// forget drops a call that was never sent: an answer to its id would be
// one nobody asked for.
func (c *Client) forget(id uint32) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// closeHandle sends CLOSE for handle and waits for the answer while ctx
// lasts, ignoring it (see ReadDir). It is sent even when ctx has ended:
// the handle is the server's to free either way. It then waits for its
// turn to write whatever ctx says; that turn is held only by a call in
// Write, and such a call is bounded by the timeout like this one.
func (c *Client) closeHandle(ctx context.Context, handle string) {
	if ctx.Err() == nil {
		c.roundTrip(ctx, opClose, opClose.strings(handle))
		return
	}
	stop := c.startTimer()
	defer stop()
	c.send(context.Background(), opClose, opClose.strings(handle))
}

// read is the reader goroutine: it reads VERSION and reports it on
// versioned, then reads answers and hands each to its call until the
// stream ends, a packet breaks the protocol or the client is closed.
func (c *Client) read(versioned chan<- error) {
	defer close(c.readerDone)
	typ, payload, err := readPacket(c.rw)
	if err == nil && typ != fxpVersion {
		err = &ProtocolError{fmt.Sprintf("the server's first packet is %s, not VERSION", typeName(typ))}
	}
	if err == nil {
		c.version, err = decodeVersion(payload)
	}
	if err == nil && c.version.Version != protocolVersion {
		err = &ProtocolError{fmt.Sprintf("the server speaks version %d; this client asked for %d and reads no other", c.version.Version, protocolVersion)}
	}
	versioned <- err
	if err != nil {
		return // NewClient closes the client
	}
	for {
		typ, payload, err := readPacket(c.rw)
		if err == nil {
			err = c.dispatch(typ, payload)
		}
		if err != nil {
			c.shutdown(err) // a no-op when Close is why the read failed
			return
		}
	}
}

// dispatch hands one answer to the call waiting for it, after checking
// that a call is waiting for its id and that its type is one that call
// can be answered with.
func (c *Client) dispatch(typ byte, payload []byte) error {
	if len(payload) < 4 {
		return &ProtocolError{fmt.Sprintf("a %s packet of %d bytes, too short for a request id", typeName(typ), len(payload)+1)}
	}
	id := binary.BigEndian.Uint32(payload)
	c.mu.Lock()
	cl, ok := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if !ok {
		return &ProtocolError{fmt.Sprintf("a %s packet for id %d, which no request is waiting with", typeName(typ), id)}
	}
	if typ != fxpStatus && (cl.op.want == 0 || typ != cl.op.want) {
		expected := "STATUS"
		if cl.op.want != 0 {
			expected = typeName(cl.op.want) + " or STATUS"
		}
		return &ProtocolError{fmt.Sprintf("a %s packet answers %s (id %d), which is answered with %s", typeName(typ), cl.op, id, expected)}
	}
	r, err := decodeResponse(typ, payload)
	if err != nil {
		return err
	}
	cl.reply <- r // buffered, and nothing else sends on it: never blocks
	return nil
}
