package proto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
)

// decodeRequest decodes one JSON payload into one of cmds. Its error is
// always a *BadRequest. Nothing in the result aliases payload, so the
// caller may reuse it.
func decodeRequest(payload []byte, cmds Commands) (*Request, error) {
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD, and a
	// path that has been changed names some other file.
	if !utf8.Valid(payload) {
		return nil, &BadRequest{Reason: "request is not valid UTF-8"}
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

	askedBuf [4]string // room for asked
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
func (a *Args) Str(name string) string {
	raw, ok := a.lookup(name)
	switch {
	case !ok:
		return ""
	case raw == nil:
		a.missing(name)
		return ""
	case raw[0] != '"':
		a.err = fmt.Sprintf("argument %q must be a string", name)
		return ""
	case hasLoneSurrogate(raw):
		// encoding/json decodes it to U+FFFD: the same trap as invalid UTF-8.
		a.err = fmt.Sprintf("argument %q has a \\u escape of a lone UTF-16 surrogate", name)
		return ""
	}
	s := unquote(raw)
	if s == "" {
		a.err = fmt.Sprintf("argument %q must not be empty", name)
		return ""
	}
	return s
}

// hasLoneSurrogate reports whether the JSON string literal raw has a \u
// escape of a UTF-16 surrogate that is not half of a high-low pair.
func hasLoneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++ // the escaped byte; skipping it keeps `\\u` from being read as an escape
		r, ok := hexEscape(raw, i-1)
		if !ok {
			continue
		}
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true // low half with no high half before it
		case r >= 0xD800 && r <= 0xDBFF:
			if r2, ok := hexEscape(raw, i+1); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
				i += 6
				continue
			}
			return true
		}
	}
	return false
}

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
