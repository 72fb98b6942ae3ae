package proto

import (
	"fmt"
	"math"
	"strconv"
)

// Arguments that are not strings. Each is checked as strictly as Str: the
// JSON type must be the one asked for (a flag is true or false, never 1 or
// "yes"), a number must be an integer written as one (no fraction, no
// exponent: "1e3" and "1.0" are refused, since a client that writes them
// means something sftper would have to guess), and a value out of its
// range is refused, never clamped. A missing optional argument, or one
// given as null, takes its default.

// OptStr returns the argument name if the request has it (a non-empty JSON
// string, read as Str reads it) and whether it does. null is the same as
// absent.
func (a *Args) OptStr(name string) (string, bool) {
	raw, ok := a.lookup(name)
	if !ok || raw == nil || string(raw) == "null" {
		return "", false
	}
	v := a.str(name, raw)
	return v, a.err == ""
}

// Bool returns the argument name, which must be true or false when given;
// def when the request does not have it.
func (a *Args) Bool(name string, def bool) bool {
	raw, ok := a.lookup(name)
	if !ok || raw == nil {
		return def
	}
	switch string(raw) {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return def
	}
	a.err = fmt.Sprintf("argument %q must be true or false", name)
	return def
}

// Int returns the argument name, an integer from min to max inclusive, and
// whether the request has it.
func (a *Args) Int(name string, min, max int64) (int64, bool) {
	raw, ok := a.lookup(name)
	if !ok || raw == nil || string(raw) == "null" {
		return 0, false
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || !isJSONInteger(raw) {
		if raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9' {
			a.err = fmt.Sprintf("argument %q must be a whole number from %d to %d, written without a fraction or exponent", name, min, max)
		} else {
			a.err = fmt.Sprintf("argument %q must be a number", name)
		}
		return 0, false
	}
	if v < min || v > max {
		a.err = fmt.Sprintf("argument %q is %d, out of range (%d to %d)", name, v, min, max)
		return 0, false
	}
	return v, true
}

// Mode returns the argument name, permission bits from 0 to 0o7777
// (written in decimal, as JSON has no octal: 0o644 is 420), and whether
// the request has it.
func (a *Args) Mode(name string) (uint32, bool) {
	v, ok := a.Int(name, 0, 0o7777)
	return uint32(v), ok
}

// MaxTime is the latest time an SFTP version 3 server can be given: its
// times are unsigned 32-bit seconds since 1970 (early 2106).
const MaxTime = math.MaxUint32

// Time returns the argument name, a time in whole seconds since 1970 from
// 0 to MaxTime, and whether the request has it.
func (a *Args) Time(name string) (int64, bool) {
	return a.Int(name, 0, MaxTime)
}

// isJSONInteger reports whether raw, a JSON number, is written as an
// integer: an optional minus and digits, nothing else.
func isJSONInteger(raw []byte) bool {
	i := 0
	if i < len(raw) && raw[i] == '-' {
		i++
	}
	if i == len(raw) {
		return false
	}
	for ; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return false
		}
	}
	return true
}

// Require records that the argument name, which a typed getter has just
// found absent (its ok is false), must be given. A problem already found
// stays the one reported.
func (a *Args) Require(name string) {
	if a.err == "" {
		a.missing(name)
	}
}
