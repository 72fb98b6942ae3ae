package sftpwire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fullAttrs has every field set to a value whose bytes differ from its
// neighbours', so that a field read from the wrong place shows.
var fullAttrs = Attrs{
	Size:        0x0102030405060708,
	UID:         0x11121314,
	GID:         0x21222324,
	Permissions: 0o100644,
	Atime:       0x31323334,
	Mtime:       0x41424344,
	Extended:    []Extension{{"a@example.com", "1"}, {"b@example.com", "\x00\xff"}},
}

// withFlags is fullAttrs as decoded from a packet with flags: the fields
// of the flags not set are zero.
func withFlags(flags uint32) Attrs {
	a := Attrs{Flags: flags}
	if flags&AttrSize != 0 {
		a.Size = fullAttrs.Size
	}
	if flags&AttrUIDGID != 0 {
		a.UID, a.GID = fullAttrs.UID, fullAttrs.GID
	}
	if flags&AttrPermissions != 0 {
		a.Permissions = fullAttrs.Permissions
	}
	if flags&AttrACModTime != 0 {
		a.Atime, a.Mtime = fullAttrs.Atime, fullAttrs.Mtime
	}
	if flags&AttrExtended != 0 {
		a.Extended = fullAttrs.Extended
	}
	return a
}

// allFlagSets is every combination of the five flags of draft-02.
func allFlagSets() []uint32 {
	bits := []uint32{AttrSize, AttrUIDGID, AttrPermissions, AttrACModTime, AttrExtended}
	var sets []uint32
	for m := 0; m < 1<<len(bits); m++ {
		var f uint32
		for i, b := range bits {
			if m&(1<<i) != 0 {
				f |= b
			}
		}
		sets = append(sets, f)
	}
	return sets
}

// TestAttrsLiteral reads ATTRS written out byte by byte as draft-02's
// section 5 lays them out, so that encoder and decoder cannot agree on a
// wrong layout.
func TestAttrsLiteral(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want Attrs
	}{
		{"none", []byte{0, 0, 0, 0}, Attrs{}},
		{"size", []byte{0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8}, Attrs{Flags: AttrSize, Size: 0x0102030405060708}},
		{"uidgid", []byte{0, 0, 0, 2, 0, 0, 3, 0xe8, 0, 0, 0, 100}, Attrs{Flags: AttrUIDGID, UID: 1000, GID: 100}},
		{"permissions", []byte{0, 0, 0, 4, 0, 0, 0x81, 0xa4}, Attrs{Flags: AttrPermissions, Permissions: 0o100644}},
		{"acmodtime", []byte{0, 0, 0, 8, 0x3a, 0x7b, 0x7d, 0x86, 0x3a, 0x7b, 0x7d, 0x87}, Attrs{Flags: AttrACModTime, Atime: 981171590, Mtime: 981171591}},
		{"extended", []byte{0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 'n', 0, 0, 0, 2, 'd', 'd'},
			Attrs{Flags: AttrExtended, Extended: []Extension{{"n", "dd"}}}},
		// What OpenSSH's server sends for a regular file (flags 0x0f).
		{"openssh file", []byte{
			0, 0, 0, 0x0f,
			0, 0, 0, 0, 0, 0, 0x10, 0, // size 4096
			0, 0, 0, 0, 0, 0, 0, 0, // uid 0, gid 0
			0, 0, 0x81, 0xed, // -rwxr-xr-x
			0, 0, 0, 1, 0, 0, 0, 2, // atime 1, mtime 2
		}, Attrs{Flags: 0x0f, Size: 4096, Permissions: 0o100755, Atime: 1, Mtime: 2}},
		// A bit draft-02 does not define has no fields: it is kept in
		// Flags and nothing more is read for it.
		{"undefined bit", []byte{0, 0, 0, 0x14, 0, 0, 0x41, 0xed}, Attrs{Flags: 0x14, Permissions: 0o40755}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rest, err := decodeAttrs(append(tt.wire, 0xEE))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
			if !bytes.Equal(rest, []byte{0xEE}) {
				t.Errorf("left %x after the attributes, want ee", rest)
			}
			if enc := appendAttrs(nil, &tt.want); !bytes.Equal(enc, tt.wire) {
				t.Errorf("encoded %x, want %x", enc, tt.wire)
			}
		})
	}
}

// TestAttrsEveryFlagSet round-trips every combination of flags, checks
// that the encoding has exactly the fields of its flags, and that every
// cut of it is refused as a *ProtocolError.
func TestAttrsEveryFlagSet(t *testing.T) {
	for _, flags := range allFlagSets() {
		want := withFlags(flags)
		wire := appendAttrs(nil, &want)
		// Encoding fullAttrs with these flags must give the same bytes:
		// the fields of unset flags are left out whatever they hold.
		full := fullAttrs
		full.Flags = flags
		if enc := appendAttrs(nil, &full); !bytes.Equal(enc, wire) {
			t.Errorf("flags %#x: fields of unset flags were encoded: %x, want %x", flags, enc, wire)
		}
		size := 4
		if flags&AttrSize != 0 {
			size += 8
		}
		if flags&AttrUIDGID != 0 {
			size += 8
		}
		if flags&AttrPermissions != 0 {
			size += 4
		}
		if flags&AttrACModTime != 0 {
			size += 8
		}
		if flags&AttrExtended != 0 {
			size += 4 + (4 + 13 + 4 + 1) + (4 + 13 + 4 + 2)
		}
		if len(wire) != size {
			t.Errorf("flags %#x: %d bytes, want %d", flags, len(wire), size)
		}
		got, rest, err := decodeAttrs(wire)
		if err != nil {
			t.Errorf("flags %#x: %v", flags, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("flags %#x (-want +got):\n%s", flags, diff)
		}
		if len(rest) != 0 {
			t.Errorf("flags %#x: %d bytes left", flags, len(rest))
		}
		for cut := 0; cut < len(wire); cut++ {
			a, _, err := decodeAttrs(wire[:cut])
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Errorf("flags %#x cut at %d of %d: err %v, want a *ProtocolError", flags, cut, len(wire), err)
			}
			if diff := cmp.Diff(Attrs{}, a); diff != "" {
				t.Errorf("flags %#x cut at %d: a refused ATTRS still gave fields:\n%s", flags, cut, diff)
			}
		}
	}
}

// TestAttrsHugeExtendedCount: a count of extensions that cannot fit in
// what is left is refused before anything is allocated for it.
func TestAttrsHugeExtendedCount(t *testing.T) {
	wire := cat(u32(AttrExtended), u32(0xFFFFFFFF), str("a"), str("b"))
	var err error
	n := bytesPerRun(100, func() { _, _, err = decodeAttrs(wire) })
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("err %v, want a *ProtocolError", err)
	}
	if n > 1024 {
		t.Errorf("%d bytes allocated to refuse it, want only the error's", n)
	}
	// The same for a string that claims more than is left.
	wire = cat(u32(AttrExtended), u32(1), u32(0xFFFFFFFF), []byte("abc"))
	n = bytesPerRun(100, func() { _, _, err = decodeAttrs(wire) })
	if !errors.As(err, &pe) {
		t.Fatalf("err %v, want a *ProtocolError", err)
	}
	if n > 1024 {
		t.Errorf("%d bytes allocated to refuse a 4 GiB string, want only the error's", n)
	}
}

func TestAttrsHas(t *testing.T) {
	a := Attrs{Flags: AttrSize | AttrPermissions}
	for _, tt := range []struct {
		flag uint32
		want bool
	}{
		{AttrSize, true}, {AttrPermissions, true}, {AttrSize | AttrPermissions, true},
		{AttrUIDGID, false}, {AttrSize | AttrUIDGID, false}, {AttrExtended, false},
	} {
		if got := a.Has(tt.flag); got != tt.want {
			t.Errorf("Has(%#x) = %v, want %v", tt.flag, got, tt.want)
		}
	}
}
