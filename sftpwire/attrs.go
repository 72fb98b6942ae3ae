package sftpwire

import "fmt"

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
//
// Flags is kept as sent, bits that draft-02 does not define included:
// those bits have no fields in version 3, so they are carried and
// otherwise ignored.
type Attrs struct {
	Flags        uint32
	Size         uint64
	UID, GID     uint32
	Permissions  uint32 // the full st_mode as OpenSSH sends it: type bits too
	Atime, Mtime uint32 // Unix seconds
	Extended     []Extension
}

// attrFlags are the flags draft-02 defines: those with fields.
const attrFlags = AttrSize | AttrUIDGID | AttrPermissions | AttrACModTime | AttrExtended

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

// attrs reads the ATTRS structure of draft-02 (section 5): uint32 flags,
// then each group of fields whose flag is set, in this order: uint64
// size; uint32 uid and gid; uint32 permissions; uint32 atime and mtime;
// uint32 extended_count and that many pairs of strings. A field whose flag
// is clear is absent from the wire and zero here.
func (d *decoder) attrs() Attrs {
	var a Attrs
	a.Flags = d.uint32("attribute flags")
	if a.Flags&AttrSize != 0 {
		a.Size = d.uint64("size")
	}
	if a.Flags&AttrUIDGID != 0 {
		a.UID = d.uint32("uid")
		a.GID = d.uint32("gid")
	}
	if a.Flags&AttrPermissions != 0 {
		a.Permissions = d.uint32("permissions")
	}
	if a.Flags&AttrACModTime != 0 {
		a.Atime = d.uint32("atime")
		a.Mtime = d.uint32("mtime")
	}
	if a.Flags&AttrExtended != 0 {
		n := d.count("extended_count", minExtensionSize)
		if n > 0 {
			a.Extended = make([]Extension, 0, n)
		}
		for i := 0; i < n && d.err == nil; i++ {
			name := d.string("extended_type")
			data := d.string("extended_data")
			a.Extended = append(a.Extended, Extension{Name: name, Data: data})
		}
	}
	if d.err != nil {
		return Attrs{}
	}
	return a
}

// decodeAttrs reads one ATTRS structure from the start of b and returns
// what follows it.
func decodeAttrs(b []byte) (Attrs, []byte, error) {
	d := decoder{b: b, what: "ATTRS"}
	a := d.attrs()
	return a, d.b, d.error()
}

// checkAttrs refuses attributes to be sent with flags draft-02 does not
// define: in version 3 those bits have no fields, so a server reading
// them may refuse the request or read the fields that follow wrongly.
// Attrs from Stat may carry such bits (they are kept as the server sent
// them); clear them to send the rest.
func checkAttrs(a Attrs) error {
	if extra := a.Flags &^ attrFlags; extra != 0 {
		return fmt.Errorf("sftpwire: attribute flags %#x include %#x, which version 3 does not define", a.Flags, extra)
	}
	return nil
}

// attrsSize is how many bytes appendAttrs appends for a.
func attrsSize(a *Attrs) int {
	n := 4
	if a.Flags&AttrSize != 0 {
		n += 8
	}
	if a.Flags&AttrUIDGID != 0 {
		n += 8
	}
	if a.Flags&AttrPermissions != 0 {
		n += 4
	}
	if a.Flags&AttrACModTime != 0 {
		n += 8
	}
	if a.Flags&AttrExtended != 0 {
		n += 4
		for _, e := range a.Extended {
			n += 4 + len(e.Name) + 4 + len(e.Data)
		}
	}
	return n
}

// appendAttrs appends a in the wire form attrs reads: the fields of the
// flags set in a.Flags, the others left out whatever they hold. Requests
// that set attributes send them so, and tests and fake servers write
// them so, so that they write exactly what the decoder reads.
func appendAttrs(b []byte, a *Attrs) []byte {
	b = appendUint32(b, a.Flags)
	if a.Flags&AttrSize != 0 {
		b = appendUint64(b, a.Size)
	}
	if a.Flags&AttrUIDGID != 0 {
		b = appendUint32(b, a.UID)
		b = appendUint32(b, a.GID)
	}
	if a.Flags&AttrPermissions != 0 {
		b = appendUint32(b, a.Permissions)
	}
	if a.Flags&AttrACModTime != 0 {
		b = appendUint32(b, a.Atime)
		b = appendUint32(b, a.Mtime)
	}
	if a.Flags&AttrExtended != 0 {
		b = appendUint32(b, uint32(len(a.Extended)))
		for _, e := range a.Extended {
			b = appendString(b, e.Name)
			b = appendString(b, e.Data)
		}
	}
	return b
}

// StatVFS is what statvfs@openssh.com answers: the fields of the
// server's statvfs(3) of a path's file system, in its order. The counts
// of blocks are in FragmentSize units (f_frsize), as statvfs has them.
type StatVFS struct {
	BlockSize, FragmentSize         uint64 // f_bsize, f_frsize
	Blocks, BlocksFree, BlocksAvail uint64 // f_blocks, f_bfree, f_bavail (the last: for unprivileged users)
	Files, FilesFree, FilesAvail    uint64 // f_files, f_ffree, f_favail (inodes)
	FSID                            uint64 // f_fsid
	Flags                           uint64 // StatVFSReadOnly, StatVFSNoSUID
	NameMax                         uint64 // f_namemax: the longest name
}

// StatVFS's Flags: OpenSSH's own bits (SSH2_FXE_STATVFS_ST_*), whatever
// the server's system numbers them.
const (
	StatVFSReadOnly uint64 = 0x1
	StatVFSNoSUID   uint64 = 0x2
)

// statVFSSize is the length of a statvfs@openssh.com reply: eleven
// uint64s.
const statVFSSize = 11 * 8

// decodeStatVFS reads the fields of a statvfs@openssh.com reply (what
// follows the id in its EXTENDED_REPLY). Fewer than eleven uint64s is a
// *ProtocolError; bytes after them are ignored, as decodeResponse
// ignores them after any answer's last field.
func decodeStatVFS(b []byte) (StatVFS, error) {
	d := decoder{b: b, what: "statvfs@openssh.com EXTENDED_REPLY"}
	if !d.need(statVFSSize, "the reply's eleven uint64s") {
		return StatVFS{}, d.error()
	}
	return StatVFS{
		BlockSize:    d.uint64("f_bsize"),
		FragmentSize: d.uint64("f_frsize"),
		Blocks:       d.uint64("f_blocks"),
		BlocksFree:   d.uint64("f_bfree"),
		BlocksAvail:  d.uint64("f_bavail"),
		Files:        d.uint64("f_files"),
		FilesFree:    d.uint64("f_ffree"),
		FilesAvail:   d.uint64("f_favail"),
		FSID:         d.uint64("f_fsid"),
		Flags:        d.uint64("f_flag"),
		NameMax:      d.uint64("f_namemax"),
	}, nil
}
