package sftpwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode"
)

// MaxPacket is the longest packet accepted from the peer (its length
// field), in bytes.
//
// OpenSSH's server sends at most 256 KiB (SFTP_MAX_MSG_LENGTH); a NAME
// packet for a directory read is well under that. Four times as much
// leaves room for other servers and still bounds what one packet costs.
const MaxPacket = 1 << 20

// The packet types of draft-02 that this package sends or reads (its
// section 3). The others are named only so that a message can say what
// came.
const (
	fxpInit          byte = 1
	fxpVersion       byte = 2
	fxpOpen          byte = 3
	fxpClose         byte = 4
	fxpRead          byte = 5
	fxpWrite         byte = 6
	fxpLstat         byte = 7
	fxpFstat         byte = 8
	fxpSetstat       byte = 9
	fxpFsetstat      byte = 10
	fxpOpendir       byte = 11
	fxpReaddir       byte = 12
	fxpRemove        byte = 13
	fxpMkdir         byte = 14
	fxpRmdir         byte = 15
	fxpRealpath      byte = 16
	fxpStat          byte = 17
	fxpRename        byte = 18
	fxpReadlink      byte = 19
	fxpSymlink       byte = 20
	fxpStatus        byte = 101
	fxpHandle        byte = 102
	fxpData          byte = 103
	fxpName          byte = 104
	fxpAttrs         byte = 105
	fxpExtended      byte = 200
	fxpExtendedReply byte = 201
)

var typeNames = map[byte]string{
	fxpInit: "INIT", fxpVersion: "VERSION", fxpOpen: "OPEN", fxpClose: "CLOSE",
	fxpRead: "READ", fxpWrite: "WRITE", fxpLstat: "LSTAT", fxpFstat: "FSTAT",
	fxpSetstat: "SETSTAT", fxpFsetstat: "FSETSTAT", fxpOpendir: "OPENDIR",
	fxpReaddir: "READDIR", fxpRemove: "REMOVE", fxpMkdir: "MKDIR", fxpRmdir: "RMDIR",
	fxpRealpath: "REALPATH", fxpStat: "STAT", fxpRename: "RENAME",
	fxpReadlink: "READLINK", fxpSymlink: "SYMLINK", fxpStatus: "STATUS",
	fxpHandle: "HANDLE", fxpData: "DATA", fxpName: "NAME", fxpAttrs: "ATTRS",
	fxpExtended: "EXTENDED", fxpExtendedReply: "EXTENDED_REPLY",
}

// typeName names a packet type for error messages, "type 77" for one
// draft-02 does not define.
func typeName(t byte) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type %d", t)
}

// readPacket reads one packet: its uint32 length, then that many bytes,
// the first of which is the type. The length is checked against
// MaxPacket before the body is allocated.
//
// The stream ending cleanly between packets is io.EOF; ending inside one
// is a *ProtocolError (the packet is cut short), since the server said
// more was coming. Other read errors come back as they are.
func readPacket(r io.Reader) (typ byte, payload []byte, err error) {
	var head [4]byte
	if n, err := io.ReadFull(r, head[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, &ProtocolError{fmt.Sprintf("the stream ended %d bytes into a packet's length", n)}
		}
		return 0, nil, err
	}
	length := binary.BigEndian.Uint32(head[:])
	switch {
	case length == 0:
		return 0, nil, &ProtocolError{"a packet of length 0 (it has no type)"}
	case length > MaxPacket:
		return 0, nil, &ProtocolError{fmt.Sprintf("a packet of %d bytes, longer than the %d accepted%s", length, MaxPacket, looksLikeText(head))}
	}
	body := make([]byte, length)
	if n, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, &ProtocolError{fmt.Sprintf("the stream ended %d bytes into a packet of %d", n, length)}
		}
		return 0, nil, err
	}
	return body[0], body[1:], nil
}

// looksLikeText adds a hint to the message for an oversize length made of
// printable characters: the usual cause is not a server but a login
// shell that prints a greeting on the channel before the server starts
// (OpenSSH's sftp says the same in the same case).
func looksLikeText(head [4]byte) string {
	for _, b := range head {
		if b >= 0x80 || !(unicode.IsPrint(rune(b)) || unicode.IsSpace(rune(b))) {
			return ""
		}
	}
	return fmt.Sprintf(" (its length is the text %q: does the remote shell print something for non-interactive sessions?)", head[:])
}

// beginPacket starts a packet of type typ in a new buffer, leaving room
// for the length, which finishPacket fills in once the fields are
// appended. A request is built whole before it is written, so that it
// goes out in one Write and nothing can come between its parts.
func beginPacket(typ byte) []byte {
	b := make([]byte, 4, 64)
	return append(b, typ)
}

// op is a request as this client sends it: its packet type, for EXTENDED
// the extension's name and the version of it (the extension's data in
// VERSION) whose fields this client writes, and the type of the answer
// that carries its data, 0 for a request answered by STATUS alone. The
// reader refuses any other type for it.
type op struct {
	typ        byte
	ext        string
	extVersion string
	want       byte
}

// The requests this client sends. The extensions' versions are the ones
// OpenSSH's sftp requires before it uses them (do_init in sftp-client.c):
// a server announcing another version may lay the fields out otherwise.
var (
	opOpen     = op{typ: fxpOpen, want: fxpHandle}
	opClose    = op{typ: fxpClose}
	opRead     = op{typ: fxpRead, want: fxpData}
	opWrite    = op{typ: fxpWrite}
	opLstat    = op{typ: fxpLstat, want: fxpAttrs}
	opFstat    = op{typ: fxpFstat, want: fxpAttrs}
	opSetstat  = op{typ: fxpSetstat}
	opOpendir  = op{typ: fxpOpendir, want: fxpHandle}
	opReaddir  = op{typ: fxpReaddir, want: fxpName}
	opRemove   = op{typ: fxpRemove}
	opMkdir    = op{typ: fxpMkdir}
	opRmdir    = op{typ: fxpRmdir}
	opRealpath = op{typ: fxpRealpath, want: fxpName}
	opStat     = op{typ: fxpStat, want: fxpAttrs}
	opRename   = op{typ: fxpRename}
	opReadlink = op{typ: fxpReadlink, want: fxpName}
	opSymlink  = op{typ: fxpSymlink}

	opPosixRename = op{typ: fxpExtended, ext: "posix-rename@openssh.com", extVersion: "1"}
	opStatVFS     = op{typ: fxpExtended, ext: "statvfs@openssh.com", extVersion: "2", want: fxpExtendedReply}
	opHardlink    = op{typ: fxpExtended, ext: "hardlink@openssh.com", extVersion: "1"}
	opFsync       = op{typ: fxpExtended, ext: "fsync@openssh.com", extVersion: "1"}
	opLsetstat    = op{typ: fxpExtended, ext: "lsetstat@openssh.com", extVersion: "1"}
)

// String names the request for messages: "STAT", or "EXTENDED
// posix-rename@openssh.com".
func (o op) String() string {
	if o.typ == fxpExtended {
		return "EXTENDED " + o.ext
	}
	return typeName(o.typ)
}

// idOffset is where a request's id is, from the packet's start: after the
// length and the type.
const idOffset = 4 + 1

// begin starts a request of o in a new buffer with room for n more
// bytes: the length and the id are left for send to fill in (the id is
// given only once the request is registered), and an EXTENDED request
// has its extension's name. The request's own fields are appended to
// what it returns.
func (o op) begin(n int) []byte {
	b := make([]byte, 4, 4+1+4+4+len(o.ext)+n)
	b = append(b, o.typ)
	b = appendUint32(b, 0)
	if o.typ == fxpExtended {
		b = appendString(b, o.ext)
	}
	return b
}

// strings is a request of o whose fields are the strings fields (a path,
// a handle, two paths), as most requests are.
func (o op) strings(fields ...string) []byte {
	n := 0
	for _, f := range fields {
		n += 4 + len(f)
	}
	b := o.begin(n)
	for _, f := range fields {
		b = appendString(b, f)
	}
	return b
}

// errRequestTooLong is a request this package will not send: no server
// need accept a packet longer than it would send itself.
var errRequestTooLong = fmt.Errorf("sftpwire: the request would be longer than %d bytes", MaxPacket)

// finishPacket writes the length of the packet b holds into its first
// four bytes.
func finishPacket(b []byte) ([]byte, error) {
	n := len(b) - 4
	if n > MaxPacket {
		return nil, errRequestTooLong
	}
	binary.BigEndian.PutUint32(b, uint32(n))
	return b, nil
}

func appendUint32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendUint64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// appendString appends an SSH string: uint32 length, then the bytes as
// they are. Callers keep s shorter than MaxPacket (finishPacket refuses
// the packet otherwise), so the length cannot overflow.
func appendString(b []byte, s string) []byte {
	b = appendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendBytes is appendString for bytes, without the copy a conversion
// to string would make.
func appendBytes(b []byte, p []byte) []byte {
	b = appendUint32(b, uint32(len(p)))
	return append(b, p...)
}

// decoder reads the fields of one packet's payload in order. Its first
// failure sticks: later reads return zero values and consume nothing, so
// a decode function reads all its fields and checks err once, and loops
// stop on err. Every length it reads is checked against the bytes left
// before anything is allocated for it.
type decoder struct {
	b    []byte
	what string // the packet, for messages: "NAME"
	err  *ProtocolError
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = &ProtocolError{d.what + " packet: " + fmt.Sprintf(format, args...)}
	}
}

// error is d's failure as an error (a nil *ProtocolError would make a
// non-nil error).
func (d *decoder) error() error {
	if d.err == nil {
		return nil
	}
	return d.err
}

// need reports whether n more bytes are there for field, failing if not.
func (d *decoder) need(n uint64, field string) bool {
	if d.err != nil {
		return false
	}
	if uint64(len(d.b)) < n {
		d.fail("cut short: %s needs %d bytes, %d left", field, n, len(d.b))
		return false
	}
	return true
}

func (d *decoder) uint32(field string) uint32 {
	if !d.need(4, field) {
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) uint64(field string) uint64 {
	if !d.need(8, field) {
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// string reads an SSH string. The bytes are copied (a Go string), so the
// packet's buffer is not kept alive by what was decoded from it.
func (d *decoder) string(field string) string {
	if d.err != nil {
		return ""
	}
	if len(d.b) < 4 {
		// Not d.uint32(field + "'s length"): that would build the
		// name for every string read, not only for the failure.
		d.fail("cut short: %s's length needs 4 bytes, %d left", field, len(d.b))
		return ""
	}
	n := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	if !d.need(uint64(n), field) {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// bytes reads an SSH string as bytes that share the packet's buffer
// rather than a copy, nil when empty: for DATA, whose data is all but a
// few bytes of its packet, so that keeping the data keeps nothing more
// alive than copying it would. The slice's capacity ends with it, so an
// append to it cannot write over what follows.
func (d *decoder) bytes(field string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < 4 {
		d.fail("cut short: %s's length needs 4 bytes, %d left", field, len(d.b))
		return nil
	}
	n := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	if !d.need(uint64(n), field) {
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	if n == 0 {
		return nil
	}
	return p
}

// rest reads every byte left, sharing the packet's buffer as bytes does;
// nil when none are left.
func (d *decoder) rest() []byte {
	if d.err != nil || len(d.b) == 0 {
		return nil
	}
	p := d.b[:len(d.b):len(d.b)]
	d.b = nil
	return p
}

// count reads the number of items that follow, each at least minSize
// bytes long, and refuses a count that cannot fit in what is left: it is
// what makes a NAME packet claiming four billion entries cost nothing.
func (d *decoder) count(field string, minSize int) int {
	n := d.uint32(field)
	if d.err != nil {
		return 0
	}
	if uint64(n)*uint64(minSize) > uint64(len(d.b)) {
		d.fail("%s %d cannot fit: %d bytes left, and each takes at least %d", field, n, len(d.b), minSize)
		return 0
	}
	return int(n)
}

// empty reports whether every byte has been read.
func (d *decoder) empty() bool { return len(d.b) == 0 }

// The least an entry can take, so that a count can be checked against
// the bytes left: two empty strings; two empty strings and the flags.
const (
	minExtensionSize = 4 + 4
	minNameSize      = 4 + 4 + 4
)

// decodeVersion reads VERSION: uint32 version, then extension pairs
// (name, data) up to the end of the packet; draft-02 gives no count.
func decodeVersion(payload []byte) (Version, error) {
	d := decoder{b: payload, what: "VERSION"}
	v := Version{Version: d.uint32("version")}
	for !d.empty() && d.err == nil {
		name := d.string("extension name")
		data := d.string("extension data")
		v.Extensions = append(v.Extensions, Extension{Name: name, Data: data})
	}
	return v, d.error()
}

// response is one answer from the server, decoded by its type.
type response struct {
	typ    byte
	id     uint32
	status StatusError // STATUS
	handle string      // HANDLE
	attrs  Attrs       // ATTRS
	names  []Name      // NAME
	data   []byte      // DATA (nil when empty)
	reply  []byte      // EXTENDED_REPLY: what follows the id, for its request to read (nil when empty)
}

// decodeResponse reads the payload of an answer to a request: STATUS,
// HANDLE, ATTRS, NAME, DATA or EXTENDED_REPLY (the only ones a request of
// this package is answered with). All begin with the request's id.
//
// Bytes after the last field are ignored, as OpenSSH's client ignores
// them: a field added at the end by a later draft or an extension costs
// nothing. A STATUS may end right after its code: that is the packet of
// the drafts before 02, and OpenSSH's client reads no further than the
// code either. An EXTENDED_REPLY's fields are its extension's: all of
// them are kept, to be decoded by the call that knows which extension it
// asked for (decodeStatVFS).
func decodeResponse(typ byte, payload []byte) (response, error) {
	d := decoder{b: payload, what: typeName(typ)}
	r := response{typ: typ, id: d.uint32("id")}
	switch typ {
	case fxpStatus:
		r.status.Code = Code(d.uint32("status code"))
		if d.err == nil && !d.empty() {
			r.status.Message = d.string("error message")
			r.status.Lang = d.string("language tag")
		}
	case fxpHandle:
		r.handle = d.string("handle")
	case fxpAttrs:
		r.attrs = d.attrs()
	case fxpName:
		n := d.count("count", minNameSize)
		if n > 0 {
			r.names = make([]Name, 0, n)
		}
		for i := 0; i < n && d.err == nil; i++ {
			var e Name
			e.Name = d.string("filename")
			e.Longname = d.string("longname")
			e.Attrs = d.attrs()
			r.names = append(r.names, e)
		}
	case fxpData:
		r.data = d.bytes("data")
	case fxpExtendedReply:
		r.reply = d.rest()
	default:
		return r, &ProtocolError{fmt.Sprintf("a %s packet, which answers no request this client sends", typeName(typ))}
	}
	if d.err != nil {
		return response{}, d.err
	}
	return r, nil
}
