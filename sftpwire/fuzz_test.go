package sftpwire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeAttrs: any bytes decode to attributes or a *ProtocolError;
// what decodes re-encodes to exactly the bytes it was read from (the
// encoding has one form), and decodes again to the same.
func FuzzDecodeAttrs(f *testing.F) {
	for _, flags := range allFlagSets() {
		a := withFlags(flags)
		f.Add(appendAttrs(nil, &a))
	}
	f.Add([]byte{0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, rest, err := decodeAttrs(data)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("err %v (%T), want a *ProtocolError", err, err)
			}
			return
		}
		read := data[:len(data)-len(rest)]
		enc := appendAttrs(nil, &a)
		if !bytes.Equal(enc, read) {
			t.Fatalf("read %x, re-encoded %x", read, enc)
		}
		again, rest2, err := decodeAttrs(enc)
		if err != nil || len(rest2) != 0 {
			t.Fatalf("the re-encoding does not decode: %v, %d left", err, len(rest2))
		}
		if diff := cmp.Diff(a, again); diff != "" {
			t.Fatalf("(-first +second):\n%s", diff)
		}
	})
}

// FuzzReadPacket reads a stream of packets and decodes each as an
// answer (and as VERSION, and an EXTENDED_REPLY as statvfs@openssh.com's
// too): the stream ends in io.EOF or a *ProtocolError, never a panic, and
// every answer that decodes re-encodes to one that decodes to the same.
func FuzzReadPacket(f *testing.F) {
	f.Add(versionPacket(serverVersion))
	f.Add(cat(statusPacket(1, NoSuchFile, "No such file"), attrsPacket(2, withFlags(0x8000000f))))
	f.Add(handlePacket(3, "\x00\x00\x00\x01"))
	f.Add(namePacket(4, Name{Name: "a\nb", Longname: "-rw", Attrs: withFlags(0x0f)}, Name{Name: "\xff"}))
	f.Add(framed(fxpName, u32(4), u32(0xFFFFFFFF)))
	f.Add(framed(fxpStatus, u32(5), u32(1)))
	f.Add(dataPacket(6, []byte("data\x00\xff")))
	f.Add(framed(fxpData, u32(6), u32(0xFFFFFFF0), []byte("abc")))
	f.Add(extReplyPacket(7, encodeStatVFS(StatVFS{BlockSize: 4096, FragmentSize: 4096, Blocks: 1 << 40, NameMax: 255})))
	f.Add(extReplyPacket(7, make([]byte, statVFSSize-1)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte("Welcome\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			typ, payload, err := readPacket(r)
			if err != nil {
				var pe *ProtocolError
				if err != io.EOF && !errors.As(err, &pe) {
					t.Fatalf("err %v (%T), want io.EOF or a *ProtocolError", err, err)
				}
				return
			}
			if typ == fxpVersion {
				v, err := decodeVersion(payload)
				if err == nil {
					again, err := decodeVersion(encodeVersion(v))
					if err != nil {
						t.Fatalf("VERSION re-encoded does not decode: %v", err)
					}
					if diff := cmp.Diff(v, again); diff != "" {
						t.Fatalf("VERSION (-first +second):\n%s", diff)
					}
				}
				continue
			}
			resp, err := decodeResponse(typ, payload)
			if err != nil {
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("decode: err %v (%T), want a *ProtocolError", err, err)
				}
				continue
			}
			again, err := decodeResponse(typ, encodeResponse(resp))
			if err != nil {
				t.Fatalf("%s re-encoded does not decode: %v", typeName(typ), err)
			}
			if diff := cmp.Diff(resp, again, cmp.AllowUnexported(response{})); diff != "" {
				t.Fatalf("%s (-first +second):\n%s", typeName(typ), diff)
			}
			if typ == fxpExtendedReply {
				s, err := decodeStatVFS(resp.reply)
				if err != nil {
					var pe *ProtocolError
					if !errors.As(err, &pe) {
						t.Fatalf("statvfs: err %v (%T), want a *ProtocolError", err, err)
					}
					continue
				}
				enc := encodeStatVFS(s)
				if !bytes.Equal(enc, resp.reply[:statVFSSize]) {
					t.Fatalf("statvfs: read %x, re-encoded %x", resp.reply[:statVFSSize], enc)
				}
				if again, err := decodeStatVFS(enc); err != nil || again != s {
					t.Fatalf("statvfs re-encoded: %+v, %v; want %+v", again, err, s)
				}
			}
		}
	})
}

// FuzzClient runs the client against a server that answers with the
// fuzzer's bytes: cut into packets by their own lengths where they have
// them, one packet for each request the client sends (the first for
// INIT), the stream ending after the last. Whatever the bytes, every call
// returns, and with nothing but a *StatusError, io.EOF from Read,
// ErrUnsupported for an extension not announced, or a *ClosedError for
// the stream's end or a *ProtocolError; Close returns and ends the
// client.
func FuzzClient(f *testing.F) {
	a := withFlags(0x0f)
	f.Add(cat(
		versionPacket(serverVersion),
		attrsPacket(1, a),                        // Stat
		statusPacket(2, NoSuchFile, "no"),        // Lstat
		handlePacket(3, "h"),                     // OPENDIR
		namePacket(4, Name{Name: "x", Attrs: a}), // READDIR
		statusPacket(5, EOF, ""),                 // READDIR
		statusPacket(6, OK, ""),                  // CLOSE
		namePacket(7, Name{Name: "/"}),           // REALPATH
	))
	f.Add(cat(versionPacket(serverVersion), attrsPacket(2, a)))
	f.Add(cat(versionPacket(serverVersion), handlePacket(1, "h")))
	f.Add(cat(versionPacket(serverVersion), framed(fxpAttrs, u32(1), u32(AttrSize))))
	f.Add(cat(versionPacket(Version{Version: 3}), attrsPacket(1, a), statusPacket(2, OK, ""), statusPacket(3, Failure, "")))
	f.Add(cat(versionPacket(serverVersion), attrsPacket(1, a), attrsPacket(2, a), handlePacket(3, "h"), framed(fxpName, u32(4), u32(1<<30))))
	f.Add([]byte("Welcome\n"))
	// Past the first calls, the new ones: answered each as it should
	// be, then with the wrong types and lengths.
	first := cat(
		attrsPacket(1, a), attrsPacket(2, a),
		handlePacket(3, "h"), statusPacket(4, EOF, ""), statusPacket(5, OK, ""),
		namePacket(6, Name{Name: "/"}),
	)
	f.Add(cat(
		versionPacket(extVersion), first,
		statusPacket(7, OK, ""),                        // Mkdir
		statusPacket(8, Failure, "no"),                 // PosixRename
		statusPacket(9, OK, ""),                        // Symlink
		extReplyPacket(10, encodeStatVFS(someStatVFS)), // StatVFS
		handlePacket(11, "fh"),                         // Open
		dataPacket(12, []byte("0123")),                 // Read
		statusPacket(13, EOF, ""),                      // Read
		statusPacket(14, OK, ""),                       // Write
		attrsPacket(15, a),                             // Fstat
		statusPacket(16, OK, ""),                       // Fsync
		statusPacket(17, OK, ""),                       // CloseHandle
	))
	f.Add(cat(versionPacket(extVersion), first, statusPacket(7, OK, ""), statusPacket(8, OK, ""), statusPacket(9, OK, ""),
		extReplyPacket(10, make([]byte, 87))))
	f.Add(cat(versionPacket(extVersion), first, statusPacket(7, OK, ""), statusPacket(8, OK, ""), statusPacket(9, OK, ""),
		extReplyPacket(10, encodeStatVFS(someStatVFS)), handlePacket(11, "fh"), dataPacket(12, make([]byte, 17))))
	f.Add(cat(versionPacket(Version{Version: 3, Extensions: []Extension{{symlinkOrder, "linkpath-targetpath"}}}), first,
		statusPacket(7, OK, ""), statusPacket(8, OK, ""), handlePacket(9, "h")))
	f.Fuzz(func(t *testing.T, data []byte) {
		srv, end := newFake(t)
		srv.startReading()
		answers := splitPackets(data)
		go func() {
			// The stream ends as soon as the answers run out: the last
			// may be half a packet, and the client would wait for the
			// rest rather than send another request.
			for range srv.reqs {
				if len(answers) == 0 {
					break
				}
				srv.send(answers[0])
				answers = answers[1:]
				if len(answers) == 0 {
					break
				}
			}
			srv.out.Close()
		}()
		// Long enough never to pass: the fake answers each request or
		// ends the stream, so a timeout here is a hang.
		opts := Options{Timeout: 20 * time.Second}
		checkErr := func(err error) {
			t.Helper()
			var se *StatusError
			var ce *ClosedError
			var pe *ProtocolError
			switch {
			case err == nil, err == io.EOF, errors.As(err, &se):
			case errors.Is(err, ErrUnsupported):
			case errors.As(err, &ce) && (errors.Is(err, io.EOF) || errors.As(err, &pe)):
			default:
				t.Fatalf("err %v (%T)", err, err)
			}
		}
		c, err := NewClient(end, opts)
		checkErr(err)
		if err != nil {
			return
		}
		ctx := context.Background()
		_, err = c.Stat(ctx, "a")
		checkErr(err)
		_, err = c.Lstat(ctx, "b")
		checkErr(err)
		_, err = c.ReadDir(ctx, "d")
		checkErr(err)
		_, err = c.RealPath(ctx, ".")
		checkErr(err)
		checkErr(c.Mkdir(ctx, "d", Attrs{Flags: AttrPermissions, Permissions: 0o755}))
		checkErr(c.PosixRename(ctx, "a", "b"))
		checkErr(c.Symlink(ctx, "t", "l"))
		_, err = c.StatVFS(ctx, "/")
		checkErr(err)
		h, err := c.Open(ctx, "f", FlagRead|FlagWrite, Attrs{})
		checkErr(err)
		b, err := c.Read(ctx, h, 0, 16)
		checkErr(err)
		if len(b) > 16 {
			t.Fatalf("Read of 16 returned %d bytes", len(b))
		}
		_, err = c.Read(ctx, h, 16, 16)
		checkErr(err)
		checkErr(c.Write(ctx, h, 0, []byte("data")))
		_, err = c.Fstat(ctx, h)
		checkErr(err)
		checkErr(c.Fsync(ctx, h))
		checkErr(c.CloseHandle(ctx, h))
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("Done is open after Close")
		}
	})
}

// splitPackets cuts b into the packets its lengths say it holds; what is
// left when a length is cut short or runs past the end is one last
// piece, sent as it is.
func splitPackets(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return append(out, b)
		}
		n := uint64(binary.BigEndian.Uint32(b)) + 4
		if n > uint64(len(b)) {
			return append(out, b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}
