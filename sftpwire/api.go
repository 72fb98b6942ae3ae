package sftpwire

// CONTRACT (the helper replaces this file with packet.go, attrs.go,
// status.go and client.go holding these same exported names).

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/sftper/sftper/proto"
)

// MaxPacket is the longest packet accepted from the peer (its length
// field), in bytes.
const MaxPacket = 1 << 20

// Code is an SFTP status code (SSH_FX_*), v3's and those of later drafts
// that some servers send whatever version was agreed.
type Code uint32

const (
	OK                Code = 0
	EOF               Code = 1
	NoSuchFile        Code = 2
	PermissionDenied  Code = 3
	Failure           Code = 4
	BadMessage        Code = 5
	NoConnection      Code = 6
	ConnectionLost    Code = 7
	OpUnsupported     Code = 8
	InvalidHandle     Code = 9
	NoSuchPath        Code = 10
	FileAlreadyExists Code = 11
	WriteProtect      Code = 12
	NoMedia           Code = 13
	NoSpaceOnFS       Code = 14
	QuotaExceeded     Code = 15
	UnknownPrincipal  Code = 16
	LockConflict      Code = 17
	DirNotEmpty       Code = 18
	NotADirectory     Code = 19
	InvalidFilename   Code = 20
	LinkLoop          Code = 21
	CannotDelete      Code = 22
	InvalidParameter  Code = 23
	FileIsADirectory  Code = 24
)

// String is the code's name in the drafts, "SSH_FX_NO_SUCH_FILE", or
// "SSH_FX_(N)" for one no draft names.
func (c Code) String() string { panic("contract") }

// Kind is what the code means for a client (see proto.Kind).
func (c Code) Kind() proto.Kind { panic("contract") }

// CodeOfText returns the status code whose text OpenSSH's sftp prints
// (fx2txt in sftp-common.c: "No such file or directory" is
// SSH_FX_NO_SUCH_FILE); false for "Unknown status" and any other text.
func CodeOfText(text string) (Code, bool) { panic("contract") }

// StatusError is a request the server answered with a status other than
// OK (or EOF where the call documents EOF as io.EOF).
type StatusError struct {
	Code    Code
	Message string // the server's own text, as sent (may be empty)
	Lang    string
}

// Error is the server's message, else the code's name.
func (e *StatusError) Error() string { panic("contract") }

// ErrorKind is e.Code.Kind().
func (e *StatusError) ErrorKind() proto.Kind { panic("contract") }

// Attribute flags: which fields of Attrs the server sent.
const (
	AttrSize        uint32 = 0x00000001
	AttrUIDGID      uint32 = 0x00000002
	AttrPermissions uint32 = 0x00000004
	AttrACModTime   uint32 = 0x00000008
	AttrExtended    uint32 = 0x80000000
)

// Attrs are a file's attributes as the server sent them; a field is valid
// only when Flags has its bit.
type Attrs struct {
	Flags        uint32
	Size         uint64
	UID, GID     uint32
	Permissions  uint32 // the full st_mode as OpenSSH sends it: type bits too
	Atime, Mtime uint32 // Unix seconds
	Extended     []Extension
}

// Has reports whether the server sent the fields of flag.
func (a *Attrs) Has(flag uint32) bool { return a.Flags&flag == flag }

// Extension is a name and its data, as in VERSION and extended attributes.
type Extension struct{ Name, Data string }

// Name is one entry of a NAME packet.
type Name struct {
	Name     string // exact bytes
	Longname string // the server's ls -l style line (its format is the server's own)
	Attrs    Attrs
}

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

// Options tune a Client.
type Options struct {
	// Timeout bounds the wait for each answer (VERSION included); when
	// it passes, the client closes (see ErrTimeout). Zero: no bound.
	Timeout time.Duration
}

// Client is one SFTP v3 session over rw, safe for concurrent use:
// requests are sent as they come, with ids of their own, and answered as
// the server answers them.
type Client struct{}

// NewClient sends INIT (version 3) on rw and waits for the server's
// VERSION. Closing the client closes rw.
func NewClient(rw io.ReadWriteCloser, opts Options) (*Client, error) { panic("contract") }

// Version is what the server answered INIT with.
func (c *Client) Version() Version { panic("contract") }

// Stat is SSH_FXP_STAT (follows symlinks); Lstat is SSH_FXP_LSTAT.
func (c *Client) Stat(ctx context.Context, path string) (Attrs, error) { panic("contract") }
func (c *Client) Lstat(ctx context.Context, path string) (Attrs, error) {
	panic("contract")
}

// ReadDir lists the directory path: OPENDIR, READDIR until EOF, CLOSE.
// Every entry the server sends is returned, "." and ".." included, in the
// server's order.
func (c *Client) ReadDir(ctx context.Context, path string) ([]Name, error) { panic("contract") }

// RealPath is SSH_FXP_REALPATH.
func (c *Client) RealPath(ctx context.Context, path string) (string, error) { panic("contract") }

// Done is closed once the client is closed (by Close or because the
// stream ended); Err then says why.
func (c *Client) Done() <-chan struct{} { panic("contract") }
func (c *Client) Err() error            { panic("contract") }

// Close closes rw; calls in flight fail with a *ClosedError.
func (c *Client) Close() error { panic("contract") }
