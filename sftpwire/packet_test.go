package sftpwire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadPacket(t *testing.T) {
	tests := []struct {
		name     string
		wire     string
		wantTyp  byte
		wantBody string
		wantErr  string // a substring of the *ProtocolError's message; "" for none
	}{
		{"smallest", "\x00\x00\x00\x01\x65", fxpStatus, "", ""},
		{"status", "\x00\x00\x00\x09\x65\x00\x00\x00\x07\x00\x00\x00\x01", fxpStatus, "\x00\x00\x00\x07\x00\x00\x00\x01", ""},
		{"zero length", "\x00\x00\x00\x00", 0, "", "length 0"},
		{"one over the limit", "\x00\x10\x00\x01", 0, "", "longer than the 1048576 accepted"},
		{"4 GiB", "\xff\xff\xff\xff", 0, "", "4294967295 bytes"},
		{"a shell's greeting", "Welcome to the server\n", 0, "", `the text "Welc"`},
		{"cut in the length", "\x00\x00\x00", 0, "", "3 bytes into a packet's length"},
		{"cut in the body", "\x00\x00\x00\x09\x65\x00\x00", 0, "", "3 bytes into a packet of 9"},
		{"only the length", "\x00\x00\x00\x09", 0, "", "0 bytes into a packet of 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, body, err := readPacket(strings.NewReader(tt.wire))
			if tt.wantErr != "" {
				var pe *ProtocolError
				if !errors.As(err, &pe) || !strings.Contains(pe.Msg, tt.wantErr) {
					t.Fatalf("err %v, want a *ProtocolError saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if typ != tt.wantTyp || string(body) != tt.wantBody {
				t.Errorf("got type %d body %q, want %d %q", typ, body, tt.wantTyp, tt.wantBody)
			}
		})
	}
}

// TestReadPacketMaxPacket: a packet of exactly MaxPacket bytes is read.
func TestReadPacketMaxPacket(t *testing.T) {
	wire := cat(u32(MaxPacket), []byte{fxpData}, make([]byte, MaxPacket-1))
	typ, body, err := readPacket(bytes.NewReader(wire))
	if err != nil || typ != fxpData || len(body) != MaxPacket-1 {
		t.Fatalf("got type %d, %d bytes, err %v", typ, len(body), err)
	}
}

// TestReadPacketEnd: the stream ending between packets is io.EOF as it
// is (not a protocol error: nothing was promised), and a read error comes
// back as it is.
func TestReadPacketEnd(t *testing.T) {
	r := bytes.NewReader(cat(statusPacket(1, OK, ""), statusPacket(2, OK, "")))
	for i := 0; i < 2; i++ {
		if _, _, err := readPacket(r); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	if _, _, err := readPacket(r); err != io.EOF {
		t.Fatalf("at the end: err %v, want io.EOF", err)
	}
	boom := errors.New("boom")
	if _, _, err := readPacket(io.MultiReader(strings.NewReader("\x00\x00"), errReader{boom})); err != boom {
		t.Fatalf("err %v, want the read error", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// endless is a stream of zeros that never ends: a body read from it
// would be as long as the length asks.
type endless struct{}

func (endless) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// TestReadPacketOversizeNoAlloc: a length of 4 GiB is refused before the
// body is allocated (were it allocated, the test would run out of memory
// or show 4 GiB allocated).
func TestReadPacketOversizeNoAlloc(t *testing.T) {
	var err error
	read := func() {
		_, _, err = readPacket(io.MultiReader(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}), endless{}))
	}
	allocs := testing.AllocsPerRun(20, read)
	n := bytesPerRun(20, read)
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("err %v, want a *ProtocolError", err)
	}
	if allocs > 20 || n > 1024 {
		t.Errorf("%v allocations, %d bytes per refusal; want only the error's", allocs, n)
	}
}

// TestDecodeResponse reads each answer this client understands from
// bytes written out by hand.
func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		name string
		typ  byte
		wire []byte
		want response
	}{
		{"status", fxpStatus, cat(u32(7), u32(2), str("No such file"), str("en")),
			response{typ: fxpStatus, id: 7, status: StatusError{Code: NoSuchFile, Message: "No such file", Lang: "en"}}},
		// Before draft-02 a STATUS ended after the code.
		{"status without message", fxpStatus, cat(u32(7), u32(1)),
			response{typ: fxpStatus, id: 7, status: StatusError{Code: EOF}}},
		{"handle", fxpHandle, cat(u32(3), str("\x00\x01h")), response{typ: fxpHandle, id: 3, handle: "\x00\x01h"}},
		{"attrs", fxpAttrs, cat(u32(4), u32(AttrSize), u64(12)), response{typ: fxpAttrs, id: 4, attrs: Attrs{Flags: AttrSize, Size: 12}}},
		{"name", fxpName, cat(u32(5), u32(2),
			str("a\nb"), str("-rw-r--r-- a?b"), u32(AttrPermissions), u32(0o100600),
			str("\xff"), str(""), u32(0)),
			response{typ: fxpName, id: 5, names: []Name{
				{Name: "a\nb", Longname: "-rw-r--r-- a?b", Attrs: Attrs{Flags: AttrPermissions, Permissions: 0o100600}},
				{Name: "\xff"},
			}}},
		{"name, none", fxpName, cat(u32(5), u32(0)), response{typ: fxpName, id: 5}},
		// Bytes after the last field are left unread.
		{"trailing bytes", fxpHandle, cat(u32(3), str("h"), []byte("more")), response{typ: fxpHandle, id: 3, handle: "h"}},
		{"data", fxpData, cat(u32(6), u32(5), []byte("\x00ab\nc")), response{typ: fxpData, id: 6, data: []byte("\x00ab\nc")}},
		{"data, none", fxpData, cat(u32(6), u32(0)), response{typ: fxpData, id: 6}},
		{"data, trailing bytes", fxpData, cat(u32(6), u32(1), []byte("xyz")), response{typ: fxpData, id: 6, data: []byte("x")}},
		// An EXTENDED_REPLY keeps all that follows the id, for its
		// request to read.
		{"extended reply", fxpExtendedReply, cat(u32(8), u64(1), []byte{0xff}), response{typ: fxpExtendedReply, id: 8, reply: cat(u64(1), []byte{0xff})}},
		{"extended reply, empty", fxpExtendedReply, u32(8), response{typ: fxpExtendedReply, id: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeResponse(tt.typ, tt.wire)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(response{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeResponseCut: every response cut anywhere is a
// *ProtocolError, except a STATUS cut right after its code (see
// decodeResponse).
func TestDecodeResponseCut(t *testing.T) {
	full := []response{
		{typ: fxpStatus, id: 1, status: StatusError{Code: Failure, Message: "no", Lang: "en"}},
		{typ: fxpHandle, id: 2, handle: "handle"},
		{typ: fxpAttrs, id: 3, attrs: withFlags(0x8000000f)},
		{typ: fxpName, id: 4, names: []Name{
			{Name: "a", Longname: "la", Attrs: withFlags(0x8000000f)},
			{Name: "b", Longname: "lb", Attrs: withFlags(AttrSize)},
		}},
		{typ: fxpData, id: 5, data: []byte("data\x00")},
	}
	for _, r := range full {
		wire := encodeResponse(r)
		got, err := decodeResponse(r.typ, wire)
		if err != nil {
			t.Fatalf("%s in full: %v", typeName(r.typ), err)
		}
		if diff := cmp.Diff(r, got, cmp.AllowUnexported(response{})); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", typeName(r.typ), diff)
		}
		for cut := 0; cut < len(wire); cut++ {
			_, err := decodeResponse(r.typ, wire[:cut])
			if r.typ == fxpStatus && cut == 8 {
				if err != nil {
					t.Errorf("STATUS without its message: %v", err)
				}
				continue
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Errorf("%s cut at %d of %d: err %v, want a *ProtocolError", typeName(r.typ), cut, len(wire), err)
			}
		}
	}
}

// TestDecodeNameHugeCount: a NAME packet claiming four billion entries
// is refused without allocating for them.
func TestDecodeNameHugeCount(t *testing.T) {
	wire := cat(u32(9), u32(0xFFFFFFFF), str("a"), str("b"), u32(0))
	var err error
	n := bytesPerRun(100, func() { _, err = decodeResponse(fxpName, wire) })
	var pe *ProtocolError
	if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "cannot fit") {
		t.Fatalf("err %v, want a *ProtocolError saying the count cannot fit", err)
	}
	if n > 1024 {
		t.Errorf("%d bytes allocated to refuse it, want only the error's", n)
	}
	// As many entries as can fit in what is left pass the count's check
	// and fail on the entries themselves (a filename longer than the
	// packet, here).
	wire = cat(u32(9), u32(2), u32(0xFFFFFF00), make([]byte, 2*minNameSize-4))
	if _, err := decodeResponse(fxpName, wire); !errors.As(err, &pe) || strings.Contains(pe.Msg, "cannot fit") {
		t.Fatalf("err %v, want a *ProtocolError for the entries, not the count", err)
	}
}

// TestDecodeData: DATA's length is checked against what is left before
// anything is taken, and the data shares the packet's buffer without
// reaching past it.
func TestDecodeData(t *testing.T) {
	var pe *ProtocolError
	for _, wire := range [][]byte{
		cat(u32(1), u32(0xFFFFFFFF), []byte("abc")),
		cat(u32(1), u32(4), []byte("abc")),
		cat(u32(1), []byte{0, 0, 0}),
	} {
		var err error
		n := bytesPerRun(100, func() { _, err = decodeResponse(fxpData, wire) })
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "cut short") {
			t.Errorf("%x: err %v, want a *ProtocolError saying it is cut short", wire, err)
		}
		if n > 1024 {
			t.Errorf("%x: %d bytes allocated to refuse it, want only the error's", wire, n)
		}
	}
	wire := cat(u32(1), u32(3), []byte("abcTAIL"))
	r, err := decodeResponse(fxpData, wire)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.data) != "abc" || cap(r.data) != 3 {
		t.Fatalf("data %q, capacity %d; want \"abc\", 3", r.data, cap(r.data))
	}
	r.data = append(r.data, 'X')
	if string(wire[11:]) != "TAIL" {
		t.Errorf("an append to the data wrote over the packet: %q", wire)
	}
}

// TestDecodeStatVFS reads a statvfs@openssh.com reply written out byte
// by byte as OpenSSH's PROTOCOL (section 4.4) lays it out: eleven
// uint64s, f_bsize first, f_namemax last.
func TestDecodeStatVFS(t *testing.T) {
	var wire []byte
	for i := byte(1); i <= 11; i++ {
		wire = append(wire, 0, 0, 0, 0, 0, 0, i, i)
	}
	want := StatVFS{
		BlockSize: 0x0101, FragmentSize: 0x0202, Blocks: 0x0303, BlocksFree: 0x0404,
		BlocksAvail: 0x0505, Files: 0x0606, FilesFree: 0x0707, FilesAvail: 0x0808,
		FSID: 0x0909, Flags: 0x0a0a, NameMax: 0x0b0b,
	}
	got, err := decodeStatVFS(wire)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if enc := encodeStatVFS(want); !bytes.Equal(enc, wire) {
		t.Errorf("encoded %x, want %x", enc, wire)
	}
	// Bytes after the eleventh are ignored.
	if got, err := decodeStatVFS(append(wire, 1, 2, 3)); err != nil || got != want {
		t.Errorf("with trailing bytes: %+v, %v", got, err)
	}
	for cut := 0; cut < len(wire); cut++ {
		got, err := decodeStatVFS(wire[:cut])
		var pe *ProtocolError
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "statvfs@openssh.com") {
			t.Errorf("cut at %d: err %v, want a *ProtocolError naming the reply", cut, err)
		}
		if got != (StatVFS{}) {
			t.Errorf("cut at %d: a refused reply gave %+v", cut, got)
		}
	}
}

func TestDecodeResponseUnknownType(t *testing.T) {
	for _, typ := range []byte{fxpVersion, fxpInit, fxpStat, fxpExtended, 0, 250} {
		_, err := decodeResponse(typ, u32(1))
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("type %d: err %v, want a *ProtocolError", typ, err)
		}
	}
}

func TestDecodeVersion(t *testing.T) {
	wire := cat(u32(3), str("posix-rename@openssh.com"), str("1"), str("x"), str(""))
	got, err := decodeVersion(wire)
	if err != nil {
		t.Fatal(err)
	}
	want := Version{Version: 3, Extensions: []Extension{{"posix-rename@openssh.com", "1"}, {"x", ""}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Every cut but the ones between whole extensions is refused.
	valid := map[int]bool{4: true, 4 + 4 + 24 + 4 + 1: true}
	for cut := 0; cut < len(wire); cut++ {
		_, err := decodeVersion(wire[:cut])
		if valid[cut] != (err == nil) {
			t.Errorf("cut at %d: err %v", cut, err)
		}
	}
}

// TestRequestBytes: the requests as the server reads them, byte by byte.
func TestRequestBytes(t *testing.T) {
	init, err := finishPacket(appendUint32(beginPacket(fxpInit), 3))
	if err != nil {
		t.Fatal(err)
	}
	if want := "\x00\x00\x00\x05\x01\x00\x00\x00\x03"; string(init) != want {
		t.Errorf("INIT %q, want %q", init, want)
	}
	stat, err := finishPacket(appendString(appendUint32(beginPacket(fxpStat), 0x01020304), "a\xffb"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "\x00\x00\x00\x0c\x11\x01\x02\x03\x04\x00\x00\x00\x03a\xffb"; string(stat) != want {
		t.Errorf("STAT %q, want %q", stat, want)
	}
	if _, err := finishPacket(appendString(beginPacket(fxpStat), strings.Repeat("x", MaxPacket))); err != errRequestTooLong {
		t.Errorf("a request longer than MaxPacket: err %v", err)
	}
}

// TestDecodeNameWorstCase: the most a NAME packet can make the decoder
// allocate, the bound doc.go gives: MaxPacket of the smallest entries
// (12 bytes each), each a 96-byte Name, about 8 MiB; nothing else may
// be allocated per entry.
func TestDecodeNameWorstCase(t *testing.T) {
	n := (MaxPacket - 1 - 8) / minNameSize
	payload := cat(u32(1), u32(uint32(n)), make([]byte, n*minNameSize))
	var r response
	var err error
	allocated := bytesPerRun(3, func() { r, err = decodeResponse(fxpName, payload) })
	if err != nil || len(r.names) != n {
		t.Fatalf("%d names, err %v; want %d", len(r.names), err, n)
	}
	if limit := uint64(8*MaxPacket + 64<<10); allocated > limit {
		t.Errorf("%d bytes allocated for a packet of %d; doc.go says at most %d", allocated, len(payload)+1, limit)
	}
}
