package sftpwire

import (
	"context"
	"fmt"
	"io"
)

// Files, read and written through handles.
//
// The errors are those of the path requests (paths.go): the server's
// *StatusError, an error wrapping ErrUnsupported for an extension not
// announced, ctx's error wrapped, a *ClosedError once the client is
// closed; and for Read, io.EOF.

// Handle is a file handle from Open: the server's bytes, opaque. It is
// the server's until CloseHandle, and good only on the client that
// opened it.
type Handle string

// Open's pflags (SSH_FXF_* of draft-02, section 6.3). Draft-02 has
// FlagTrunc and FlagExcl used only with FlagCreate; with FlagExcl an
// existing file is refused. FlagAppend makes every write go to the end of
// the file, whatever its offset.
const (
	FlagRead   uint32 = 0x00000001
	FlagWrite  uint32 = 0x00000002
	FlagAppend uint32 = 0x00000004
	FlagCreate uint32 = 0x00000008
	FlagTrunc  uint32 = 0x00000010
	FlagExcl   uint32 = 0x00000020
)

// Open is SSH_FXP_OPEN: it opens path with pflags (FlagRead and the
// others) and returns the server's handle, which the caller must close
// with CloseHandle. A new file gets the attributes a has flags for (a
// zero Attrs sends none: OpenSSH's server then creates it 0666 less its
// umask, and uses only a's permissions in any case). An Attrs with flags
// draft-02 does not define is refused before sending (see Setstat).
//
// A handle whose answer comes after ctx has ended is never returned, and
// stays open on the server until the session ends.
func (c *Client) Open(ctx context.Context, path string, pflags uint32, a Attrs) (Handle, error) {
	if err := checkAttrs(a); err != nil {
		return "", fmt.Errorf("SFTP %s: %w", opOpen, err)
	}
	pkt := opOpen.begin(4 + len(path) + 4 + attrsSize(&a))
	pkt = appendAttrs(appendUint32(appendString(pkt, path), pflags), &a)
	r, err := c.roundTrip(ctx, opOpen, pkt)
	if err != nil {
		return "", err
	}
	if r.typ == fxpStatus {
		return "", c.refusal(opOpen, r)
	}
	return Handle(r.handle), nil
}

// CloseHandle is SSH_FXP_CLOSE: it closes h and returns what the server
// answered: a refusal of a CLOSE after writes can mean that what was
// written did not all reach the file (a failed close(2) on the server).
// Unlike the CLOSE that ReadDir sends, it is sent only while ctx lasts,
// like any request: with ctx ended, nothing is sent and h stays open.
func (c *Client) CloseHandle(ctx context.Context, h Handle) error {
	return c.do(ctx, opClose, opClose.strings(string(h)))
}

// MaxReadLength is the most Read may ask for: the length of the longest
// DATA that fits in MaxPacket (less its type, id and the data's length).
// Servers may send less: OpenSSH's sends at most 255 KiB
// (SFTP_MAX_READ_LENGTH; limits@openssh.com says so), while the Green End
// server answers a READ of MaxReadLength in full.
const MaxReadLength = MaxPacket - 1 - 4 - 4

// errReadTooLong is a Read of more than MaxReadLength: its answer could
// be longer than this client accepts.
var errReadTooLong = fmt.Errorf("sftpwire: a READ of more than %d bytes, which a DATA packet of at most %d bytes cannot answer", MaxReadLength, MaxPacket)

// Read is SSH_FXP_READ: up to length bytes of h from offset. The server
// may send fewer than asked (it has its own limit, see MaxReadLength),
// and that is not the end of the file; the end is io.EOF (SSH_FX_EOF).
// An empty DATA is taken for io.EOF too, as ReadDir takes an empty NAME
// for the end: neither server here sends one, and a caller reading on
// would loop for ever on a server that did.
//
// A length of 0 sends nothing and returns no bytes and no error, as an
// io.Reader does for an empty buffer; a length over MaxReadLength is
// refused, nothing sent. A DATA longer than length is a *ProtocolError
// and closes the client.
func (c *Client) Read(ctx context.Context, h Handle, offset uint64, length uint32) ([]byte, error) {
	if length > MaxReadLength {
		return nil, fmt.Errorf("SFTP %s: %w", opRead, errReadTooLong)
	}
	if length == 0 {
		return nil, nil
	}
	pkt := opRead.begin(4 + len(h) + 8 + 4)
	pkt = appendUint32(appendUint64(appendString(pkt, string(h)), offset), length)
	r, err := c.roundTrip(ctx, opRead, pkt)
	if err != nil {
		return nil, err
	}
	if r.typ == fxpStatus {
		if r.status.Code == EOF {
			return nil, io.EOF
		}
		return nil, c.refusal(opRead, r)
	}
	if uint64(len(r.data)) > uint64(length) {
		return nil, c.broken(&ProtocolError{fmt.Sprintf("the answer to READ (id %d) holds %d bytes, more than the %d asked for", r.id, len(r.data), length)})
	}
	if len(r.data) == 0 {
		return nil, io.EOF
	}
	return r.data, nil
}

// Write is SSH_FXP_WRITE: data written to h at offset (at the end of the
// file if h was opened with FlagAppend). The server writes it all or
// refuses; a short write on its side is SSH_FX_FAILURE.
//
// A request that would not fit in MaxPacket is refused, nothing sent.
// Servers accept far less: OpenSSH's ends the session on a packet longer
// than 256 KiB (SFTP_MAX_MSG_LENGTH), so data should be cut into pieces
// of no more than that less the request's own bytes; OpenSSH's sftp
// writes 32 KiB at a time, or what limits@openssh.com allows.
func (c *Client) Write(ctx context.Context, h Handle, offset uint64, data []byte) error {
	n := 4 + len(h) + 8 + 4 + len(data)
	if n > MaxPacket {
		// Before the buffer is made: data could be any size.
		return fmt.Errorf("SFTP %s: %w", opWrite, errRequestTooLong)
	}
	pkt := opWrite.begin(n)
	pkt = appendBytes(appendUint64(appendString(pkt, string(h)), offset), data)
	return c.do(ctx, opWrite, pkt)
}

// Fstat is SSH_FXP_FSTAT: the attributes of the open file h.
func (c *Client) Fstat(ctx context.Context, h Handle) (Attrs, error) {
	return c.attrs(ctx, opFstat, opFstat.strings(string(h)))
}

// Fsync is fsync@openssh.com: fsync(2) of h on the server, so that what
// was written to it is on the disk when it returns nil. An error wrapping
// ErrUnsupported, with nothing sent, when the server did not announce the
// extension.
func (c *Client) Fsync(ctx context.Context, h Handle) error {
	if err := c.supports(opFsync); err != nil {
		return err
	}
	return c.do(ctx, opFsync, opFsync.strings(string(h)))
}
