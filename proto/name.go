package proto

// CONTRACT: the helper implements this file.

// Name is a file name or path as bytes, exactly as the file system (local
// or remote) holds it. In JSON it is a string: valid UTF-8 as usual, and
// each byte that is not part of valid UTF-8 as the \u escape of the lone
// low surrogate U+DC00 + byte (U+DC80..U+DCFF), the convention of Python's
// "surrogateescape" error handler (PEP 383), which Python's json module
// and os.fsencode turn back into the exact bytes. Requests' string
// arguments are read the same way (Args.Str), so a name sftper lists can
// be sent back as it was listed.
type Name string

// MarshalJSON writes n as a JSON string, invalid bytes escaped as above.
func (n Name) MarshalJSON() ([]byte, error) { panic("contract") }
