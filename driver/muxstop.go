package driver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// Stopping a dead sftper's ControlMaster.
//
// Where there is no Pdeathsig (macOS), the `ssh -N` ControlMaster that a
// sftper started outlives that sftper when it is killed: idle, holding its
// connection open, listening on its control socket (cm<N>) in the dead
// sftper's private directory. Before the next sftper removes that directory
// (sweepDirs, in leftovers.go) it asks such a master to exit, as
// `ssh -O exit` would.
//
// stopMaster speaks the multiplexing protocol itself (PROTOCOL.mux in
// openssh-portable; mux.c, mux_client_hello_exchange and
// mux_client_request_terminate, is the client side): a hello each way,
// then MUX_C_TERMINATE. Running `ssh -O exit` instead would need the
// user's ssh program and its configuration, and a destination argument
// that the dead sftper's directory does not record; the socket alone is
// enough here. Nothing secret is sent, and nothing needs to be proven: the
// master itself refuses a peer that is neither its own uid nor root
// (getpeereid, channels.c), and the socket lies in a directory (0700) of
// sftper's user.
//
// The socket is handled with package syscall, not net, for the reason
// given in askpass.go.

// The protocol's numbers (PROTOCOL.mux, section 11).
const (
	muxMsgHello          = 0x00000001
	muxCTerminate        = 0x10000005
	muxSOK               = 0x80000001
	muxSPermissionDenied = 0x80000002
	muxSFailure          = 0x80000003

	muxVersion = 4 // SSHMUX_VER, clientloop.h
)

const (
	// muxPacketMax bounds one packet from the master, before anything is
	// allocated for it. The master refuses larger ones from its clients
	// (CHANNEL_MUX_MAX_PACKET in channels.c); its own are a few bytes.
	muxPacketMax = 256 << 10

	// muxRequestID is the request id of our only request. Any value
	// would do: the reply must carry it back.
	muxRequestID = 1
)

// errNoMaster means nothing listens at the path: no such file, or a
// socket that refuses connections (ECONNREFUSED: its master is gone).
// There is nothing to stop, and the socket can be removed.
var errNoMaster = errors.New("no ControlMaster listening")

// muxRefusedError is the master's answer no to MUX_C_TERMINATE:
// MUX_S_PERMISSION_DENIED (ControlMaster=ask, and the user said no) or
// MUX_S_FAILURE. The master is still running.
type muxRefusedError struct {
	denied bool   // MUX_S_PERMISSION_DENIED, else MUX_S_FAILURE
	reason string // as the master gave it
}

func (e *muxRefusedError) Error() string {
	if e.denied {
		return fmt.Sprintf("the ControlMaster refused to exit: %q", e.reason)
	}
	return fmt.Sprintf("the ControlMaster failed to exit: %q", e.reason)
}

// muxProtocolError means the peer did not speak the multiplexing
// protocol as OpenSSH's master does.
type muxProtocolError struct{ msg string }

func (e *muxProtocolError) Error() string { return "ControlMaster protocol: " + e.msg }

func muxProtocolErrorf(format string, args ...any) error {
	return &muxProtocolError{fmt.Sprintf(format, args...)}
}

// stopMaster asks the OpenSSH ControlMaster listening on the Unix socket at path to exit
// (what `ssh -O exit` does), speaking the multiplexing protocol itself rather than running ssh.
//
// It returns nil when the master has agreed to exit (MUX_S_OK), or has
// closed the connection after the request without a reply: the master
// may exit before its reply leaves (mux.c says so; OpenSSH 9.2's does,
// every time), and ssh -O exit takes that as success too. The master's
// exit may follow the return; it removes its socket on the way out. Errors: one wrapping errNoMaster
// (and the errno, ENOENT or ECONNREFUSED) when nothing listens there;
// *muxRefusedError when the master said no; *muxProtocolError when the
// peer does not speak the protocol; one wrapping os.ErrDeadlineExceeded
// when the whole exchange took longer than timeout; otherwise the
// system's error.
func stopMaster(path string, timeout time.Duration) error {
	conn, err := dialUnix(path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%s: %w (%w)", path, errNoMaster, err)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		// Not pollable: the exchange could not be bounded.
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := muxTerminate(conn); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("%s: no answer from the ControlMaster within %v: %w", path, timeout, err)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// dialUnix connects to the Unix socket at path. The file is non-blocking,
// in Go's poller, so that its deadlines work.
func dialUnix(path string) (*os.File, error) {
	// No SOCK_CLOEXEC on macOS: close-on-exec is set under ForkLock, so
	// that no child started meanwhile inherits the socket.
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("socket: %w", err)
	}
	// A Unix socket connects at once or not at all (Linux says EAGAIN
	// when the listener's backlog is full: an error here, not a wait).
	for {
		err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: path})
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EISCONN { // an interrupted connect that went through
		err = nil
	}
	if err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("connect: %w", err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// muxTerminate is the client's side of one exchange on conn: hellos,
// then MUX_C_TERMINATE and its reply.
func muxTerminate(conn io.ReadWriter) error {
	if err := writeMuxPacket(conn, muxMsgHello, muxVersion); err != nil {
		return fmt.Errorf("sending hello: %w", err)
	}
	hello, err := readMuxPacket(conn)
	if err == io.EOF {
		return muxProtocolErrorf("the master closed the connection before its hello")
	}
	if err != nil {
		return fmt.Errorf("reading the master's hello: %w", err)
	}
	if err := checkMuxHello(hello); err != nil {
		return err
	}
	if err := writeMuxPacket(conn, muxCTerminate, muxRequestID); err != nil {
		return fmt.Errorf("sending the terminate request: %w", err)
	}
	reply, err := readMuxPacket(conn)
	if err == io.EOF {
		return nil // gone before its reply, as ssh -O exit allows
	}
	if err != nil {
		return fmt.Errorf("reading the reply to terminate: %w", err)
	}
	return parseMuxTerminateReply(reply)
}

// writeMuxPacket writes one packet of uint32 fields.
func writeMuxPacket(w io.Writer, fields ...uint32) error {
	b := binary.BigEndian.AppendUint32(nil, uint32(4*len(fields)))
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, f)
	}
	_, err := w.Write(b)
	return err
}

// readMuxPacket reads one packet and returns its payload (type and body).
// The payload is at least a type long and at most muxPacketMax. It
// returns io.EOF only when the peer closed before the packet's first
// byte; a packet cut short is io.ErrUnexpectedEOF.
func readMuxPacket(r io.Reader) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n < 4 || n > muxPacketMax {
		return nil, muxProtocolErrorf("a packet of %d bytes (want 4 to %d)", n, muxPacketMax)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// checkMuxHello checks the master's hello: MUX_MSG_HELLO, version 4,
// then name/value string pairs. None are needed; current masters send
// "info".
func checkMuxHello(b []byte) error {
	typ, b, _ := cutUint32(b)
	if typ != muxMsgHello {
		return muxProtocolErrorf("message 0x%08x where the master's hello belongs", typ)
	}
	ver, b, ok := cutUint32(b)
	if !ok {
		return muxProtocolErrorf("a hello without a version")
	}
	if ver != muxVersion {
		return muxProtocolErrorf("version %d (want %d)", ver, muxVersion)
	}
	for len(b) > 0 {
		var okName, okValue bool
		_, b, okName = cutString(b)
		_, b, okValue = cutString(b)
		if !okName || !okValue {
			return muxProtocolErrorf("a malformed extension in the hello")
		}
	}
	return nil
}

// parseMuxTerminateReply reads the master's answer to MUX_C_TERMINATE.
func parseMuxTerminateReply(b []byte) error {
	typ, b, _ := cutUint32(b)
	rid, b, ok := cutUint32(b)
	if !ok {
		return muxProtocolErrorf("a reply (0x%08x) without a request id", typ)
	}
	if rid != muxRequestID {
		return muxProtocolErrorf("a reply (0x%08x) to request %d, not ours (%d)", typ, rid, muxRequestID)
	}
	switch typ {
	case muxSOK:
		return nil
	case muxSPermissionDenied, muxSFailure:
		reason, _, ok := cutString(b)
		if !ok {
			return muxProtocolErrorf("a refusal (0x%08x) without a reason", typ)
		}
		return &muxRefusedError{denied: typ == muxSPermissionDenied, reason: string(reason)}
	}
	return muxProtocolErrorf("reply 0x%08x to terminate", typ)
}

// cutUint32 splits a big-endian uint32 off the front of b.
func cutUint32(b []byte) (uint32, []byte, bool) {
	if len(b) < 4 {
		return 0, b, false
	}
	return binary.BigEndian.Uint32(b), b[4:], true
}

// cutString splits an SSH string (uint32 length, bytes) off the front
// of b.
func cutString(b []byte) ([]byte, []byte, bool) {
	n, rest, ok := cutUint32(b)
	if !ok || uint64(n) > uint64(len(rest)) {
		return nil, b, false
	}
	return rest[:n], rest[n:], true
}
