package proto

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// stdJSON is how encoding/json writes s with HTML escaping off, as the
// Codec's encoder does.
func stdJSON(t testing.TB, s string) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func marshalName(t testing.TB, n Name) string {
	t.Helper()
	b, err := n.MarshalJSON()
	if err != nil {
		t.Fatalf("Name(%q).MarshalJSON: %v", string(n), err)
	}
	return string(b)
}

func TestNameMarshalJSON(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `""`},
		{"plain ascii ~/.x", `"plain ascii ~/.x"`},
		{"é😀 日本", `"é😀 日本"`},
		{"\ufffd", "\"\ufffd\""}, // a real U+FFFD is text, not an invalid byte
		{"\ud7ff\ue000\U0010ffff", "\"\ud7ff\ue000\U0010ffff\""},
		{`"\`, `"\"\\"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1b\x1f \x7f", "\"\\u0000\\u0001\\u001b\\u001f \x7f\""},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"<a href='x'>&amp;</a>", `"<a href='x'>&amp;</a>"`},
		{"/", `"/"`},

		// Bytes that are not part of valid UTF-8, one escape each.
		{"\x80", `"\udc80"`},
		{"a\xbfb", `"a\udcbfb"`},                           // lone continuation
		{"\x80\x80", `"\udc80\udc80"`},                     // two of them
		{"\xc3", `"\udcc3"`},                               // 2-byte start, cut
		{"\xc3x", `"\udcc3x"`},                             // 2-byte start, then ASCII
		{"\xe2\x82", `"\udce2\udc82"`},                     // 3-byte, cut
		{"\xe2\x82\xe2\x82\xac", `"\udce2\udc82€"`},        // cut, then whole
		{"\xf0\x9f\x98", `"\udcf0\udc9f\udc98"`},           // 4-byte, cut
		{"\xc0\x80", `"\udcc0\udc80"`},                     // overlong NUL
		{"\xc1\xbf", `"\udcc1\udcbf"`},                     // overlong DEL
		{"\xe0\x80\xaf", `"\udce0\udc80\udcaf"`},           // overlong '/'
		{"\xf0\x80\x80\xaf", `"\udcf0\udc80\udc80\udcaf"`}, // overlong '/'
		{"\xed\xa0\x80", `"\udced\udca0\udc80"`},           // U+D800 in UTF-8
		{"\xed\xbf\xbf", `"\udced\udcbf\udcbf"`},           // U+DFFF in UTF-8
		{"\xed\xb3\xbf", `"\udced\udcb3\udcbf"`},           // U+DCFF in UTF-8
		{"\xed\x9f\xbf", "\"\ud7ff\""},                     // U+D7FF: valid
		{"\xf4\x90\x80\x80", `"\udcf4\udc90\udc80\udc80"`}, // over U+10FFFF
		{"\xf5\x80\x80\x80", `"\udcf5\udc80\udc80\udc80"`}, // F5 never starts UTF-8
		{"\xf8\xfb\xfc\xfd", `"\udcf8\udcfb\udcfc\udcfd"`}, // nor do F8..FD
		{"\xfe\xff", `"\udcfe\udcff"`},                     // nor FE, FF
		{"\xff", `"\udcff"`},                               // lower-case hex
		{"é\xff\"\n\xc3\xa9\xc3", `"é\udcff\"\né\udcc3"`},  // a mixture
		{"\xe2\x80\xa8\xe2\x80", `"\u2028\udce2\udc80"`},   // U+2028, then cut
		{"<\xff&", `"<\udcff&"`},                           // HTML characters as is
		{"\x00\xc0\x80", `"\u0000\udcc0\udc80"`},           // real NUL, overlong NUL
		{"\\udcff", `"\\udcff"`},                           // text, not an escape
	}
	for _, tt := range tests {
		got := marshalName(t, Name(tt.in))
		if got != tt.want {
			t.Errorf("Name(%q).MarshalJSON() = %s, want %s", tt.in, got, tt.want)
		}
		if utf8.ValidString(tt.in) {
			if std := stdJSON(t, tt.in); got != std {
				t.Errorf("Name(%q).MarshalJSON() = %s, encoding/json writes %s", tt.in, got, std)
			}
		}
	}
}

// TestNameEveryByte: each single byte is what encoding/json writes if it
// is ASCII, else its escape.
func TestNameEveryByte(t *testing.T) {
	for c := range 256 {
		s := string([]byte{byte(c)})
		want := fmt.Sprintf(`"\udc%02x"`, c)
		if c < 0x80 {
			want = stdJSON(t, s)
		}
		if got := marshalName(t, Name(s)); got != want {
			t.Errorf("Name(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestNameInValues: a Name inside structs, slices, maps' values and
// pointers comes out the same through json.Marshal (HTML escaping on),
// a json.Encoder with it off, and the Codec.
func TestNameInValues(t *testing.T) {
	type entry struct {
		Name  Name   `json:"name"`
		Names []Name `json:"names"`
		Ptr   *Name  `json:"ptr"`
	}
	p := Name("p\xff")
	v := entry{Name: "a<&>\xff\n", Names: []Name{"\xc0\x80", "é"}, Ptr: &p}

	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"a\u003c\u0026\u003e\udcff\n","names":["\udcc0\udc80","é"],"ptr":"p\udcff"}`
	if string(got) != want {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"v": v}); err != nil {
		t.Fatal(err)
	}
	want = `{"v":{"name":"a<&>\udcff\n","names":["\udcc0\udc80","é"],"ptr":"p\udcff"}}` + "\n"
	if buf.String() != want {
		t.Errorf("Encoder without HTML escaping = %s, want %s", buf.String(), want)
	}

	var out bytes.Buffer
	c := NewCodec(strings.NewReader(""), &out, FramingText, nil)
	if err := c.WriteResponse(OK(json.RawMessage(`1`), v)); err != nil {
		t.Fatal(err)
	}
	want = `{"status":"ok","message":"","data":{"name":"a<&>\udcff\n","names":["\udcc0\udc80","é"],"ptr":"p\udcff"},"id":1}` + "\n"
	if out.String() != want {
		t.Errorf("Codec wrote %s, want %s", out.String(), want)
	}
}

// pathOp is what the test command X decodes to.
type pathOp struct{ Path string }

func (pathOp) Name() string { return "X" }

var pathCommands = Commands{"X": func(a *Args) Op { return pathOp{a.Str("path")} }}

// decodePath decodes `{"command":"X","args":{"path":` + lit + `}}` with
// the decoder ReadRequest uses for each frame, and returns the path or the
// refusal. (A Codec per call would make the fuzz test several times
// slower, for framing that TestStrCodec covers.)
func decodePath(t testing.TB, lit string) (path, bad string) {
	t.Helper()
	in := `{"command":"X","args":{"path":` + lit + `}}`
	req, err := decodeRequest([]byte(in), pathCommands)
	var br *BadRequest
	switch {
	case errors.As(err, &br):
		return "", br.Reason
	case err != nil:
		t.Fatalf("%s: ReadRequest: %v", in, err)
	}
	return req.Op.(pathOp).Path, ""
}

const (
	badHigh = `X: argument "path" has a \u escape of a lone UTF-16 surrogate`
	badLow  = `X: argument "path" has \u%04x, a \u escape of a lone low surrogate that stands for no byte (alone, only \udc80..\udcff may appear, each for one byte 0x80..0xff)`
)

func TestStrBytes(t *testing.T) {
	tests := []struct {
		lit, want, bad string
	}{
		// Lone low surrogates U+DC80..U+DCFF are bytes.
		{`"\udc80"`, "\x80", ""},
		{`"\udcff"`, "\xff", ""},
		{`"\uDCFF"`, "\xff", ""},
		{`"\uDcAb"`, "\xab", ""},
		{`"a\udcffb"`, "a\xffb", ""},
		{`"\udcff\udcfe"`, "\xff\xfe", ""},
		{`"\udced\udca0\udc80"`, "\xed\xa0\x80", ""},
		{`"\udcc0\udc80"`, "\xc0\x80", ""},
		// Bytes that happen to form UTF-8 are that UTF-8: C3 A9 is "é".
		{`"\udcc3\udca9"`, "é", ""},
		{`"\udcc3\u00a9"`, "\xc3©", ""},
		{`"\udcf0\udc9f\udc98\udc80"`, "😀", ""},
		// Mixtures with text and other escapes.
		{`"é\udcff😀\n\u0000\"\\\/\b\f\r\t\u0041"`, "é\xff😀\n\x00\"\\/\b\f\r\tA", ""},
		{`"\udcff\ud83d\ude00\udcff"`, "\xff😀\xff", ""},
		{`"dir/\udcff/f\u00e9"`, "dir/\xff/fé", ""},
		{`"\u0000"`, "\x00", ""}, // NUL is for callers to refuse

		// Pairs are characters, whatever the low half.
		{`"\ud83d\ude00"`, "😀", ""},
		{`"\uD83D\uDE00"`, "😀", ""},
		{`"\ud800\udc80"`, "\U00010080", ""},
		{`"\udbff\udfff"`, "\U0010ffff", ""},
		{`"\ud800\udc00"`, "\U00010000", ""},

		// An escaped backslash before "udcff" makes it text.
		{`"\\udcff"`, `\udcff`, ""},
		{`"\\\udcff"`, "\\\xff", ""},
		{`"\\\\udcff"`, `\\udcff`, ""},
		{`"\\ud800"`, `\ud800`, ""},
		{`"\ud83d\\ude00"`, "", badHigh},

		// Every other lone surrogate is refused.
		{`"\udc7f"`, "", fmt.Sprintf(badLow, 0xdc7f)},
		{`"\udc00"`, "", fmt.Sprintf(badLow, 0xdc00)},
		{`"\uDC41"`, "", fmt.Sprintf(badLow, 0xdc41)},
		{`"\udd00"`, "", fmt.Sprintf(badLow, 0xdd00)},
		{`"\udfff"`, "", fmt.Sprintf(badLow, 0xdfff)},
		{`"ok\udcff\ude00"`, "", fmt.Sprintf(badLow, 0xde00)},
		{`"\ud800"`, "", badHigh},
		{`"\udbff"`, "", badHigh},
		{`"\ud800x"`, "", badHigh},
		{`"\ud800\u0041"`, "", badHigh},
		{`"\ud800\ud800\udc00"`, "", badHigh},
		{`"\ud800\n"`, "", badHigh},
		{`"\udcff\ud800"`, "", badHigh},

		// Str's other rules are as before.
		{`""`, "", `X: argument "path" must not be empty`},
		{`7`, "", `X: argument "path" must be a string`},
	}
	for _, tt := range tests {
		got, bad := decodePath(t, tt.lit)
		if got != tt.want || bad != tt.bad {
			t.Errorf("path %s: got %q, refusal %q; want %q, refusal %q", tt.lit, got, bad, tt.want, tt.bad)
		}
	}

	// Every escaped byte alone, in both cases of hex.
	for c := 0x80; c <= 0xff; c++ {
		for _, lit := range []string{fmt.Sprintf(`"\udc%02x"`, c), fmt.Sprintf(`"\uDC%02X"`, c)} {
			if got, bad := decodePath(t, lit); got != string([]byte{byte(c)}) || bad != "" {
				t.Errorf("path %s: got %q, refusal %q; want the byte 0x%02x", lit, got, bad, c)
			}
		}
	}
}

// TestStrCodec: escaped bytes come through a Codec in both framings.
func TestStrCodec(t *testing.T) {
	const req = `{"command":"x","args":{"path":"a\udcff\\udcff\udcc0\udc80"},"id":1}`
	want := []result{{ID: "1", Op: pathOp{Path: "a\xff\\udcff\xc0\x80"}}}
	for _, f := range []Framing{FramingText, FramingBinary} {
		in := req + "\n"
		if f == FramingBinary {
			in = frame(req)
		}
		got := readAll(t, NewCodec(strings.NewReader(in), io.Discard, f, pathCommands))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%v (-want +got):\n%s", f, diff)
		}
	}
}

// TestRawInvalidUTF8 is refused, saying how to send such a byte.
func TestRawInvalidUTF8(t *testing.T) {
	for _, lit := range []string{"\"\xff\"", "\"a\xc3\"", "\"\xed\xa0\x80\""} {
		_, bad := decodePath(t, lit)
		if !strings.HasPrefix(bad, "request is not valid UTF-8") || !strings.Contains(bad, `\udc80..\udcff`) {
			t.Errorf("path %q: refusal %q, want one saying to use \\udcXX", lit, bad)
		}
	}
}

// refUnquote is a plain, slow reference for what Str reads: it turns the
// valid JSON string literal lit into UTF-16 code units, as Python's json
// module or JavaScript would hold it, then the units into bytes as
// Python's os.fsencode does. ok is false if a unit is a lone surrogate
// outside U+DC80..U+DCFF; lone is true if there is any lone surrogate.
func refUnquote(lit string) (s string, ok, lone bool) {
	var units []uint16
	body := lit[1 : len(lit)-1]
	for i := 0; i < len(body); {
		if body[i] != '\\' {
			r, n := utf8.DecodeRuneInString(body[i:])
			units = utf16.AppendRune(units, r)
			i += n
			continue
		}
		if body[i+1] == 'u' {
			v, err := strconv.ParseUint(body[i+2:i+6], 16, 16)
			if err != nil {
				panic(err)
			}
			units = append(units, uint16(v))
			i += 6
			continue
		}
		c := map[byte]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', '"': '"', '\\': '\\', '/': '/'}[body[i+1]]
		units = append(units, uint16(c))
		i += 2
	}
	var b []byte
	ok = true
	for j := 0; j < len(units); j++ {
		u := rune(units[j])
		isHigh := func(u rune) bool { return 0xd800 <= u && u <= 0xdbff }
		isLow := func(u rune) bool { return 0xdc00 <= u && u <= 0xdfff }
		switch {
		case isHigh(u) && j+1 < len(units) && isLow(rune(units[j+1])):
			b = utf8.AppendRune(b, utf16.DecodeRune(u, rune(units[j+1])))
			j++
		case 0xdc80 <= u && u <= 0xdcff:
			b = append(b, byte(u))
			lone = true
		case isHigh(u) || isLow(u):
			ok, lone = false, true
		default:
			b = utf8.AppendRune(b, u)
		}
	}
	if !ok {
		return "", false, true
	}
	return string(b), true, lone
}

// FuzzUnquote checks unquoteBytes on any valid string literal against
// refUnquote, and against encoding/json when there is no lone surrogate;
// then that what it read is written and read back the same.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{
		`a`, `\udcff`, `\uDC80x`, `\udc7f`, `\ud800`, `\ud83d\ude00`, `\\udcff`, `\\\udcff`,
		`\udcc3\udca9`, `\ud800\udc80`, `\ud800\\`, `\"\\\/\b\f\n\r\t\u0000\u00e9`, `é😀`,
		`\u2028<&>`, `\udbff\udfff\udcff`, `\ufffd`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		lit := `"` + body + `"`
		if !utf8.ValidString(lit) || !json.Valid([]byte(lit)) {
			t.Skip("not a valid string literal")
		}
		got, bad := unquoteBytes([]byte(lit))
		ref, ok, lone := refUnquote(lit)
		if ok != (bad == "") || got != ref {
			t.Fatalf("%s: unquoteBytes = %q, %q; reference %q, ok %v", lit, got, bad, ref, ok)
		}
		if !ok {
			return
		}
		if !lone {
			var std string
			if err := json.Unmarshal([]byte(lit), &std); err != nil || std != got {
				t.Fatalf("%s: unquoteBytes = %q; encoding/json %q, %v", lit, got, std, err)
			}
		}
		again, bad := unquoteBytes([]byte(marshalName(t, Name(got))))
		if again != got || bad != "" {
			t.Fatalf("%s: read %q, written %s, read back %q, %q", lit, got, marshalName(t, Name(got)), again, bad)
		}
	})
}

// FuzzNameRoundTrip: any bytes, written as a Name, are valid JSON and
// UTF-8, read as text by anything that does not know the convention as
// encoding/json would have written them, and read back exactly by the
// request decoder.
func FuzzNameRoundTrip(f *testing.F) {
	for _, s := range []string{
		"", "a", "\xff", "é\xff😀", "\xed\xa0\x80", "\xc0\x80", "\xf5\x80", "\x00\n\"\\",
		"\u2028<&>", "\\udcff", "\xe2\x82", "\xc3\xa9\xc3", "\ufffd\xef\xbf",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lit := marshalName(t, Name(b))
		if !utf8.ValidString(lit) || !json.Valid([]byte(lit)) || lit[0] != '"' {
			t.Fatalf("Name(%q) = %s: not a valid JSON string", b, lit)
		}
		if utf8.Valid(b) {
			if std := stdJSON(t, string(b)); lit != std {
				t.Fatalf("Name(%q) = %s, encoding/json writes %s", b, lit, std)
			}
		}
		// A reader that does not know the convention sees U+FFFD for each
		// escaped byte, as if encoding/json had written b.
		var naive, std string
		stdLit, _ := json.Marshal(string(b))
		if err := json.Unmarshal([]byte(lit), &naive); err != nil {
			t.Fatalf("Name(%q) = %s: encoding/json cannot read it: %v", b, lit, err)
		}
		json.Unmarshal(stdLit, &std)
		if naive != std {
			t.Fatalf("Name(%q) = %s reads as %q to encoding/json, not %q", b, lit, naive, std)
		}

		got, bad := decodePath(t, lit)
		if len(b) == 0 {
			if bad != `X: argument "path" must not be empty` {
				t.Fatalf("empty name: refusal %q", bad)
			}
			return
		}
		if bad != "" || got != string(b) {
			t.Fatalf("Name(%q) = %s, read back as %q, refusal %q", b, lit, got, bad)
		}
	})
}

// nameSamples are byte strings for the Python checks.
var nameSamples = []string{
	"a", "\xff", "a\nb", "\xff\n", "é", "😀", "\xc3\xa9", "\xc3", "\xed\xa0\x80", "\xed\xb3\xbf",
	"\xc0\x80", "\xf5\x80\x80\x80", "\x00", `"\`, "\u2028", "<&>", "\x80abc\xe2\x82",
	"\\udcff", "dir/\xfe/f\xc3\xa9\xc3", "\ufffd",
}

// allBytes is one string holding every byte but NUL, and one with NUL.
func allBytes() []string {
	var b []byte
	for c := range 256 {
		b = append(b, byte(c))
	}
	return []string{string(b[1:]), string(b)}
}

// python runs a Python program over hex-encoded byte strings, one per
// argument, and returns its output's lines.
func python(t *testing.T, prog string, args []string) []string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	cmd := exec.Command(py, append([]string{"-c", prog}, args...)...)
	// UTF-8 mode: os.fsencode is UTF-8 with surrogateescape in any locale.
	cmd.Env = append(os.Environ(), "PYTHONUTF8=1", "PYTHONIOENCODING=utf-8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(args) {
		t.Fatalf("python3 printed %d lines for %d arguments:\n%s", len(lines), len(args), out)
	}
	return lines
}

// TestPythonDumps: what Python's json.dumps writes for os.fsdecode(b) is
// read back as b.
func TestPythonDumps(t *testing.T) {
	samples := append(nameSamples, allBytes()...)
	var args []string
	for _, s := range samples {
		args = append(args, hex.EncodeToString([]byte(s)))
	}
	const prog = `
import json, os, sys
for h in sys.argv[1:]:
    print(json.dumps(os.fsdecode(bytes.fromhex(h))))
`
	for i, lit := range python(t, prog, args) {
		got, bad := decodePath(t, lit)
		if bad != "" || got != samples[i] {
			t.Errorf("json.dumps(os.fsdecode(%q)) = %s: read as %q, refusal %q", samples[i], lit, got, bad)
		}
	}
}

// TestPythonLoads: os.fsencode(json.loads(...)) of what MarshalJSON writes
// for b is b.
func TestPythonLoads(t *testing.T) {
	samples := append(nameSamples, allBytes()...)
	var args []string
	for _, s := range samples {
		args = append(args, marshalName(t, Name(s)))
	}
	const prog = `
import json, os, sys
for lit in sys.argv[1:]:
    print(os.fsencode(json.loads(lit)).hex())
`
	for i, h := range python(t, prog, args) {
		got, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("python3 printed %q: %v", h, err)
		}
		if diff := cmp.Diff([]byte(samples[i]), got); diff != "" {
			t.Errorf("Python read %s (-want +got):\n%s", args[i], diff)
		}
	}
}
