package proto

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// encodeRequest writes req as a client would, in framing f.
func encodeRequest(t testing.TB, req *Request, name string, f Framing) []byte {
	t.Helper()
	wire := struct {
		Command string          `json:"command"`
		Args    map[string]Name `json:"args"`
		ID      json.RawMessage `json:"id,omitempty"`
	}{Command: name, ID: req.ID}
	switch op := req.Op.(type) {
	case Put:
		wire.Args = map[string]Name{"source": Name(op.Source), "dest": Name(op.Dest)}
	case Get:
		wire.Args = map[string]Name{"source": Name(op.Source), "dest": Name(op.Dest)}
	case ListDir:
		wire.Args = map[string]Name{"path": Name(op.Path)}
	case Delete:
		wire.Args = map[string]Name{"path": Name(op.Path)}
	default:
		t.Fatalf("encodeRequest: unknown op %#v", op)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(wire); err != nil {
		t.Fatalf("encodeRequest: %v", err)
	}
	if f == FramingText {
		return buf.Bytes()
	}
	return []byte(frame(strings.TrimSuffix(buf.String(), "\n")))
}

// checkOp fails t if op is not one of the four op values or has an empty
// argument. An argument may be any bytes (see Args.Str).
func checkOp(t *testing.T, op Op) {
	t.Helper()
	var fields []string
	switch op := op.(type) {
	case Put:
		fields = []string{op.Source, op.Dest}
	case Get:
		fields = []string{op.Source, op.Dest}
	case ListDir:
		fields = []string{op.Path}
	case Delete:
		fields = []string{op.Path}
	default:
		t.Fatalf("decoded an op of type %T", op)
	}
	for _, s := range fields {
		if s == "" {
			t.Fatalf("decoded %#v, which has an empty argument", op)
		}
	}
}

// fuzzStream feeds data to a codec in framing f and checks every result:
// no panic, errors of the documented kinds only, no request with an empty
// argument, and every request read back equal after encoding it again.
func fuzzStream(t *testing.T, data []byte, f Framing) {
	c := NewCodec(bytes.NewReader(data), io.Discard, f, testCommands)
	for range len(data) + 1 { // every call but the last consumes a byte at least
		req, err := c.ReadRequest()
		var bad *BadRequest
		switch {
		case err == io.EOF:
			return
		case errors.Is(err, ErrStreamBroken):
			if f == FramingText {
				t.Fatalf("text framing broke the stream: %v", err)
			}
			return
		case errors.As(err, &bad):
			if bad.Reason == "" {
				t.Fatal("BadRequest with no reason")
			}
			if bad.ID != nil && !json.Valid(bad.ID) {
				t.Fatalf("BadRequest with an id that is not JSON: %q", bad.ID)
			}
			continue
		case err != nil:
			t.Fatalf("ReadRequest: unexpected error %#v", err)
		}
		checkOp(t, req.Op)
		if req.ID != nil && !json.Valid(req.ID) {
			t.Fatalf("request with an id that is not JSON: %q", req.ID)
		}
		roundTrip(t, req, strings.ToLower(req.Op.Name()))
	}
	t.Fatal("ReadRequest did not reach the end of input")
}

// roundTrip encodes req in both framings and checks it decodes to itself,
// its id compacted as any JSON encoder would write it.
func roundTrip(t *testing.T, req *Request, name string) {
	t.Helper()
	want := *req
	if req.ID != nil {
		var buf bytes.Buffer
		if err := json.Compact(&buf, req.ID); err != nil {
			t.Fatalf("id %q: %v", req.ID, err)
		}
		want.ID = buf.Bytes()
	}
	for _, f := range []Framing{FramingText, FramingBinary, FramingAuto} {
		wire := encodeRequest(t, req, name, f)
		c := NewCodec(bytes.NewReader(wire), io.Discard, f, testCommands)
		got, err := c.ReadRequest()
		if err != nil {
			t.Fatalf("%v: reading back %q: %v", f, wire, err)
		}
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Fatalf("%v: reading back %q: mismatch (-want +got):\n%s", f, wire, diff)
		}
		if _, err := c.ReadRequest(); err != io.EOF {
			t.Fatalf("%v: after one request, ReadRequest = %v, want io.EOF", f, err)
		}
	}
}

// seeds are payloads that reach every branch of decodeRequest.
var seeds = []string{
	`{"command":"PUT","args":{"source":"a","dest":"b"},"id":1}`,
	`{"command":"get","args":{"source":"a","dest":"b"},"id":"x"}`,
	`{"command":"ListDir","args":{"path":"/"},"id":{"a": [1, 2]}}`,
	`{"command":"delete","args":{"path":"\ud83d\ude00\\ud800"}}`,
	`{"command":"delete","args":{"path":"\ud800"}}`,
	`{"command":"delete","args":{"path":"\udcff\udc7f"}}`,
	`{"command":"delete","args":{"path":"a\udcc3\udca9\\udcff\ud800\udc80"}}`,
	`{"command":"delete","args":{"path":""}}`,
	`{"command":"delete","args":{"path":1}}`,
	`{"command":"delete","args":{"path":"p","x":1}}`,
	`{"command":"delete","args":null}`,
	`{"command":"delete","args":[]}`,
	`{"command":"frob"}`,
	`{"command":7}`,
	`{"cmd":"put"}`,
	`{}`,
	`[]`,
	`null`,
	`{"command":`,
	"{\"command\":\"delete\",\"args\":{\"path\":\"\xff\"}}",
	`{"command":"LISTDIR","command":"DELETE","args":{"path":"/tmp/dupA"}}`,
	`{"command":"delete","args":{"path":"a","path":"b"},"id":1}`,
	`{"command":"delete","args":{"path":"a"},"args":{"path":"b"}}`,
	`{"id":1,"command":"delete","args":{"path":"a"},"id":2}`,
	`{"command":"delete","\u0063ommand":"put","args":{"p\u0061th":"a"}}`,
	`{"command":"delete","args":{"path":"a"},"id":[{"k":1},{"k":2,"k\"":3,"k":4}]}`,
	`{"command":"delete","args":{"path":"a"},"id":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"\\":0,"a":10}}`,
	`{"command":"delete","args":{"path":"a\\\"b"},"id":{"x\\":[true,null,-1.5e3],"x":{}}}`,
}

func FuzzTextFrames(f *testing.F) {
	f.Add([]byte(strings.Join(seeds, "\n")))
	f.Add([]byte(strings.Join(seeds, "\r\n") + "\r\n"))
	f.Add([]byte("\n \n\t\r\n" + seeds[0]))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzStream(t, data, FramingText)
	})
}

func FuzzBinaryFrames(f *testing.F) {
	var all string
	for _, s := range seeds {
		all += frame(s)
	}
	f.Add([]byte(all))
	f.Add([]byte(frame(seeds[0]) + "\x00\x00\x00\x00" + frame(seeds[1])))
	f.Add([]byte(frame(seeds[0]) + "\x00\x00"))
	f.Add([]byte(frame(seeds[0])[:20]))
	f.Add([]byte("\x01\x00\x00\x01"))
	f.Add([]byte("{\"command\":\"put\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzStream(t, data, FramingBinary)
		fuzzStream(t, data, FramingAuto)
	})
}

// FuzzRoundTrip builds a valid request from its parts, writes it in each
// framing, and checks it reads back as the same request.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(0), "local.txt", "/remote/x", "1")
	f.Add(uint8(1), "/r", "l", `"id-<&>"`)
	f.Add(uint8(2), "/dir with space", "", "")
	f.Add(uint8(3), "\n\r\t\"\\\x00é😀\u2028", "", `{"a": [1, null, {"b": "c"}]}`)
	f.Add(uint8(4), "a", "b", "not json, so sent as a string")
	f.Add(uint8(7), "$(rm -rf /)", "`x`; y", "null")
	f.Add(uint8(0), "\xff\xc3(\xed\xa0\x80", "\xc0\x80\\udcff", "")
	f.Fuzz(func(t *testing.T, which uint8, a, b, id string) {
		if a == "" {
			t.Skip("not a valid request")
		}
		var op Op
		switch which % 4 {
		case 0:
			op = Put{Source: a, Dest: b}
		case 1:
			op = Get{Source: a, Dest: b}
		case 2:
			op = ListDir{Path: a}
		case 3:
			op = Delete{Path: a}
		}
		if which%4 < 2 && b == "" {
			t.Skip("not a valid request")
		}
		req := &Request{Op: op}
		switch {
		case id == "":
		case utf8.ValidString(id) && json.Valid([]byte(id)):
			req.ID = json.RawMessage(id)
		default:
			quoted, _ := json.Marshal(id) // invalid UTF-8 becomes U+FFFD
			req.ID = quoted
		}
		// Names match in any case.
		name := op.Name()
		if which&4 != 0 {
			name = strings.ToLower(name)
		}
		roundTrip(t, req, name)
	})
}

// FuzzDecode checks decodeRequest against encoding/json: a payload with a
// duplicate key anywhere is refused naming one, and any other is decoded
// as encoding/json reads it, but for the arguments' strings, which are
// read as bytes (refUnquote; encoding/json would read \udcff as U+FFFD).
func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		req, err := decodeRequest(payload, testCommands)
		var bad *BadRequest
		if err != nil && !errors.As(err, &bad) {
			t.Fatalf("error %#v is not a *BadRequest", err)
		}
		dup, isObject := refDuplicate(payload)
		if dup {
			if bad == nil || !strings.HasPrefix(bad.Reason, "duplicate key ") {
				t.Fatalf("%q has a duplicate key, but decodeRequest gave %v, %v", payload, req, err)
			}
			return
		}
		if bad != nil && strings.HasPrefix(bad.Reason, "duplicate key ") {
			t.Fatalf("%q has no duplicate key, but decodeRequest said %q", payload, bad.Reason)
		}
		if err != nil {
			if isObject && bad.Reason == "request is not a JSON object" {
				t.Fatalf("%q is an object, but decodeRequest said %q", payload, bad.Reason)
			}
			return
		}
		var want struct {
			Command string
			Args    map[string]json.RawMessage
			ID      json.RawMessage
		}
		if err := json.Unmarshal(payload, &want); err != nil {
			t.Fatalf("%q decoded as %#v, but encoding/json says %v", payload, req, err)
		}
		wantArgs := map[string]string{}
		for k, raw := range want.Args {
			s, ok, _ := refUnquote(string(raw))
			if !ok {
				t.Fatalf("%q decoded as %#v, but argument %q has a lone surrogate", payload, req, k)
			}
			wantArgs[k] = s
		}
		if string(want.ID) != string(req.ID) {
			t.Fatalf("%q: id %q, encoding/json read %q", payload, req.ID, want.ID)
		}
		var got map[string]string
		switch op := req.Op.(type) {
		case Put:
			got = map[string]string{"source": op.Source, "dest": op.Dest}
		case Get:
			got = map[string]string{"source": op.Source, "dest": op.Dest}
		case ListDir:
			got = map[string]string{"path": op.Path}
		case Delete:
			got = map[string]string{"path": op.Path}
		}
		if diff := cmp.Diff(wantArgs, got); diff != "" {
			t.Fatalf("%q: args mismatch with encoding/json (-json +got):\n%s", payload, diff)
		}
	})
}

// refDuplicate is a slow, plain way to find duplicate keys: it walks
// payload with json.Decoder.Token. It reports whether payload is valid
// UTF-8 and JSON with a duplicate key, and whether it is an object.
func refDuplicate(payload []byte) (dup, isObject bool) {
	if !utf8.Valid(payload) || !json.Valid(payload) {
		return false, false
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	var walk func() bool
	walk = func() bool {
		tok, _ := d.Token()
		dup := false
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for d.More() {
				k, _ := d.Token()
				dup = dup || seen[k.(string)]
				seen[k.(string)] = true
				dup = walk() || dup
			}
			d.Token()
		case json.Delim('['):
			for d.More() {
				dup = walk() || dup
			}
			d.Token()
		}
		return dup
	}
	isObject = bytes.TrimLeft(payload, " \t\r\n")[0] == '{'
	return walk(), isObject
}
