package proto

import (
	"bytes"
	"slices"
)

// member is one key of an object with its value, as slices of the payload.
// A key that had escapes is unescaped, and then is a copy.
type member struct{ key, val []byte }

type members []member

// get returns the value of the first key k and how many keys are k.
func (ms members) get(k string) (val []byte, n int) {
	for _, m := range ms {
		if string(m.key) == k {
			if n == 0 {
				val = m.val
			}
			n++
		}
	}
	return val, n
}

// walker makes one pass over a payload that json.Valid has accepted. It
// collects the members of the top-level object and of its "args" object,
// and looks for duplicate keys in every object at every depth.
//
// encoding/json keeps the last of two equal keys, silently; anything else
// reading the same request (a filter, a log reader, a proxy) may keep the
// first. So a request with a duplicate key anywhere is refused.
type walker struct {
	data  []byte
	top   members // the top-level object's members, in order
	args  members // the members of every top-level "args" object
	dup   []byte  // the first duplicate key found, unescaped; nil if none
	keys  []span  // the keys of the objects being walked, innermost last
	unesc []byte  // the unescaped text of the keys that had escapes

	// Room for the usual request, so that walking it allocates nothing
	// more than the walker.
	keysBuf         [8]span
	topBuf, argsBuf [4]member
}

func newWalker() *walker {
	w := &walker{}
	w.keys, w.top, w.args = w.keysBuf[:0], w.topBuf[:0], w.argsBuf[:0]
	return w
}

// span is where a key's text is: data[lo:hi], or unesc[lo:hi&^inUnesc]
// when hi has inUnesc set. MaxFrame is far below 1<<31.
type span struct{ lo, hi uint32 }

const inUnesc = 1 << 31

// walk walks data, which must be valid JSON, and reports whether it is an
// object.
func (w *walker) walk(data []byte) bool {
	w.data = data
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return false
	}
	w.object(i, &w.top)
	return true
}

func (w *walker) key(s span) []byte {
	if s.hi&inUnesc != 0 {
		return w.unesc[s.lo : s.hi&^inUnesc]
	}
	return w.data[s.lo:s.hi]
}

// object walks the object starting at data[i] and returns the index just
// after it. If out is not nil, the object's members are appended to it.
func (w *walker) object(i int, out *members) int {
	data := w.data
	base := len(w.keys)
	i = skipSpace(data, i+1)
	if data[i] != '}' {
		for {
			// data[i] is the quote opening a key.
			end := stringEnd(data, i)
			w.keys = append(w.keys, w.keySpan(i, end))
			i = skipSpace(data, end) // at the colon
			i = skipSpace(data, i+1) // at the value
			key := w.key(w.keys[len(w.keys)-1])
			var into *members
			if out == &w.top && data[i] == '{' && string(key) == "args" {
				into = &w.args
			}
			vend := w.value(i, into)
			if out != nil {
				*out = append(*out, member{key: key, val: data[i:vend]})
			}
			i = skipSpace(data, vend)
			if data[i] == '}' {
				break
			}
			i = skipSpace(data, i+1) // past the comma
		}
	}
	if w.dup == nil {
		w.dup = w.findDup(w.keys[base:])
	}
	w.keys = w.keys[:base]
	return i + 1
}

// value walks the value starting at data[i] and returns the index just
// after it; into is passed on to object.
func (w *walker) value(i int, into *members) int {
	data := w.data
	switch data[i] {
	case '{':
		return w.object(i, into)
	case '[':
		i = skipSpace(data, i+1)
		if data[i] == ']' {
			return i + 1
		}
		for {
			i = skipSpace(data, w.value(i, nil))
			if data[i] == ']' {
				return i + 1
			}
			i = skipSpace(data, i+1) // past the comma
		}
	case '"':
		return stringEnd(data, i)
	}
	// A number, true, false or null: it runs to the next delimiter.
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}

// keySpan records the key whose literal is data[i:end].
func (w *walker) keySpan(i, end int) span {
	raw := w.data[i:end]
	if bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 {
		return span{uint32(i + 1), uint32(end - 1)}
	}
	lo := len(w.unesc)
	w.unesc = append(w.unesc, unquote(raw)...)
	return span{uint32(lo), uint32(len(w.unesc)) | inUnesc}
}

// findDup returns a key that occurs more than once in keys, or nil. It may
// reorder keys.
func (w *walker) findDup(keys []span) []byte {
	if len(keys) <= 8 { // the usual case: compare each with those before it
		for j := 1; j < len(keys); j++ {
			kj := w.key(keys[j])
			for _, k := range keys[:j] {
				if bytes.Equal(w.key(k), kj) {
					return kj
				}
			}
		}
		return nil
	}
	// Many keys: sort them, so that a huge object costs n log n, not n².
	slices.SortFunc(keys, func(a, b span) int { return bytes.Compare(w.key(a), w.key(b)) })
	for j := 1; j < len(keys); j++ {
		if kj := w.key(keys[j]); bytes.Equal(w.key(keys[j-1]), kj) {
			return kj
		}
	}
	return nil
}

// stringEnd returns the index just after the valid JSON string literal
// that starts at data[i].
func stringEnd(data []byte, i int) int {
	j := i + 1
	for {
		q := j + bytes.IndexByte(data[j:], '"')
		// The quote ends the string unless an odd number of backslashes
		// comes before it.
		n := 0
		for p := q - 1; p > i && data[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}
