package proto

import "unicode/utf8"

// Name is a file name or path as bytes, exactly as the file system (local
// or remote) holds it. In JSON it is a string: valid UTF-8 as usual, and
// each byte that is not part of valid UTF-8 as the \u escape of the lone
// low surrogate U+DC00 + byte (U+DC80..U+DCFF), the convention of Python's
// "surrogateescape" error handler (PEP 383), which Python's json module
// and os.fsencode turn back into the exact bytes. Requests' string
// arguments are read the same way (Args.Str), so a name sftper lists can
// be sent back as it was listed.
//
// Only a Name used as a value is written this way: encoding/json writes a
// map key of any string type itself, turning invalid bytes into U+FFFD,
// so a Name must not be a map key in anything encoded.
type Name string

// MarshalJSON writes n as a JSON string, invalid bytes escaped as above.
// It never fails.
//
// Valid text comes out as encoding/json writes a string with HTML
// escaping off, as the Codec's encoder does: `"`, `\` and control
// characters escaped (\b \f \n \r \t, else \u00xx), U+2028 and U+2029 as
// \u2028 and \u2029, everything else as is. It leaves <, > and & alone on
// purpose: an encoder with HTML escaping on (json.Marshal's default)
// escapes them in whatever a Marshaler returns, so a Name comes out as a
// string would under either setting.
func (n Name) MarshalJSON() ([]byte, error) {
	return appendName(make([]byte, 0, len(n)+2), string(n)), nil
}

const hexDigits = "0123456789abcdef"

// appendName appends s to b as MarshalJSON writes it.
func appendName(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0 // s[start:i] is still to be copied as is
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			// Not part of valid UTF-8 (a U+FFFD in s is 3 bytes long).
			// c is at least 0x80: ASCII is always valid.
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', 'd', 'c', hexDigits[c>>4], hexDigits[c&0xf])
		case r == '\u2028' || r == '\u2029':
			// encoding/json escapes them always, for JSONP.
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
