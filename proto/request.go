package proto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeRequest decodes one JSON payload into one of cmds. Its error is
// always a *BadRequest. Nothing in the result aliases payload, so the
// caller may reuse it.
func decodeRequest(payload []byte, cmds Commands) (*Request, error) {
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD, and a
	// path that has been changed names some other file.
	if !utf8.Valid(payload) {
		return nil, &BadRequest{Reason: notUTF8}
	}
	if !json.Valid(payload) {
		// Let encoding/json say what is wrong: Unmarshal checks the
		// syntax first, with the same scanner as Valid.
		reason := "request is not valid JSON"
		if err := json.Unmarshal(payload, new(any)); err != nil {
			reason += ": " + err.Error()
		}
		return nil, &BadRequest{Reason: reason}
	}
	w := newWalker()
	if !w.walk(payload) {
		return nil, &BadRequest{Reason: "request is not a JSON object"}
	}
	var id json.RawMessage
	if raw, n := w.top.get("id"); n == 1 {
		id = bytes.Clone(raw) // read first so that every later refusal can echo it
	}
	bad := func(format string, a ...any) (*Request, error) {
		return nil, &BadRequest{ID: id, Reason: fmt.Sprintf(format, a...)}
	}

	// Before anything else: a request that reads one way to whatever
	// looks at the first of two keys and another to us must not run.
	if w.dup != nil {
		return bad("duplicate key %s", quote(string(w.dup)))
	}

	var unknown []string
	for _, m := range w.top {
		if k := m.key; string(k) != "command" && string(k) != "args" && string(k) != "id" {
			unknown = append(unknown, string(k))
		}
	}
	if len(unknown) > 0 {
		return bad("unknown key %s", quote(slices.Min(unknown)))
	}

	rawName, n := w.top.get("command")
	if n == 0 {
		return bad(`missing "command"`)
	}
	if rawName[0] != '"' {
		return bad(`"command" must be a string`)
	}
	canon := asciiUpper(rawName[1 : len(rawName)-1])
	if bytes.IndexByte(rawName, '\\') >= 0 {
		canon = asciiUpper([]byte(unquote(rawName)))
	}
	decode, ok := cmds[canon]
	if !ok {
		return bad("unknown command %s", quote(unquote(rawName)))
	}

	a := &Args{}
	a.asked = a.askedBuf[:0]
	if raw, _ := w.top.get("args"); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if raw[0] != '{' {
			return bad(`%s: "args" must be an object`, canon)
		}
		a.m = w.args
		a.present = true
	}
	op := decode(a)
	unknown = unknown[:0]
	for _, m := range a.m {
		if !slices.Contains(a.asked, string(m.key)) {
			unknown = append(unknown, string(m.key))
		}
	}
	// An unknown argument is reported before a missing one: "src" for
	// "source" is a typo, and naming it says more than "missing source".
	if len(unknown) > 0 {
		return bad("%s: unknown argument %s", canon, quote(slices.Min(unknown)))
	}
	if a.err != "" {
		return bad("%s: %s", canon, a.err)
	}
	return &Request{ID: id, Op: op}, nil
}

// notUTF8 is the reason for a request that is not UTF-8: JSON is text, so
// a byte that is not UTF-8 has to be sent escaped.
const notUTF8 = `request is not valid UTF-8 (in a string, write each byte 0x80..0xff that is not part of UTF-8 as the escape \udc80..\udcff, U+DC00 + the byte, as Python's surrogateescape does)`

// unquote returns the value of the JSON string literal raw, which must be
// valid.
func unquote(raw []byte) string {
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body) // valid JSON and UTF-8: nothing to undo
	}
	var s string
	json.Unmarshal(raw, &s) // cannot fail: raw is a valid string literal
	return s
}

// Args hands a command's arguments to its Decoder. Each method asks for
// one argument by name and returns its value; the first thing wrong with
// any of them (missing, mistyped, empty) is remembered, and the request is
// refused with it once the Decoder returns. An argument that no method
// asked for is refused as unknown, before anything else is. A request
// without "args" (or with "args": null) is refused only if a method asks
// for an argument that must be there.
//
// What a method returns after the first problem does not matter: the Op
// is thrown away.
type Args struct {
	m       members
	present bool     // "args" was given and not null
	asked   []string // names the Decoder asked for
	err     string   // first problem found, "" if none

	askedBuf [8]string // room for asked
}

// lookup asks for the argument name and returns its raw JSON value, or
// nil if the request does not have it. ok is false once a problem has
// been found: the caller then records nothing more.
func (a *Args) lookup(name string) (raw []byte, ok bool) {
	a.asked = append(a.asked, name)
	if a.err != "" {
		return nil, false
	}
	if !a.present {
		return nil, true
	}
	raw, n := a.m.get(name)
	if n == 0 {
		return nil, true
	}
	return raw, true
}

// missing records that the argument name, which must be there, is not.
func (a *Args) missing(name string) {
	if !a.present {
		a.err = `missing "args"`
		return
	}
	a.err = fmt.Sprintf("missing argument %q", name)
}

// Str returns the argument name, which must be a non-empty JSON string.
//
// The value is read as bytes, the way a Name is written: a \u escape of a
// lone low surrogate U+DC80..U+DCFF stands for the single byte 0x80..0xFF
// (Python's surrogateescape), so a string may hold any bytes. A high
// surrogate followed by a low one is a pair, one character, as usual. Any
// other lone surrogate stands for nothing and is refused, as are raw
// bytes that are not UTF-8 (by the request decoder, before Str).
//
// Escaped bytes are taken as they are, whether or not they form UTF-8:
// "\udcc3\udca9" is the bytes C3 A9, the same value as "é", as
// os.fsencode would make it. That is no ambiguity for a Name, which
// escapes only bytes that are not part of UTF-8: any bytes it writes come
// back as the same bytes.
//
// Str refuses no byte, not even NUL: what a value may hold is for the
// caller to decide.
func (a *Args) Str(name string) string {
	raw, ok := a.lookup(name)
	switch {
	case !ok:
		return ""
	case raw == nil:
		a.missing(name)
		return ""
	}
	return a.str(name, raw)
}

// str reads raw, the value of the argument name, as Str does.
func (a *Args) str(name string, raw []byte) string {
	switch {
	case raw[0] != '"':
		a.err = fmt.Sprintf("argument %q must be a string", name)
		return ""
	}
	s, bad := unquoteBytes(raw)
	if bad != "" {
		a.err = fmt.Sprintf("argument %q %s", name, bad)
		return ""
	}
	if s == "" {
		a.err = fmt.Sprintf("argument %q must not be empty", name)
		return ""
	}
	return s
}

// unquoteBytes returns the value of the JSON string literal raw, which must
// be valid JSON and UTF-8, with the lone low surrogates \udc80..\udcff read
// as the bytes 0x80..0xff. It unescapes by itself because encoding/json
// would turn those escapes into U+FFFD. If raw has a lone surrogate that
// stands for no byte, s is "" and bad says what is wrong, to follow an
// argument's name.
func unquoteBytes(raw []byte) (s string, bad string) {
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body), "" // valid JSON and UTF-8: nothing to undo
	}
	b := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		if body[i] != '\\' {
			j := bytes.IndexByte(body[i:], '\\')
			if j < 0 {
				j = len(body) - i
			}
			b = append(b, body[i:i+j]...)
			i += j
			continue
		}
		// body[i+1] exists and is a valid escape: raw is valid JSON.
		switch c := body[i+1]; c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, _ := hexEscape(body, i)
			i += 6
			switch {
			case !utf16.IsSurrogate(r):
				b = utf8.AppendRune(b, r)
			case r < 0xDC00: // a high surrogate, good only before a low one
				r2, ok := hexEscape(body, i)
				if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
					return "", loneHigh
				}
				b = utf8.AppendRune(b, utf16.DecodeRune(r, r2))
				i += 6
			case r >= 0xDC80 && r <= 0xDCFF:
				b = append(b, byte(r-0xDC00))
			default:
				return "", fmt.Sprintf(`has \u%04x, a \u escape of a lone low surrogate that stands for no byte (alone, only \udc80..\udcff may appear, each for one byte 0x80..0xff)`, r)
			}
			continue
		default: // '"', '\\' or '/'
			b = append(b, c)
		}
		i += 2
	}
	return string(b), ""
}

// loneHigh is the reason for a lone high surrogate, which no convention
// gives a meaning: the text sftper has always used.
const loneHigh = `has a \u escape of a lone UTF-16 surrogate`

// hexEscape decodes the escape `\uXXXX` starting at raw[i].
func hexEscape(raw []byte, i int) (rune, bool) {
	if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range raw[i+2 : i+6] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// asciiUpper upper-cases ASCII letters only. strings.ToUpper would also
// map, e.g., "ſ" (U+017F) to "S" and so accept "liſtdir".
func asciiUpper(s []byte) string {
	b := []byte(string(s)) // a copy
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// quote quotes a client-supplied name for a Reason, cut short so that a
// megabyte-long key does not come back as a megabyte-long message.
func quote(s string) string {
	const max = 64
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...", s[:cut])
}
