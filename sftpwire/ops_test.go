package sftpwire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/proto"
)

// The requests of paths.go and files.go against the fake server: their
// bytes on the wire, their answers, and what they refuse to send.

// extVersion is a VERSION announcing every extension this client uses,
// in the versions it speaks.
var extVersion = Version{Version: 3, Extensions: []Extension{
	{"posix-rename@openssh.com", "1"},
	{"statvfs@openssh.com", "2"},
	{"hardlink@openssh.com", "1"},
	{"fsync@openssh.com", "1"},
	{"lsetstat@openssh.com", "1"},
}}

// someStatVFS has every field different, so that one read from the
// wrong place shows.
var someStatVFS = StatVFS{
	BlockSize: 4096, FragmentSize: 512, Blocks: 1 << 40, BlocksFree: 1 << 39, BlocksAvail: 1 << 38,
	Files: 1000, FilesFree: 900, FilesAvail: 800, FSID: 0xdeadbeefcafe, Flags: StatVFSNoSUID, NameMax: 255,
}

// opCall is one request: how to make it, its bytes on the wire, an
// answer that succeeds and what the call returns for it.
type opCall struct {
	name   string
	call   func(ctx context.Context, c *Client) (any, error)
	wire   func(id uint32) []byte
	answer func(id uint32) []byte
	want   any // nil for the calls that return only an error
}

func ok(id uint32) []byte { return statusPacket(id, OK, "") }

// opCalls is every request added for paths and files, each written out
// field by field as draft-02 (section 6) and OpenSSH's PROTOCOL lay it
// out.
var opCalls = []opCall{
	{"Mkdir", func(ctx context.Context, c *Client) (any, error) { return nil, c.Mkdir(ctx, "d\xff", Attrs{}) },
		func(id uint32) []byte { return framed(fxpMkdir, u32(id), str("d\xff"), u32(0)) }, ok, nil},
	{"Mkdir 0750", func(ctx context.Context, c *Client) (any, error) {
		return nil, c.Mkdir(ctx, "d", Attrs{Flags: AttrPermissions, Permissions: 0o750})
	}, func(id uint32) []byte { return framed(fxpMkdir, u32(id), str("d"), u32(4), u32(0o750)) }, ok, nil},
	{"Rmdir", func(ctx context.Context, c *Client) (any, error) { return nil, c.Rmdir(ctx, "d") },
		func(id uint32) []byte { return framed(fxpRmdir, u32(id), str("d")) }, ok, nil},
	{"Remove", func(ctx context.Context, c *Client) (any, error) { return nil, c.Remove(ctx, "f\n") },
		func(id uint32) []byte { return framed(fxpRemove, u32(id), str("f\n")) }, ok, nil},
	{"Rename", func(ctx context.Context, c *Client) (any, error) { return nil, c.Rename(ctx, "old", "new") },
		func(id uint32) []byte { return framed(fxpRename, u32(id), str("old"), str("new")) }, ok, nil},
	{"PosixRename", func(ctx context.Context, c *Client) (any, error) { return nil, c.PosixRename(ctx, "old", "new") },
		func(id uint32) []byte {
			return framed(fxpExtended, u32(id), str("posix-rename@openssh.com"), str("old"), str("new"))
		}, ok, nil},
	{"Setstat", func(ctx context.Context, c *Client) (any, error) { return nil, c.Setstat(ctx, "f", withFlags(0x0f)) },
		func(id uint32) []byte {
			return framed(fxpSetstat, u32(id), str("f"), u32(0x0f),
				u64(0x0102030405060708), u32(0x11121314), u32(0x21222324), u32(0o100644), u32(0x31323334), u32(0x41424344))
		}, ok, nil},
	{"Setstat extended", func(ctx context.Context, c *Client) (any, error) {
		return nil, c.Setstat(ctx, "f", Attrs{Flags: AttrExtended, Extended: []Extension{{"a", "b"}}})
	}, func(id uint32) []byte {
		return framed(fxpSetstat, u32(id), str("f"), u32(AttrExtended), u32(1), str("a"), str("b"))
	}, ok, nil},
	{"Lsetstat", func(ctx context.Context, c *Client) (any, error) {
		return nil, c.Lsetstat(ctx, "l", Attrs{Flags: AttrACModTime, Atime: 1, Mtime: 2})
	}, func(id uint32) []byte {
		return framed(fxpExtended, u32(id), str("lsetstat@openssh.com"), str("l"), u32(8), u32(1), u32(2))
	}, ok, nil},
	// No symlink-order@rjk.greenend.org.uk: OpenSSH's order, target first.
	{"Symlink", func(ctx context.Context, c *Client) (any, error) { return nil, c.Symlink(ctx, "target", "link") },
		func(id uint32) []byte { return framed(fxpSymlink, u32(id), str("target"), str("link")) }, ok, nil},
	{"Hardlink", func(ctx context.Context, c *Client) (any, error) { return nil, c.Hardlink(ctx, "old", "new") },
		func(id uint32) []byte {
			return framed(fxpExtended, u32(id), str("hardlink@openssh.com"), str("old"), str("new"))
		}, ok, nil},
	{"StatVFS", func(ctx context.Context, c *Client) (any, error) { return c.StatVFS(ctx, "/") },
		func(id uint32) []byte { return framed(fxpExtended, u32(id), str("statvfs@openssh.com"), str("/")) },
		func(id uint32) []byte { return extReplyPacket(id, encodeStatVFS(someStatVFS)) }, someStatVFS},
	{"Open", func(ctx context.Context, c *Client) (any, error) {
		return c.Open(ctx, "f", FlagWrite|FlagCreate|FlagTrunc, Attrs{Flags: AttrPermissions, Permissions: 0o600})
	}, func(id uint32) []byte { return framed(fxpOpen, u32(id), str("f"), u32(0x1a), u32(4), u32(0o600)) },
		func(id uint32) []byte { return handlePacket(id, "\x00h") }, Handle("\x00h")},
	{"Open read", func(ctx context.Context, c *Client) (any, error) { return c.Open(ctx, "f", FlagRead, Attrs{}) },
		func(id uint32) []byte { return framed(fxpOpen, u32(id), str("f"), u32(1), u32(0)) },
		func(id uint32) []byte { return handlePacket(id, "h") }, Handle("h")},
	{"Read", func(ctx context.Context, c *Client) (any, error) { return c.Read(ctx, "h", 1<<33+5, 10) },
		func(id uint32) []byte { return framed(fxpRead, u32(id), str("h"), u64(1<<33+5), u32(10)) },
		func(id uint32) []byte { return dataPacket(id, []byte("0123\x00")) }, []byte("0123\x00")},
	{"Write", func(ctx context.Context, c *Client) (any, error) { return nil, c.Write(ctx, "h", 7, []byte("ab\x00")) },
		func(id uint32) []byte { return framed(fxpWrite, u32(id), str("h"), u64(7), str("ab\x00")) }, ok, nil},
	{"CloseHandle", func(ctx context.Context, c *Client) (any, error) { return nil, c.CloseHandle(ctx, "h") },
		func(id uint32) []byte { return framed(fxpClose, u32(id), str("h")) }, ok, nil},
	{"Fstat", func(ctx context.Context, c *Client) (any, error) { return c.Fstat(ctx, "h") },
		func(id uint32) []byte { return framed(fxpFstat, u32(id), str("h")) },
		func(id uint32) []byte { return attrsPacket(id, withFlags(0x0f)) }, withFlags(0x0f)},
	{"Fsync", func(ctx context.Context, c *Client) (any, error) { return nil, c.Fsync(ctx, "h") },
		func(id uint32) []byte { return framed(fxpExtended, u32(id), str("fsync@openssh.com"), str("h")) }, ok, nil},
}

// goCall runs a call in a goroutine.
func goCall(ctx context.Context, c *Client, call func(context.Context, *Client) (any, error)) <-chan opResult {
	ch := make(chan opResult, 1)
	go func() {
		v, err := call(ctx, c)
		ch <- opResult{v, err}
	}()
	return ch
}

type opResult struct {
	v   any
	err error
}

func awaitOp(t *testing.T, ch <-chan opResult) opResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not return within 10 s")
	}
	panic("unreachable")
}

// TestOpsWire: each request's bytes, and what it returns for an answer
// that succeeds.
func TestOpsWire(t *testing.T) {
	for _, tt := range opCalls {
		t.Run(tt.name, func(t *testing.T) {
			c, f := startFakeVersion(t, Options{}, extVersion)
			ch := goCall(context.Background(), c, tt.call)
			r := f.next()
			if want := tt.wire(r.id); !bytes.Equal(r.raw, want) {
				t.Errorf("sent\n%q\nwant\n%q", r.raw, want)
			}
			f.send(tt.answer(r.id))
			got := awaitOp(t, ch)
			if got.err != nil {
				t.Fatal(got.err)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, got.v); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
			if err := c.Err(); err != nil {
				t.Errorf("Err() = %v", err)
			}
		})
	}
}

// TestOpsRefused: each request refused is the server's *StatusError as it
// came, and the client goes on; SSH_FX_OP_UNSUPPORTED matches
// ErrUnsupported as well.
func TestOpsRefused(t *testing.T) {
	for _, tt := range opCalls {
		t.Run(tt.name, func(t *testing.T) {
			c, f := startFakeVersion(t, Options{}, extVersion)
			for _, code := range []Code{NoSuchFile, PermissionDenied, Failure, OpUnsupported, FileAlreadyExists} {
				ch := goCall(context.Background(), c, tt.call)
				f.send(statusPacket(f.next().id, code, "said "+code.String()))
				got := awaitOp(t, ch)
				var se *StatusError
				if !errors.As(got.err, &se) || *se != (StatusError{Code: code, Message: "said " + code.String(), Lang: "en"}) {
					t.Fatalf("%v: err %#v, want the server's *StatusError", code, got.err)
				}
				if errors.Is(got.err, ErrUnsupported) != (code == OpUnsupported) {
					t.Errorf("%v: errors.Is(err, ErrUnsupported) = %v", code, !(code == OpUnsupported))
				}
				if errors.Is(got.err, fs.ErrNotExist) != (code == NoSuchFile) {
					t.Errorf("%v: errors.Is(err, fs.ErrNotExist) wrong", code)
				}
				if got.v != nil && !isZero(got.v) {
					t.Errorf("%v: a refused call returned %#v", code, got.v)
				}
			}
			if err := c.Err(); err != nil {
				t.Errorf("Err() = %v after refusals", err)
			}
		})
	}
}

func isZero(v any) bool {
	switch v := v.(type) {
	case Handle:
		return v == ""
	case []byte:
		return v == nil
	case Attrs:
		return cmp.Equal(v, Attrs{})
	case StatVFS:
		return v == StatVFS{}
	}
	return false
}

// TestOpsContextAndClose: a ctx already done sends nothing; a ctx ending
// while the call waits returns ctx's error and the late answer is
// dropped; a closed client fails every call with a *ClosedError.
func TestOpsContextAndClose(t *testing.T) {
	for _, tt := range opCalls {
		t.Run(tt.name, func(t *testing.T) {
			c, f := startFakeVersion(t, Options{}, extVersion)
			done, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := tt.call(done, c); !errors.Is(err, context.Canceled) {
				t.Fatalf("with ctx done: err %v", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			ch := goCall(ctx, c, tt.call)
			r := f.next()
			if want := tt.wire(r.id); !bytes.Equal(r.raw, want) {
				t.Errorf("after a ctx done, sent %q, want %q (the one not sent has no id)", r.raw, want)
			}
			cancel()
			if got := awaitOp(t, ch); !errors.Is(got.err, context.Canceled) {
				t.Fatalf("ctx ended while waiting: err %v", got.err)
			}
			f.send(tt.answer(r.id)) // dropped
			ch = goCall(context.Background(), c, tt.call)
			r = f.next()
			f.send(tt.answer(r.id))
			if got := awaitOp(t, ch); got.err != nil {
				t.Fatalf("after a dropped answer: %v", got.err)
			}
			c.Close()
			_, err := tt.call(context.Background(), c)
			closedBy(t, err, ErrClientClosed)
		})
	}
}

// TestOpsTimeout: a server that does not answer closes the client with
// ErrTimeout, whatever the request.
func TestOpsTimeout(t *testing.T) {
	for _, tt := range opCalls {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := startFakeVersion(t, Options{Timeout: testTimeout}, extVersion)
			ch := goCall(context.Background(), c, tt.call)
			f.next()
			closedBy(t, awaitOp(t, ch).err, ErrTimeout)
		})
	}
}

// TestOpsUnsupported: a request needing an extension the server did not
// announce, or announced in another version, fails with ErrUnsupported
// and sends nothing: the next request the server sees is the STAT after
// it.
func TestOpsUnsupported(t *testing.T) {
	calls := map[string]func(context.Context, *Client) error{
		"posix-rename@openssh.com": func(ctx context.Context, c *Client) error { return c.PosixRename(ctx, "a", "b") },
		"lsetstat@openssh.com":     func(ctx context.Context, c *Client) error { return c.Lsetstat(ctx, "a", Attrs{}) },
		"hardlink@openssh.com":     func(ctx context.Context, c *Client) error { return c.Hardlink(ctx, "a", "b") },
		"fsync@openssh.com":        func(ctx context.Context, c *Client) error { return c.Fsync(ctx, "h") },
		"statvfs@openssh.com":      func(ctx context.Context, c *Client) error { _, err := c.StatVFS(ctx, "/"); return err },
	}
	for ext, call := range calls {
		for _, v := range []Version{
			{Version: 3},
			{Version: 3, Extensions: []Extension{{ext, "99"}}},
			{Version: 3, Extensions: []Extension{{strings.ToUpper(ext), "1"}, {strings.Replace(ext, ".com", ".org", 1), "1"}}},
		} {
			c, f := startFakeVersion(t, Options{}, v)
			err := call(context.Background(), c)
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), ext) {
				t.Errorf("%s with %v: err %v, want ErrUnsupported naming the extension", ext, v.Extensions, err)
			}
			if k := proto.KindOf(err); k != proto.KindUnsupported {
				t.Errorf("%s: kind %q", ext, k)
			}
			var se *StatusError
			if errors.As(err, &se) {
				t.Errorf("%s: a *StatusError for a request never sent", ext)
			}
			ch := goStat(context.Background(), c, "next")
			r := f.expect(fxpStat)
			if r.arg != "next" {
				t.Errorf("%s: the next request is %q", ext, r.arg)
			}
			f.send(attrsPacket(r.id, Attrs{}))
			await(t, ch)
		}
	}
}

func TestHas(t *testing.T) {
	c, _ := startFakeVersion(t, Options{}, Version{Version: 3, Extensions: []Extension{{"a@example.com", ""}, {"b@example.com", "2"}}})
	for ext, want := range map[string]bool{"a@example.com": true, "b@example.com": true, "c@example.com": false, "": false, "A@example.com": false} {
		if got := c.Has(ext); got != want {
			t.Errorf("Has(%q) = %v", ext, got)
		}
	}
}

// TestSymlinkOrder: the paths' order SYMLINK sends under each value of
// symlink-order@rjk.greenend.org.uk, and an unknown value refused with
// nothing sent.
func TestSymlinkOrder(t *testing.T) {
	targetFirst := func(id uint32) []byte { return framed(fxpSymlink, u32(id), str("the target"), str("the link")) }
	linkFirst := func(id uint32) []byte { return framed(fxpSymlink, u32(id), str("the link"), str("the target")) }
	for _, tt := range []struct {
		name string
		exts []Extension
		wire func(id uint32) []byte // nil: refused
	}{
		{"none", nil, targetFirst},
		{"another server's extensions", []Extension{{"posix-rename@openssh.com", "1"}}, targetFirst},
		// The Green End server as Debian builds it.
		{"linkpath-targetpath", []Extension{{symlinkOrder, "linkpath-targetpath"}}, linkFirst},
		// Built with --enable-reversed-symlink.
		{"targetpath-linkpath", []Extension{{symlinkOrder, "targetpath-linkpath"}}, targetFirst},
		// Announced twice: the first counts.
		{"twice", []Extension{{symlinkOrder, "linkpath-targetpath"}, {symlinkOrder, "targetpath-linkpath"}}, linkFirst},
		{"unknown", []Extension{{symlinkOrder, "sideways"}}, nil},
		{"empty", []Extension{{symlinkOrder, ""}}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, f := startFakeVersion(t, Options{}, Version{Version: 3, Extensions: tt.exts})
			ch := goCall(context.Background(), c, func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Symlink(ctx, "the target", "the link")
			})
			if tt.wire == nil {
				err := awaitOp(t, ch).err
				if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), symlinkOrder) {
					t.Fatalf("err %v, want ErrUnsupported naming the extension", err)
				}
				ch := goStat(context.Background(), c, "next")
				f.send(attrsPacket(f.expect(fxpStat).id, Attrs{}))
				await(t, ch)
				return
			}
			r := f.expect(fxpSymlink)
			if want := tt.wire(r.id); !bytes.Equal(r.raw, want) {
				t.Errorf("sent %q, want %q", r.raw, want)
			}
			f.send(ok(r.id))
			if err := awaitOp(t, ch).err; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOpsNotSent: what the client refuses to send, with the client going
// on: attributes with flags draft-02 does not define, a WRITE that would
// not fit in a packet, a READ whose answer could not, and a READ of
// nothing (answered at once, as an io.Reader would).
func TestOpsNotSent(t *testing.T) {
	c, f := startFakeVersion(t, Options{}, extVersion)
	ctx := context.Background()
	odd := Attrs{Flags: AttrPermissions | 0x10, Permissions: 0o644}
	for name, err := range map[string]error{
		"Mkdir":    c.Mkdir(ctx, "d", odd),
		"Setstat":  c.Setstat(ctx, "f", odd),
		"Lsetstat": c.Lsetstat(ctx, "f", odd),
		"Open":     func() error { _, err := c.Open(ctx, "f", FlagRead, odd); return err }(),
	} {
		if err == nil || !strings.Contains(err.Error(), "0x10") {
			t.Errorf("%s with flags %#x: err %v", name, odd.Flags, err)
		}
	}
	if err := c.Write(ctx, "h", 0, make([]byte, MaxPacket)); !errors.Is(err, errRequestTooLong) {
		t.Errorf("Write of MaxPacket bytes: err %v", err)
	}
	// The longest WRITE that fits: its packet is MaxPacket bytes.
	longest := MaxPacket - (1 + 4 + 4 + 1 + 8 + 4)
	if err := c.Write(ctx, "h", 0, make([]byte, longest+1)); !errors.Is(err, errRequestTooLong) {
		t.Errorf("Write of %d bytes: err %v", longest+1, err)
	}
	if _, err := c.Read(ctx, "h", 0, MaxReadLength+1); !errors.Is(err, errReadTooLong) {
		t.Errorf("Read of MaxReadLength+1: err %v", err)
	}
	if d, err := c.Read(ctx, "h", 0, 0); d != nil || err != nil {
		t.Errorf("Read of 0 bytes: %q, %v", d, err)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	ch := goCall(ctx, c, func(ctx context.Context, c *Client) (any, error) {
		return nil, c.Write(ctx, "h", 0, make([]byte, longest))
	})
	r := f.expect(fxpWrite)
	if len(r.raw) != 4+MaxPacket {
		t.Errorf("the longest WRITE is %d bytes, want %d", len(r.raw), 4+MaxPacket)
	}
	f.send(ok(r.id))
	if err := awaitOp(t, ch).err; err != nil {
		t.Fatal(err)
	}
}

// TestReadAnswers: DATA as long as asked, shorter, empty; EOF; the
// longest DATA a packet holds.
func TestReadAnswers(t *testing.T) {
	c, f := startFake(t, Options{})
	ctx := context.Background()
	read := func(length uint32, answer func(id uint32) []byte) ([]byte, error) {
		ch := goCall(ctx, c, func(ctx context.Context, c *Client) (any, error) { return c.Read(ctx, "h", 0, length) })
		f.send(answer(f.expect(fxpRead).id))
		got := awaitOp(t, ch)
		d, _ := got.v.([]byte)
		return d, got.err
	}
	if d, err := read(4, func(id uint32) []byte { return dataPacket(id, []byte("abcd")) }); err != nil || string(d) != "abcd" {
		t.Errorf("as asked: %q, %v", d, err)
	}
	if d, err := read(4, func(id uint32) []byte { return dataPacket(id, []byte("ab")) }); err != nil || string(d) != "ab" {
		t.Errorf("short: %q, %v", d, err)
	}
	if d, err := read(4, func(id uint32) []byte { return statusPacket(id, EOF, "End of file") }); err != io.EOF || d != nil {
		t.Errorf("EOF: %q, %v; want io.EOF itself", d, err)
	}
	if d, err := read(4, func(id uint32) []byte { return dataPacket(id, nil) }); err != io.EOF || d != nil {
		t.Errorf("empty DATA: %q, %v; want io.EOF", d, err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), MaxReadLength/16+1)[:MaxReadLength]
	d, err := read(MaxReadLength, func(id uint32) []byte {
		p := dataPacket(id, big)
		if len(p) != 4+MaxPacket {
			t.Fatalf("the longest DATA is %d bytes, want %d", len(p), 4+MaxPacket)
		}
		return p
	})
	if err != nil || !bytes.Equal(d, big) {
		t.Errorf("the longest DATA: %d bytes, %v", len(d), err)
	}
}

// TestOpsProtocolErrors: answers to the new requests that break the
// protocol close the client.
func TestOpsProtocolErrors(t *testing.T) {
	read := func(ctx context.Context, c *Client) (any, error) { return c.Read(ctx, "h", 0, 4) }
	statvfs := func(ctx context.Context, c *Client) (any, error) { return c.StatVFS(ctx, "/") }
	mkdir := func(ctx context.Context, c *Client) (any, error) { return nil, c.Mkdir(ctx, "d", Attrs{}) }
	open := func(ctx context.Context, c *Client) (any, error) { return c.Open(ctx, "f", FlagRead, Attrs{}) }
	fsync := func(ctx context.Context, c *Client) (any, error) { return nil, c.Fsync(ctx, "h") }
	for _, tt := range []struct {
		name   string
		call   func(context.Context, *Client) (any, error)
		answer func(id uint32) []byte
		msg    string
	}{
		{"DATA longer than asked", read, func(id uint32) []byte { return dataPacket(id, []byte("abcde")) }, "holds 5 bytes, more than the 4 asked for"},
		{"DATA cut short", read, func(id uint32) []byte { return framed(fxpData, u32(id), u32(4), []byte("abc")) }, "cut short: data"},
		{"DATA without its length", read, func(id uint32) []byte { return framed(fxpData, u32(id), []byte{0, 0}) }, "cut short: data's length"},
		{"DATA longer than MaxPacket", read, func(id uint32) []byte { return cat(u32(MaxPacket+1), []byte{fxpData}) }, "longer than the 1048576 accepted"},
		{"ATTRS for READ", read, func(id uint32) []byte { return attrsPacket(id, Attrs{}) }, "ATTRS packet answers READ (id 1), which is answered with DATA or STATUS"},
		{"STATUS OK for READ", read, ok, "the answer to READ (id 1) is STATUS OK, without the DATA asked for"},
		{"DATA for STATVFS", statvfs, func(id uint32) []byte { return dataPacket(id, make([]byte, 88)) }, "a DATA packet answers EXTENDED statvfs@openssh.com"},
		{"STATUS OK for STATVFS", statvfs, ok, "the answer to EXTENDED statvfs@openssh.com (id 1) is STATUS OK, without the EXTENDED_REPLY"},
		{"EXTENDED_REPLY cut short", statvfs, func(id uint32) []byte { return extReplyPacket(id, make([]byte, statVFSSize-1)) }, "statvfs@openssh.com EXTENDED_REPLY packet: cut short"},
		{"EXTENDED_REPLY empty", statvfs, func(id uint32) []byte { return extReplyPacket(id, nil) }, "cut short"},
		{"EXTENDED_REPLY longer than MaxPacket", statvfs, func(id uint32) []byte { return cat(u32(0xFFFFFFFF), []byte{fxpExtendedReply}) }, "longer than"},
		{"EXTENDED_REPLY for FSYNC", fsync, func(id uint32) []byte { return extReplyPacket(id, nil) }, "EXTENDED_REPLY packet answers EXTENDED fsync@openssh.com (id 1), which is answered with STATUS"},
		{"HANDLE for MKDIR", mkdir, func(id uint32) []byte { return handlePacket(id, "h") }, "a HANDLE packet answers MKDIR (id 1), which is answered with STATUS"},
		{"NAME for OPEN", open, func(id uint32) []byte { return namePacket(id) }, "a NAME packet answers OPEN"},
		{"STATUS OK for OPEN", open, ok, "without the HANDLE asked for"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, f := startFakeVersion(t, Options{Timeout: 10 * time.Second}, extVersion)
			ch := goCall(context.Background(), c, tt.call)
			f.send(tt.answer(f.next().id))
			err := awaitOp(t, ch).err
			closedBy(t, err, nil)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err %q does not say %q", err, tt.msg)
			}
			if !f.client.isClosed() {
				t.Error("the stream is not closed")
			}
			checkNoLeaks(t)
		})
	}
}

// TestStatVFSTrailing: bytes after the eleven fields are ignored, as
// after any answer's last field.
func TestStatVFSTrailing(t *testing.T) {
	c, f := startFakeVersion(t, Options{}, extVersion)
	ch := goCall(context.Background(), c, func(ctx context.Context, c *Client) (any, error) { return c.StatVFS(ctx, "/") })
	f.send(extReplyPacket(f.next().id, cat(encodeStatVFS(someStatVFS), []byte("more"))))
	got := awaitOp(t, ch)
	if got.err != nil || got.v != someStatVFS {
		t.Fatalf("got %+v, %v", got.v, got.err)
	}
}
