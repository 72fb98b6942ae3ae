package command

import (
	"context"
	"errors"

	"github.com/sftper/sftper/proto"
)

// Result is what a command that succeeded answers: the response's message
// and its data, a value of the command's own result type (*Transfer,
// []Entry, *HelloData) or nil for none.
type Result struct {
	Message string
	Data    any
}

// Refusal is a request that could never succeed: a path that cannot be
// passed to sftp safely, a command that is not supported. It is answered
// "fail", with no kind.
type Refusal struct{ Err error }

func (e *Refusal) Error() string { return e.Err.Error() }
func (e *Refusal) Unwrap() error { return e.Err }

func refuse(err error) error { return &Refusal{Err: err} }

// StateError is the failure Err of a command that writes to the server,
// with what it left there.
type StateError struct {
	Remote string // "unchanged" or "partial"
	Err    error
}

func (e *StateError) Error() string { return e.Err.Error() }
func (e *StateError) Unwrap() error { return e.Err }

// ErrorData is the data of every "error" response.
type ErrorData struct {
	Kind proto.Kind `json:"kind"`
	// Remote is what a failed PUT left on the server: "unchanged" or
	// "partial".
	Remote string `json:"remote,omitempty"`
	// A recursive transfer of which some part failed says what it did,
	// and what failed (its members come after these).
	*Tree
}

// respond turns a command's outcome into its response: "ok" with res when
// err is nil; "fail" for a *Refusal; otherwise "error", with err's kind
// (see proto.KindOf) and, for a *StateError, what it left on the server.
// A request ended by its context is interrupted (sftper is stopping) or
// timed out.
func respond(res Result, err error) *proto.Response {
	if err == nil {
		return &proto.Response{Status: proto.StatusOK, Message: res.Message, Data: res.Data}
	}
	var ref *Refusal
	if errors.As(err, &ref) {
		return &proto.Response{Status: proto.StatusFail, Message: err.Error()}
	}
	d := &ErrorData{Kind: proto.KindOf(err)}
	switch {
	case errors.Is(err, context.Canceled):
		d.Kind = proto.KindInterrupted
	case errors.Is(err, context.DeadlineExceeded):
		d.Kind = proto.KindTimeout
	}
	var se *StateError
	if errors.As(err, &se) {
		d.Remote = se.Remote
	}
	var te *TreeError
	if errors.As(err, &te) {
		d.Tree = te.Tree
		if d.Remote == "" {
			d.Remote = te.Remote
		}
	}
	return &proto.Response{Status: proto.StatusError, Message: err.Error(), Data: d}
}
