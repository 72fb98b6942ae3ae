package proto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// result is what one ReadRequest call gave, in a form cmp can show.
type result struct {
	ID     string // raw JSON of the id, "" when there is none
	Op     Op
	Bad    string // BadRequest.Reason
	Broken string // text of an error wrapping ErrStreamBroken
}

// readAll calls ReadRequest until io.EOF or a broken stream and returns what
// each call gave. It checks that both ends are sticky.
func readAll(t testing.TB, c Codec) []result {
	t.Helper()
	var got []result
	for range 10000 {
		req, err := c.ReadRequest()
		var bad *BadRequest
		switch {
		case err == nil:
			if req == nil || req.Op == nil {
				t.Fatalf("ReadRequest returned request %#v and no error", req)
			}
			got = append(got, result{ID: string(req.ID), Op: req.Op})
		case err == io.EOF:
			if _, err := c.ReadRequest(); err != io.EOF {
				t.Fatalf("ReadRequest after io.EOF = %v, want io.EOF again", err)
			}
			return got
		case errors.As(err, &bad):
			if req != nil {
				t.Fatalf("ReadRequest returned both %#v and %v", req, err)
			}
			got = append(got, result{ID: string(bad.ID), Bad: bad.Reason})
		case errors.Is(err, ErrStreamBroken):
			if _, err2 := c.ReadRequest(); err2 != err {
				t.Fatalf("ReadRequest after %v = %v, want the same error again", err, err2)
			}
			return append(got, result{Broken: err.Error()})
		default:
			t.Fatalf("ReadRequest: unexpected error %#v", err)
		}
	}
	t.Fatal("ReadRequest did not reach the end of input")
	return nil
}

func readString(t testing.TB, in string, f Framing) []result {
	t.Helper()
	return readAll(t, NewCodec(strings.NewReader(in), io.Discard, f, testCommands))
}

// frame puts s in a binary frame.
func frame(s string) string {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(s)))
	return string(hdr[:]) + s
}

func TestReadText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []result
	}{
		{"empty input", "", nil},
		{"blank lines only", "\n \n\t\r\n\r\n  ", nil},
		{
			"one line",
			`{"command":"PUT","args":{"source":"a.txt","dest":"/up/a.txt"}}` + "\n",
			[]result{{Op: Put{Source: "a.txt", Dest: "/up/a.txt"}}},
		},
		{
			"CRLF",
			`{"command":"GET","args":{"source":"/r","dest":"l"}}` + "\r\n" +
				`{"command":"DELETE","args":{"path":"/r"}}` + "\r\n",
			[]result{{Op: Get{Source: "/r", Dest: "l"}}, {Op: Delete{Path: "/r"}}},
		},
		{
			"blank lines between and around",
			"\n   \n\t\r\n" +
				`{"command":"LISTDIR","args":{"path":"/"}}` + "\n\n\r\n" +
				`{"command":"LISTDIR","args":{"path":"/a"}}` + "\n \n",
			[]result{{Op: ListDir{Path: "/"}}, {Op: ListDir{Path: "/a"}}},
		},
		{
			"last line without LF",
			`{"command":"DELETE","args":{"path":"a"}}` + "\n" + `{"command":"DELETE","args":{"path":"b"}}`,
			[]result{{Op: Delete{Path: "a"}}, {Op: Delete{Path: "b"}}},
		},
		{
			"last line ends in CR without LF",
			`{"command":"DELETE","args":{"path":"b"}}` + "\r",
			[]result{{Op: Delete{Path: "b"}}},
		},
		{
			"white space inside and around the object",
			" \t{ \"command\" : \"delete\" ,\r\"args\" : { \"path\" : \"a b\" } } \t\n",
			[]result{{Op: Delete{Path: "a b"}}},
		},
		{
			"command names in any case",
			`{"command":"put","args":{"source":"s","dest":"d"}}` + "\n" +
				`{"command":"gEt","args":{"source":"s","dest":"d"}}` + "\n" +
				`{"command":"ListDir","args":{"path":"p"}}` + "\n" +
				`{"command":"Delete","args":{"path":"p"}}` + "\n",
			[]result{
				{Op: Put{Source: "s", Dest: "d"}},
				{Op: Get{Source: "s", Dest: "d"}},
				{Op: ListDir{Path: "p"}},
				{Op: Delete{Path: "p"}},
			},
		},
		{
			"ids are echoed verbatim",
			`{"command":"DELETE","args":{"path":"p"},"id":7}` + "\n" +
				`{"id":-2.50e3,"command":"DELETE","args":{"path":"p"}}` + "\n" +
				`{"command":"DELETE","args":{"path":"p"},"id":"req-\u00e9<&>"}` + "\n" +
				`{"command":"DELETE","args":{"path":"p"},"id":{"a": [1, 2], "b":null}}` + "\n" +
				`{"command":"DELETE","args":{"path":"p"},"id":null}` + "\n" +
				`{"command":"DELETE","args":{"path":"p"},"id": true }` + "\n" +
				`{"command":"DELETE","args":{"path":"p"}}` + "\n",
			[]result{
				{ID: `7`, Op: Delete{Path: "p"}},
				{ID: `-2.50e3`, Op: Delete{Path: "p"}},
				{ID: `"req-\u00e9<&>"`, Op: Delete{Path: "p"}},
				{ID: `{"a": [1, 2], "b":null}`, Op: Delete{Path: "p"}},
				{ID: `null`, Op: Delete{Path: "p"}},
				{ID: `true`, Op: Delete{Path: "p"}},
				{Op: Delete{Path: "p"}},
			},
		},
		{
			"arguments are passed on exactly",
			`{"command":"PUT","args":{"source":" -rf $(x) ; \"q\" \\ \n","dest":"\u00e9\ud83d\ude00/\\ud800"}}`,
			[]result{{Op: Put{Source: " -rf $(x) ; \"q\" \\ \n", Dest: "é😀/\\ud800"}}},
		},
		{
			"a bad line does not stop the stream",
			"nonsense\n" + `{"command":"DELETE","args":{"path":"p"}}` + "\n",
			[]result{
				{Bad: "request is not valid JSON: invalid character 'o' in literal null (expecting 'u')"},
				{Op: Delete{Path: "p"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []Framing{FramingText, FramingAuto} {
				if f == FramingAuto && tt.in != "" && !strings.ContainsAny(tt.in[:1], "{ \t\r\n") {
					continue // auto would read it as binary
				}
				got := readString(t, tt.in, f)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%v framing: results mismatch (-want +got):\n%s", f, diff)
				}
			}
		})
	}
}

func TestReadBinary(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []result
	}{
		{"empty input", "", nil},
		{
			"one frame, written out",
			"\x00\x00\x00\x28" + `{"command":"delete","args":{"path":"x"}}`,
			[]result{{Op: Delete{Path: "x"}}},
		},
		{
			"two frames with an id",
			"\x00\x00\x00\x30" + `{"command":"LISTDIR","args":{"path":"/"},"id":1}` +
				"\x00\x00\x00\x28" + `{"command":"delete","args":{"path":"x"}}`,
			[]result{{ID: "1", Op: ListDir{Path: "/"}}, {Op: Delete{Path: "x"}}},
		},
		{
			"payload may hold newlines and white space",
			frame("\n\r\n {\"command\":\"GET\",\n\"args\":{\"source\":\"a\",\"dest\":\"b\"}}\n"),
			[]result{{Op: Get{Source: "a", Dest: "b"}}},
		},
		{
			"zero-length frame is a bad request and reading goes on",
			"\x00\x00\x00\x00" + "\x00\x00\x00\x28" + `{"command":"delete","args":{"path":"x"}}`,
			[]result{{Bad: "empty frame"}, {Op: Delete{Path: "x"}}},
		},
		{
			"bad payload and reading goes on",
			"\x00\x00\x00\x02{}" + "\x00\x00\x00\x28" + `{"command":"delete","args":{"path":"x"}}`,
			[]result{{Bad: `missing "command"`}, {Op: Delete{Path: "x"}}},
		},
		{
			"length just over MaxFrame",
			"\x01\x00\x00\x01" + strings.Repeat("x", 100),
			[]result{{Broken: "request stream broken: frame length 16777217 is over the maximum 16777216"}},
		},
		{
			"largest length",
			"\x00\x00\x00\x28" + `{"command":"delete","args":{"path":"x"}}` + "\xff\xff\xff\xff",
			[]result{
				{Op: Delete{Path: "x"}},
				{Broken: "request stream broken: frame length 4294967295 is over the maximum 16777216"},
			},
		},
		{
			"header cut short",
			"\x00\x00\x00\x28" + `{"command":"delete","args":{"path":"x"}}` + "\x00\x00",
			[]result{
				{Op: Delete{Path: "x"}},
				{Broken: "request stream broken: input ends inside a frame header (2 of 4 bytes)"},
			},
		},
		{
			"payload cut short",
			"\x00\x00\x00\x28" + `{"command":"delete","args":{"path":"x"}`,
			[]result{{Broken: "request stream broken: input ends inside a frame (39 of 40 bytes)"}},
		},
		{
			"large payload cut short",
			"\x00\x10\x00\x00" + strings.Repeat(" ", 100000),
			[]result{{Broken: "request stream broken: input ends inside a frame (100000 of 1048576 bytes)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readString(t, tt.in, FramingBinary)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadAuto(t *testing.T) {
	const del = `{"command":"delete","args":{"path":"x"}}`
	tests := []struct {
		name        string
		in          string
		want        []result
		wantFraming Framing
	}{
		{"nothing read", "", nil, FramingAuto},
		{"brace means text", del + "\n", []result{{Op: Delete{Path: "x"}}}, FramingText},
		{"space means text", " " + del, []result{{Op: Delete{Path: "x"}}}, FramingText},
		{"tab means text", "\t" + del, []result{{Op: Delete{Path: "x"}}}, FramingText},
		{"CR means text", "\r\n" + del, []result{{Op: Delete{Path: "x"}}}, FramingText},
		{"LF means text", "\n\n" + del, []result{{Op: Delete{Path: "x"}}}, FramingText},
		{"zero byte means binary", "\x00\x00\x00\x28" + del, []result{{Op: Delete{Path: "x"}}}, FramingBinary},
		{
			"text that does not start right is read as binary",
			"[" + del,
			[]result{{Broken: `request stream broken: frame length 1534796387 is over the maximum 16777216 (binary framing was chosen from the first byte, 0x5b; text input must start with '{' or white space)`}},
			FramingBinary,
		},
		{
			"a UTF-8 BOM is not text",
			"\xef\xbb\xbf" + del,
			[]result{{Broken: `request stream broken: frame length 4022058875 is over the maximum 16777216 (binary framing was chosen from the first byte, 0xef; text input must start with '{' or white space)`}},
			FramingBinary,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCodec(strings.NewReader(tt.in), io.Discard, FramingAuto, testCommands)
			got := readAll(t, c)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results mismatch (-want +got):\n%s", diff)
			}
			if f := Framing(c.(*codec).framing.Load()); f != tt.wantFraming {
				t.Errorf("framing = %v, want %v", f, tt.wantFraming)
			}
		})
	}
}

// TestBadRequests runs every kind of bad payload through both framings.
func TestBadRequests(t *testing.T) {
	tests := []struct {
		payload string
		want    result
	}{
		// Not JSON, or not an object.
		{`nonsense`, result{Bad: "request is not valid JSON: invalid character 'o' in literal null (expecting 'u')"}},
		{`{"command":"put"`, result{Bad: "request is not valid JSON: unexpected end of JSON input"}},
		{`{"command":"put"} {}`, result{Bad: "request is not valid JSON: invalid character '{' after top-level value"}},
		{`{"command":"put",}`, result{Bad: "request is not valid JSON: invalid character '}' looking for beginning of object key string"}},
		{`[1,2]`, result{Bad: "request is not a JSON object"}},
		{`"put"`, result{Bad: "request is not a JSON object"}},
		{`42`, result{Bad: "request is not a JSON object"}},
		{`null`, result{Bad: "request is not a JSON object"}},
		{"{\"command\":\"delete\",\"args\":{\"path\":\"a\xffb\"},\"id\":1}", result{Bad: `request is not valid UTF-8 (in a string, write each byte 0x80..0xff that is not part of UTF-8 as the escape \udc80..\udcff, U+DC00 + the byte, as Python's surrogateescape does)`}},
		{"{\"command\":\"delete\",\"args\":{\"path\":\"\xed\xa0\x80\"}}", result{Bad: `request is not valid UTF-8 (in a string, write each byte 0x80..0xff that is not part of UTF-8 as the escape \udc80..\udcff, U+DC00 + the byte, as Python's surrogateescape does)`}},

		// Top level keys and the command.
		{`{}`, result{Bad: `missing "command"`}},
		{`{"id":7}`, result{ID: "7", Bad: `missing "command"`}},
		{`{"command":1,"id":"x"}`, result{ID: `"x"`, Bad: `"command" must be a string`}},
		{`{"command":null}`, result{Bad: `"command" must be a string`}},
		{`{"command":["put"]}`, result{Bad: `"command" must be a string`}},
		{`{"command":"FROB","id":[1]}`, result{ID: "[1]", Bad: `unknown command "FROB"`}},
		{`{"command":""}`, result{Bad: `unknown command ""`}},
		{`{"command":" put"}`, result{Bad: `unknown command " put"`}},
		{`{"command":"liſtdir","args":{"path":"p"}}`, result{Bad: `unknown command "liſtdir"`}},
		{`{"command":"` + strings.Repeat("x", 100) + `"}`, result{Bad: `unknown command "` + strings.Repeat("x", 64) + `"...`}},
		{`{"command":"` + strings.Repeat("x", 63) + `é"}`, result{Bad: `unknown command "` + strings.Repeat("x", 63) + `"...`}},
		{`{"command":"delete","args":{"path":"p"},"extra":1,"id":2}`, result{ID: "2", Bad: `unknown key "extra"`}},
		{`{"Command":"delete","args":{"path":"p"}}`, result{Bad: `unknown key "Command"`}},
		{`{"zz":1,"command":"delete","aa":2}`, result{Bad: `unknown key "aa"`}},

		// The args object.
		{`{"command":"put","id":0}`, result{ID: "0", Bad: `PUT: missing "args"`}},
		{`{"command":"put","args":null}`, result{Bad: `PUT: missing "args"`}},
		{`{"command":"listdir","args":[]}`, result{Bad: `LISTDIR: "args" must be an object`}},
		{`{"command":"listdir","args":"/tmp"}`, result{Bad: `LISTDIR: "args" must be an object`}},
		{`{"command":"listdir","args":0}`, result{Bad: `LISTDIR: "args" must be an object`}},

		// Arguments.
		{`{"command":"put","args":{}}`, result{Bad: `PUT: missing argument "source"`}},
		{`{"command":"put","args":{"source":"a"}}`, result{Bad: `PUT: missing argument "dest"`}},
		{`{"command":"get","args":{"dest":"a"}}`, result{Bad: `GET: missing argument "source"`}},
		{`{"command":"put","args":{"source":"","dest":"b"}}`, result{Bad: `PUT: argument "source" must not be empty`}},
		{`{"command":"put","args":{"source":"a","dest":""}}`, result{Bad: `PUT: argument "dest" must not be empty`}},
		{`{"command":"delete","args":{"path":""},"id":"d"}`, result{ID: `"d"`, Bad: `DELETE: argument "path" must not be empty`}},
		{`{"command":"listdir","args":{"path":""}}`, result{Bad: `LISTDIR: argument "path" must not be empty`}},
		{`{"command":"get","args":{"source":"a","dest":5}}`, result{Bad: `GET: argument "dest" must be a string`}},
		{`{"command":"get","args":{"source":null,"dest":"b"}}`, result{Bad: `GET: argument "source" must be a string`}},
		{`{"command":"delete","args":{"path":["x"]}}`, result{Bad: `DELETE: argument "path" must be a string`}},
		{`{"command":"delete","args":{"path":{}}}`, result{Bad: `DELETE: argument "path" must be a string`}},
		{`{"command":"delete","args":{"path":true}}`, result{Bad: `DELETE: argument "path" must be a string`}},
		{`{"command":"delete","args":{"path":"x","force":true}}`, result{Bad: `DELETE: unknown argument "force"`}},
		{`{"command":"delete","args":{"Path":"x"}}`, result{Bad: `DELETE: unknown argument "Path"`}},
		{`{"command":"put","args":{"src":"a","dest":"b"}}`, result{Bad: `PUT: unknown argument "src"`}},
		{`{"command":"put","args":{"source":"a","dest":"b","path":"c"}}`, result{Bad: `PUT: unknown argument "path"`}},
		{`{"command":"delete","args":{"path":"a\ud800b"}}`, result{Bad: `DELETE: argument "path" has a \u escape of a lone UTF-16 surrogate`}},
		{`{"command":"delete","args":{"path":"\uDC00"}}`, result{Bad: `DELETE: argument "path" has \udc00, a \u escape of a lone low surrogate that stands for no byte (alone, only \udc80..\udcff may appear, each for one byte 0x80..0xff)`}},
		{`{"command":"delete","args":{"path":"\ud800\ud800"}}`, result{Bad: `DELETE: argument "path" has a \u escape of a lone UTF-16 surrogate`}},
		{`{"command":"delete","args":{"path":"\ude00\ud83d"}}`, result{Bad: `DELETE: argument "path" has \ude00, a \u escape of a lone low surrogate that stands for no byte (alone, only \udc80..\udcff may appear, each for one byte 0x80..0xff)`}},

		// Duplicate keys, at any depth, after unescaping. A filter or log
		// reader may act on the first one while a decoder acts on the last.
		{`{"command":"LISTDIR","command":"DELETE","args":{"path":"/tmp/dupA"}}`, result{Bad: `duplicate key "command"`}},
		{`{"command":"DELETE","args":{"path":"a","path":"b"},"id":3}`, result{ID: "3", Bad: `duplicate key "path"`}},
		{`{"command":"DELETE","args":{"path":"a","path":"a"}}`, result{Bad: `duplicate key "path"`}},
		{`{"command":"DELETE","args":{"path":"a"},"args":{"path":"b"},"id":"x"}`, result{ID: `"x"`, Bad: `duplicate key "args"`}},
		{`{"id":1,"command":"DELETE","args":{"path":"a"},"id":2}`, result{Bad: `duplicate key "id"`}},
		{`{"command":"DELETE","\u0063ommand":"LISTDIR","args":{"path":"a"}}`, result{Bad: `duplicate key "command"`}},
		{`{"command":"DELETE","args":{"p\u0061th":"a","path":"b"}}`, result{Bad: `duplicate key "path"`}},
		{`{"command":"DELETE","args":{"path":"a"},"id":{"x":1,"x":2}}`, result{ID: `{"x":1,"x":2}`, Bad: `duplicate key "x"`}},
		{`{"id":[{"k":1},{"k":2,"k":3}],"command":"DELETE","args":{"path":"a"}}`, result{ID: `[{"k":1},{"k":2,"k":3}]`, Bad: `duplicate key "k"`}},
		{`{"command":"DELETE","args":{"path":"a","x":{"y":[1,{"z":0,"z":0}]}}}`, result{Bad: `duplicate key "z"`}},
		{`{"command":"FROB","id":{"` + strings.Repeat("k", 100) + `":1,"` + strings.Repeat("k", 100) + `":2}}`, result{ID: `{"` + strings.Repeat("k", 100) + `":1,"` + strings.Repeat("k", 100) + `":2}`, Bad: `duplicate key "` + strings.Repeat("k", 64) + `"...`}},
		{`{"command":"DELETE","args":{"path":"a"},"id":` + manyKeys(40, "k7") + `}`, result{ID: manyKeys(40, "k7"), Bad: `duplicate key "k7"`}},
		{`{"command":"DELETE","args":{"path":"a"},"id":` + manyKeys(40, "k\u0037") + `}`, result{ID: manyKeys(40, "k\u0037"), Bad: `duplicate key "k7"`}},
		{`{"command":"DELETE","args":{"path":"a"},"id":` + manyKeys(5, "k3") + `}`, result{ID: manyKeys(5, "k3"), Bad: `duplicate key "k3"`}},

		// Near misses that are fine.
		{`{"command":"delete","args":{"path":"\ud83d\ude00"}}`, result{Op: Delete{Path: "😀"}}},
		{`{"command":"delete","args":{"path":"\\ud800"}}`, result{Op: Delete{Path: `\ud800`}}},
		{`{"command":"delete","args":{"path":"\\\ud83d\uDE00"}}`, result{Op: Delete{Path: `\😀`}}},
		{`{"command":"delete","args":{"path":"\ufffd"}}`, result{Op: Delete{Path: "\ufffd"}}},
		{`{"command":"delete","args":{"path":" "}}`, result{Op: Delete{Path: " "}}},
		{`{"command":"delete","args":{"path":"p"},"id":null}`, result{ID: "null", Op: Delete{Path: "p"}}},
		{`{"command":"delete","args":{"path":"p"},"id":{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}}`, result{ID: `{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}`, Op: Delete{Path: "p"}}},
		{`{"command":"delete","args":{"path":"p"},"id":` + manyKeys(40, "") + `}`, result{ID: manyKeys(40, ""), Op: Delete{Path: "p"}}},
		{`{"command":"delete","args":{"path":"p"},"id":{"k":1,"K":2,"k ":3,"\\u006b":4}}`, result{ID: `{"k":1,"K":2,"k ":3,"\\u006b":4}`, Op: Delete{Path: "p"}}},
		{`{"comm\u0061nd":"delete","args":{"p\u0061th":"p"}}`, result{Op: Delete{Path: "p"}}},
	}
	const good = `{"command":"DELETE","args":{"path":"next"}}`
	for _, tt := range tests {
		want := []result{tt.want, {Op: Delete{Path: "next"}}}
		got := readString(t, tt.payload+"\n"+good+"\n", FramingText)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("text %q: results mismatch (-want +got):\n%s", tt.payload, diff)
		}
		got = readString(t, frame(tt.payload)+frame(good), FramingBinary)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("binary %q: results mismatch (-want +got):\n%s", tt.payload, diff)
		}
	}
}

// manyKeys returns a JSON object with n distinct keys k0, k1, ..., and then
// the key extra if it is not "".
func manyKeys(n int, extra string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	if extra != "" {
		fmt.Fprintf(&b, `"%s":true,`, extra)
	}
	return strings.TrimSuffix(b.String(), ",") + "}"
}

// deleteOfSize returns a DELETE request exactly n bytes long.
func deleteOfSize(n int) string {
	const head, tail = `{"command":"DELETE","args":{"path":"`, `"}}`
	return head + strings.Repeat("p", n-len(head)-len(tail)) + tail
}

func TestMaxFrame(t *testing.T) {
	atMax := deleteOfSize(MaxFrame)
	wantAtMax := result{Op: Delete{Path: strings.Repeat("p", MaxFrame-len(`{"command":"DELETE","args":{"path":""}}`))}}
	// Lines that are not JSON are cheaper to decode, which matters under
	// -race; the reason shows whether the line reached the JSON decoder.
	junkAtMax := "nonsense" + strings.Repeat(" ", MaxFrame-len("nonsense"))
	junk := result{Bad: "request is not valid JSON: invalid character 'o' in literal null (expecting 'u')"}
	junkOverMax := junkAtMax + "x"
	tooLong := result{Bad: "line longer than 16777216 bytes"}
	good := `{"command":"DELETE","args":{"path":"next"}}`
	next := result{Op: Delete{Path: "next"}}

	tests := []struct {
		name string
		in   string
		f    Framing
		want []result
	}{
		{"text line of MaxFrame", atMax + "\n" + good, FramingText, []result{wantAtMax, next}},
		{"text line of MaxFrame with CRLF", junkAtMax + "\r\n" + good, FramingText, []result{junk, next}},
		{"text line of MaxFrame at EOF", junkAtMax, FramingText, []result{junk}},
		{"text line of MaxFrame with CR at EOF", junkAtMax + "\r", FramingText, []result{junk}},
		{"text line of MaxFrame+1", junkOverMax + "\n" + good, FramingText, []result{tooLong, next}},
		{"text line of MaxFrame+1 with CRLF", junkOverMax + "\r\n" + good, FramingText, []result{tooLong, next}},
		{"text line of MaxFrame+1 at EOF", junkOverMax, FramingText, []result{tooLong}},
		{"text line of MaxFrame+1 ending in CR at EOF", junkOverMax + "\r", FramingText, []result{tooLong}},
		{"text line of MaxFrame+2 ending in CRLF", junkOverMax + "\r\r\n" + good, FramingText, []result{tooLong, next}},
		{"text line of 3*MaxFrame", strings.Repeat("x", 3*MaxFrame) + "\n" + good + "\n", FramingText, []result{tooLong, next}},
		{"blank line over MaxFrame", strings.Repeat(" ", MaxFrame+3) + "\n\n" + good, FramingText, []result{tooLong, next}},
		{"binary frame of MaxFrame", frame(atMax) + frame(good), FramingBinary, []result{wantAtMax, next}},
		{"binary frame of MaxFrame twice", frame(junkAtMax) + frame(junkAtMax), FramingBinary, []result{junk, junk}},
		{
			"binary frame of MaxFrame+1", frame(junkOverMax) + frame(good), FramingBinary,
			[]result{{Broken: "request stream broken: frame length 16777217 is over the maximum 16777216"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readString(t, tt.in, tt.f)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// endless reads as n bytes of b followed by tail, without holding them.
type endless struct {
	b    byte
	n    int
	tail string
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n > 0 {
		k := min(len(p), e.n)
		for i := range p[:k] {
			p[i] = e.b
		}
		e.n -= k
		return k, nil
	}
	if e.tail == "" {
		return 0, io.EOF
	}
	k := copy(p, e.tail)
	e.tail = e.tail[k:]
	return k, nil
}

// allocated returns the bytes allocated while running f.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestLongLineIsNotBuffered(t *testing.T) {
	const lineSize = 256 << 20
	in := &endless{b: 'x', n: lineSize, tail: "\n" + `{"command":"DELETE","args":{"path":"next"}}` + "\n"}
	var got []result
	n := allocated(func() {
		got = readAll(t, NewCodec(in, io.Discard, FramingText, testCommands))
	})
	want := []result{{Bad: "line longer than 16777216 bytes"}, {Op: Delete{Path: "next"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results mismatch (-want +got):\n%s", diff)
	}
	// Its first MaxFrame bytes are gathered, once; the rest is skipped.
	t.Logf("reading a %d-byte line allocated %d bytes", lineSize, n)
	if n > MaxFrame+1<<20 {
		t.Errorf("reading a %d-byte line allocated %d bytes, want at most %d", lineSize, n, MaxFrame+1<<20)
	}
}

// TestOverlongLineCostsAtMostMaxFrame reads a 20 MiB text line, made as it
// is read, and the request after it. What it allocates must stay below the
// line's length: its first MaxFrame bytes may be held, as they could still
// be a valid request, but nothing more, and not twice over by a buffer
// grown by doubling.
func TestOverlongLineCostsAtMostMaxFrame(t *testing.T) {
	const lineSize = 20 << 20
	const budget = MaxFrame + 1<<20
	for _, first := range []string{"x", `{"command":"DELETE","args":{"path":"`} {
		in := io.MultiReader(strings.NewReader(first),
			&endless{b: 'p', n: lineSize - len(first), tail: "\n" + `{"command":"DELETE","args":{"path":"next"}}` + "\n"})
		var got []result
		n := allocated(func() {
			got = readAll(t, NewCodec(in, io.Discard, FramingText, testCommands))
		})
		want := []result{{Bad: "line longer than 16777216 bytes"}, {Op: Delete{Path: "next"}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("results mismatch (-want +got):\n%s", diff)
		}
		t.Logf("reading a %d-byte line starting %q allocated %d bytes", lineSize, first, n)
		if n > budget {
			t.Errorf("reading a %d-byte line starting %q allocated %d bytes, want at most %d", lineSize, first, n, budget)
		}
	}
}

func TestHugeLengthAllocatesNothing(t *testing.T) {
	in := &endless{b: 0xff, n: 1 << 30}
	var err error
	n := allocated(func() {
		_, err = NewCodec(in, io.Discard, FramingBinary, testCommands).ReadRequest()
	})
	if !errors.Is(err, ErrStreamBroken) {
		t.Fatalf("ReadRequest = %v, want ErrStreamBroken", err)
	}
	if n > 1<<20 {
		t.Errorf("refusing a 4 GiB length allocated %d bytes", n)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadErrorBreaksStream(t *testing.T) {
	for _, f := range []Framing{FramingAuto, FramingText, FramingBinary} {
		r := io.MultiReader(strings.NewReader(`{"command":"DELETE","args":{"path":"p"}}`), failingReader{})
		if f == FramingBinary {
			r = io.MultiReader(strings.NewReader("\x00\x00\x00"), failingReader{})
		}
		c := NewCodec(r, io.Discard, f, testCommands)
		_, err := c.ReadRequest()
		if !errors.Is(err, ErrStreamBroken) || !strings.Contains(err.Error(), "disk on fire") {
			t.Errorf("%v: ReadRequest = %v, want ErrStreamBroken saying why", f, err)
		}
	}
}

// TestReadDoesNotReadAhead checks that a request is returned as soon as its
// last byte arrives: the next request may not have been written yet.
func TestReadDoesNotReadAhead(t *testing.T) {
	const del = `{"command":"DELETE","args":{"path":"p"}}`
	for _, tt := range []struct {
		f     Framing
		first string
	}{
		{FramingText, del + "\n"},
		{FramingAuto, del + "\n"},
		{FramingBinary, frame(del)},
	} {
		pr, pw := io.Pipe()
		c := NewCodec(pr, io.Discard, tt.f, testCommands)
		go pw.Write([]byte(tt.first)) // then blocks: no more input, no EOF
		if _, err := c.ReadRequest(); err != nil {
			t.Errorf("%v: ReadRequest = %v", tt.f, err)
		}
		pw.Close()
	}
}

func TestWriteResponse(t *testing.T) {
	tests := []struct {
		name       string
		resp       *Response
		text, bin  string
		wantErrStr string
	}{
		{
			name: "ok with id",
			resp: OK(json.RawMessage("1"), nil),
			text: `{"status":"ok","message":"","data":null,"id":1}` + "\n",
			bin:  "\x00\x00\x00\x2f" + `{"status":"ok","message":"","data":null,"id":1}`,
		},
		{
			name: "fail without id, no HTML escaping",
			resp: Fail(nil, "a<b>&c"),
			text: `{"status":"fail","message":"a<b>&c","data":null}` + "\n",
			bin:  "\x00\x00\x00\x30" + `{"status":"fail","message":"a<b>&c","data":null}`,
		},
		{
			name: "error with data, id compacted but not escaped",
			resp: &Response{
				Status:  StatusError,
				Message: "no such file: /r/<x>",
				Data:    map[string]any{"entries": []string{"a&b", "é\u2028"}},
				ID:      json.RawMessage(`{"k": ["<&>", 2]}`),
			},
			// encoding/json escapes U+2028 in strings it encodes, which is
			// still valid JSON; it never escapes <, > or & here.
			text: `{"status":"error","message":"no such file: /r/<x>","data":{"entries":["a&b","é\u2028"]},"id":{"k":["<&>",2]}}` + "\n",
			bin:  "\x00\x00\x00\x6e" + `{"status":"error","message":"no such file: /r/<x>","data":{"entries":["a&b","é\u2028"]},"id":{"k":["<&>",2]}}`,
		},
		{
			name: "message with newline stays on one line",
			resp: Fail(json.RawMessage(`"x"`), "line1\nline2\r"),
			text: `{"status":"fail","message":"line1\nline2\r","data":null,"id":"x"}` + "\n",
			bin:  "\x00\x00\x00\x41" + `{"status":"fail","message":"line1\nline2\r","data":null,"id":"x"}`,
		},
		{
			name: "progress report",
			resp: &Response{Status: StatusProgress, Data: map[string]int64{"bytes": 1 << 40, "total": 1<<40 + 1}, ID: json.RawMessage(`7`)},
			text: `{"status":"progress","message":"","data":{"bytes":1099511627776,"total":1099511627777},"id":7}` + "\n",
			bin:  "\x00\x00\x00\x5e" + `{"status":"progress","message":"","data":{"bytes":1099511627776,"total":1099511627777},"id":7}`,
		},
		{name: "unknown status", resp: &Response{Status: "OK"}, wantErrStr: `proto: invalid response status "OK"`},
		{name: "empty status", resp: &Response{}, wantErrStr: `proto: invalid response status ""`},
		{name: "nil", resp: nil, wantErrStr: "proto: nil response"},
		{
			name:       "data that is not JSON",
			resp:       OK(nil, func() {}),
			wantErrStr: "proto: encoding response: json: unsupported type: func()",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []Framing{FramingText, FramingBinary} {
				var out bytes.Buffer
				c := NewCodec(strings.NewReader(""), &out, f, testCommands)
				// Twice, so that reusing the codec's buffer is tested too.
				for range 2 {
					err := c.WriteResponse(tt.resp)
					if tt.wantErrStr != "" {
						if err == nil || err.Error() != tt.wantErrStr {
							t.Errorf("%v: WriteResponse = %v, want %q", f, err, tt.wantErrStr)
						}
						continue
					}
					if err != nil {
						t.Errorf("%v: WriteResponse: %v", f, err)
					}
				}
				want := strings.Repeat(tt.text, 2)
				if f == FramingBinary {
					want = strings.Repeat(tt.bin, 2)
				}
				if diff := cmp.Diff(want, out.String()); diff != "" {
					t.Errorf("%v: bytes mismatch (-want +got):\n%s", f, diff)
				}
			}
		})
	}
}

// TestWriteFollowsRead checks that in auto mode responses use the framing of
// the requests, and text before any request was seen.
func TestWriteFollowsRead(t *testing.T) {
	const del = `{"command":"DELETE","args":{"path":"p"}}`
	const okText = `{"status":"ok","message":"","data":null}` + "\n"
	const okBin = "\x00\x00\x00\x28" + `{"status":"ok","message":"","data":null}`
	tests := []struct {
		name, in, want string
	}{
		{"nothing read", "", okText + okText},
		{"text", del, okText + okText},
		{"binary", frame(del), okText + okBin},
		{"broken first binary frame", "\xff\xff\xff\xff", okText + okBin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			c := NewCodec(strings.NewReader(tt.in), &out, FramingAuto, testCommands)
			if err := c.WriteResponse(OK(nil, nil)); err != nil {
				t.Fatal(err)
			}
			c.ReadRequest()
			if err := c.WriteResponse(OK(nil, nil)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("bytes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteFlushes(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	c := NewCodec(strings.NewReader(""), bw, FramingText, testCommands)
	if err := c.WriteResponse(OK(nil, nil)); err != nil {
		t.Fatal(err)
	}
	if out.Len() == 0 {
		t.Error("WriteResponse left the response in the bufio.Writer")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("pipe closed") }

func TestWriteError(t *testing.T) {
	c := NewCodec(strings.NewReader(""), failingWriter{}, FramingText, testCommands)
	err := c.WriteResponse(OK(nil, nil))
	if err == nil || err.Error() != "proto: writing response: pipe closed" {
		t.Errorf("WriteResponse = %v, want the writer's error", err)
	}
}

func TestBadRequestResponse(t *testing.T) {
	bad := &BadRequest{ID: json.RawMessage(`"a"`), Reason: "why"}
	if got, want := bad.Error(), "bad request: why"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	want := &Response{Status: StatusFail, Message: "why", ID: json.RawMessage(`"a"`)}
	if diff := cmp.Diff(want, bad.Response()); diff != "" {
		t.Errorf("Response() mismatch (-want +got):\n%s", diff)
	}
}

func TestParseFraming(t *testing.T) {
	for _, f := range []Framing{FramingAuto, FramingText, FramingBinary} {
		got, err := ParseFraming(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFraming(%q) = %v, %v, want %v", f.String(), got, err, f)
		}
	}
	for _, s := range []string{"", "Text", "json", "auto "} {
		if _, err := ParseFraming(s); err == nil {
			t.Errorf("ParseFraming(%q) succeeded, want an error", s)
		}
	}
}

func TestNewCodecPanicsOnBadFraming(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewCodec(Framing(7)) did not panic")
		}
	}()
	NewCodec(strings.NewReader(""), io.Discard, Framing(7), testCommands)
}

func BenchmarkReadText(b *testing.B) {
	line := `{"command":"PUT","args":{"source":"local/file.txt","dest":"/remote/dir/file.txt"},"id":12345}` + "\n"
	in := strings.Repeat(line, 1000)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		c := NewCodec(strings.NewReader(in), io.Discard, FramingText, testCommands)
		for range 1000 {
			if _, err := c.ReadRequest(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestReadWhileWriting runs the two sides in two goroutines, as a caller
// that answers one request while reading the next may; run it with -race.
func TestReadWhileWriting(t *testing.T) {
	const n = 100
	const del = `{"command":"DELETE","args":{"path":"p"}}`
	in := strings.Repeat(frame(del), n)
	var out bytes.Buffer
	c := NewCodec(strings.NewReader(in), &out, FramingAuto, testCommands)
	done := make(chan error)
	go func() {
		for i := 0; ; i++ {
			_, err := c.ReadRequest()
			if err == io.EOF && i == n {
				done <- nil
				return
			}
			if err != nil {
				done <- fmt.Errorf("request %d: %w", i, err)
				return
			}
		}
	}()
	for range n {
		if err := c.WriteResponse(OK(nil, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
	// Each response is text or binary depending on when it was written,
	// but never anything else.
	rest := out.String()
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, `{"status":"ok","message":"","data":null}`+"\n"):
			rest = rest[41:]
		case strings.HasPrefix(rest, "\x00\x00\x00\x28"+`{"status":"ok","message":"","data":null}`):
			rest = rest[44:]
		default:
			t.Fatalf("unexpected output %q", rest)
		}
	}
}

// TestReady: Ready is true exactly when ReadRequest would not read more.
func TestReady(t *testing.T) {
	frame := func(s string) string {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(len(s)))
		return string(b[:]) + s
	}
	req := `{"command":"LISTDIR","args":{"path":"."}}`
	for _, tc := range []struct {
		name   string
		f      Framing
		input  string
		before bool // Ready after reading the first request
	}{
		{"text, another line", FramingText, req + "\n" + req + "\n", true},
		{"text, half a line", FramingText, req + "\n" + req[:10], false},
		{"text, only blank lines", FramingText, req + "\n\n \r\n\t\n", false},
		{"text, blank then a line", FramingText, req + "\n\n" + req + "\n", true},
		{"text, nothing", FramingText, req + "\n", false},
		{"binary, another frame", FramingBinary, frame(req) + frame(req), true},
		{"binary, a header only", FramingBinary, frame(req) + frame(req)[:4], false},
		{"binary, half a frame", FramingBinary, frame(req) + frame(req)[:20], false},
		{"binary, half a header", FramingBinary, frame(req) + frame(req)[:2], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A pipe: nothing more arrives, so a read would block.
			r, w := io.Pipe()
			defer w.Close()
			go w.Write([]byte(tc.input))
			c := NewCodec(r, io.Discard, tc.f, testCommands)
			if _, err := c.ReadRequest(); err != nil {
				t.Fatal(err)
			}
			if got := c.Ready(); got != tc.before {
				t.Errorf("Ready() = %v, want %v", got, tc.before)
			}
		})
	}
}
