package sftpwire

import "runtime"

// Building the server's side of the wire, for the codec's tests and the
// fake servers: what a server would send, written with the same
// primitives the client's requests are.

// cat joins byte slices.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func u32(v uint32) []byte { return appendUint32(nil, v) }
func u64(v uint64) []byte { return appendUint64(nil, v) }
func str(s string) []byte { return appendString(nil, s) }

// framed is a whole packet: the length, the type, the payload.
func framed(typ byte, payload ...[]byte) []byte {
	body := cat(payload...)
	return cat(u32(uint32(len(body)+1)), []byte{typ}, body)
}

// encodeResponse is the payload decodeResponse reads r from. A STATUS is
// written in full (message and language tag), as draft-02 has it.
func encodeResponse(r response) []byte {
	b := u32(r.id)
	switch r.typ {
	case fxpStatus:
		b = appendUint32(b, uint32(r.status.Code))
		b = appendString(b, r.status.Message)
		b = appendString(b, r.status.Lang)
	case fxpHandle:
		b = appendString(b, r.handle)
	case fxpAttrs:
		b = appendAttrs(b, &r.attrs)
	case fxpName:
		b = appendUint32(b, uint32(len(r.names)))
		for _, n := range r.names {
			b = appendString(b, n.Name)
			b = appendString(b, n.Longname)
			b = appendAttrs(b, &n.Attrs)
		}
	case fxpData:
		b = appendBytes(b, r.data)
	case fxpExtendedReply:
		b = append(b, r.reply...)
	default:
		panic("encodeResponse: " + typeName(r.typ))
	}
	return b
}

// encodeVersion is the payload of a VERSION packet.
func encodeVersion(v Version) []byte {
	b := u32(v.Version)
	for _, e := range v.Extensions {
		b = appendString(b, e.Name)
		b = appendString(b, e.Data)
	}
	return b
}

// Answers, as whole packets.

func statusPacket(id uint32, code Code, msg string) []byte {
	return framed(fxpStatus, encodeResponse(response{typ: fxpStatus, id: id, status: StatusError{Code: code, Message: msg, Lang: "en"}}))
}

func attrsPacket(id uint32, a Attrs) []byte {
	return framed(fxpAttrs, encodeResponse(response{typ: fxpAttrs, id: id, attrs: a}))
}

func handlePacket(id uint32, h string) []byte {
	return framed(fxpHandle, encodeResponse(response{typ: fxpHandle, id: id, handle: h}))
}

func namePacket(id uint32, names ...Name) []byte {
	return framed(fxpName, encodeResponse(response{typ: fxpName, id: id, names: names}))
}

func dataPacket(id uint32, data []byte) []byte {
	return framed(fxpData, encodeResponse(response{typ: fxpData, id: id, data: data}))
}

func extReplyPacket(id uint32, reply []byte) []byte {
	return framed(fxpExtendedReply, encodeResponse(response{typ: fxpExtendedReply, id: id, reply: reply}))
}

func versionPacket(v Version) []byte { return framed(fxpVersion, encodeVersion(v)) }

// encodeStatVFS is the reply decodeStatVFS reads s from: its eleven
// fields in order.
func encodeStatVFS(s StatVFS) []byte {
	var b []byte
	for _, v := range []uint64{s.BlockSize, s.FragmentSize, s.Blocks, s.BlocksFree, s.BlocksAvail,
		s.Files, s.FilesFree, s.FilesAvail, s.FSID, s.Flags, s.NameMax} {
		b = appendUint64(b, v)
	}
	return b
}

// bytesPerRun is how many bytes f allocates per call, on average over
// runs calls: the measure that shows whether a length from the peer was
// allocated before it was checked.
func bytesPerRun(runs int, f func()) uint64 {
	f() // warm up, as testing.AllocsPerRun does
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}
