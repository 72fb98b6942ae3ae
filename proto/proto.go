package proto

import (
	"encoding/json"
	"errors"
	"fmt"
)

// MaxFrame is the largest request accepted, in bytes: the payload of a
// binary frame, or a text line without its line ending.
const MaxFrame = 16 << 20

// Framing says how JSON values are delimited on the wire.
type Framing int

const (
	// FramingAuto picks text or binary from the first byte of input:
	// '{' or white space (space, \t, \r, \n) means text, anything else
	// binary. No valid binary frame can start with one of those bytes, as
	// its length would be over MaxFrame.
	FramingAuto Framing = iota
	// FramingText is one JSON object per line. Lines end with LF; a CR
	// before the LF is dropped; the last line may lack its LF. Blank lines
	// are skipped.
	FramingText
	// FramingBinary prefixes each JSON payload with its length as a 4-byte
	// big-endian unsigned integer.
	FramingBinary
)

// ParseFraming parses the name of a framing: "auto", "text" or "binary".
func ParseFraming(s string) (Framing, error) {
	switch s {
	case "auto":
		return FramingAuto, nil
	case "text":
		return FramingText, nil
	case "binary":
		return FramingBinary, nil
	}
	return 0, fmt.Errorf("unknown framing %q (want auto, text or binary)", s)
}

// String returns the name ParseFraming accepts for f.
func (f Framing) String() string {
	switch f {
	case FramingAuto:
		return "auto"
	case FramingText:
		return "text"
	case FramingBinary:
		return "binary"
	}
	return fmt.Sprintf("Framing(%d)", int(f))
}

// Op is one decoded command: whatever the Decoder of its name in the
// caller's Commands built. proto knows no command of its own.
type Op interface {
	// Name returns the canonical upper-case command name, e.g. "PUT".
	Name() string
}

// A Decoder builds the Op of one command from the request's arguments,
// asking a for each one it takes (see Args). It must not keep a.
type Decoder func(a *Args) Op

// Commands is the set of commands a Codec accepts: the canonical name of
// each (ASCII upper case; names are matched in any case) to its Decoder.
type Commands map[string]Decoder

// Request is one decoded request.
type Request struct {
	// ID is the request's "id" exactly as the client wrote it, to be
	// echoed in the response; nil when the request has no "id".
	ID json.RawMessage
	Op Op
}

// BadRequest is a request that could never succeed: not UTF-8, not JSON,
// not an object, an unknown key or command, a missing, empty, mistyped or
// unknown argument, an oversized text line, an empty binary frame.
// The stream goes on after it: the caller answers with Fail(ID, Reason), or
// e.Response(), and reads the next request.
type BadRequest struct {
	// ID is the request's "id" when the request was a JSON object that
	// had one, else nil.
	ID json.RawMessage
	// Reason says what is wrong, for the client to read.
	Reason string
}

func (e *BadRequest) Error() string { return "bad request: " + e.Reason }

// Response is the "fail" response answering e.
func (e *BadRequest) Response() *Response { return Fail(e.ID, e.Reason) }

// ErrStreamBroken is wrapped by every error after which the input cannot be
// split into requests any more: a binary length over MaxFrame, a frame cut
// short by the end of input, a failed read. The caller answers "fail" with
// the error's text, says why on stderr and exits non-zero.
var ErrStreamBroken = errors.New("request stream broken")

// Status is the outcome of a request.
type Status string

const (
	// StatusOK: the request was carried out.
	StatusOK Status = "ok"
	// StatusError: the request was valid but failed, e.g. the remote file
	// does not exist.
	StatusError Status = "error"
	// StatusProgress: not a result but a report on a request that is
	// still running, written only for a request that asked for them,
	// before its result.
	StatusProgress Status = "progress"
	// StatusFail: the request itself was bad, or sftper cannot go on.
	StatusFail Status = "fail"
)

// Response is one result, written by Codec.WriteResponse.
type Response struct {
	Status  Status `json:"status"`
	Message string `json:"message"`
	// Data is the command's result; it is always present in the JSON, as
	// null when nil.
	Data any `json:"data"`
	// ID is the request's ID, echoed as is; left out when nil.
	ID json.RawMessage `json:"id,omitempty"`
}

// OK returns a successful response carrying data.
func OK(id json.RawMessage, data any) *Response {
	return &Response{Status: StatusOK, ID: id, Data: data}
}

// Fail returns a "fail" response saying reason.
func Fail(id json.RawMessage, reason string) *Response {
	return &Response{Status: StatusFail, ID: id, Message: reason}
}
