package proto

import (
	"errors"
	"io/fs"
)

// Kind says what sort of failure an "error" result is, for a client to act
// on without reading the message: it is the "kind" member of the result's
// data object. The list is part of the protocol and only ever grows: a
// kind is never renamed or given a new meaning, so a client may match on
// it. README.md says which kinds come from where.
type Kind string

// The kinds, in the order README.md documents them.
const (
	KindNoSuchFile       Kind = "no_such_file"      // the remote path (or a directory on the way to it) does not exist
	KindPermissionDenied Kind = "permission_denied" // the server refused access
	KindNotADirectory    Kind = "not_a_directory"   // a directory was needed and the path is something else
	KindIsADirectory     Kind = "is_a_directory"    // a file was needed and the path is a directory
	KindAlreadyExists    Kind = "already_exists"    // the path exists and must not
	KindNotEmpty         Kind = "not_empty"         // the directory has entries
	KindNoSpace          Kind = "no_space"          // the server's file system is full, or a quota is reached
	KindUnsupported      Kind = "unsupported"       // the server does not do this
	KindFailure          Kind = "failure"           // the server said no without saying why
	KindConnectionLost   Kind = "connection_lost"   // the connection ended while the request ran
	KindConnectFailed    Kind = "connect_failed"    // no connection could be made
	KindAuthFailed       Kind = "auth_failed"       // the server did not accept any credential
	KindHostKeyUnknown   Kind = "host_key_unknown"  // the server's host key is not in known_hosts, and sftper never accepts one
	KindHostKeyChanged   Kind = "host_key_changed"  // the server's host key differs from the one recorded
	KindTimeout          Kind = "timeout"           // connecting, or a request, took longer than its bound
	KindInterrupted      Kind = "interrupted"       // sftper was stopped (a signal) before the request finished
	KindLocal            Kind = "local"             // a problem with a local file; the message says which
	KindNotASymlink      Kind = "not_a_symlink"     // a symbolic link was needed and the path is something else
)

// Kinds lists every kind, in documentation order.
var Kinds = []Kind{
	KindNoSuchFile, KindPermissionDenied, KindNotADirectory, KindIsADirectory,
	KindAlreadyExists, KindNotEmpty, KindNoSpace, KindUnsupported, KindFailure,
	KindConnectionLost, KindConnectFailed, KindAuthFailed, KindHostKeyUnknown,
	KindHostKeyChanged, KindTimeout, KindInterrupted, KindLocal, KindNotASymlink,
}

// Kinded is an error that knows its kind.
type Kinded interface {
	error
	ErrorKind() Kind
}

// KindOf returns the kind of the first error in err's chain that knows its
// own, and KindFailure for an error that says nothing more.
func KindOf(err error) Kind {
	var k Kinded
	if errors.As(err, &k) {
		if kind := k.ErrorKind(); kind != "" {
			return kind
		}
	}
	return KindFailure
}

// Error is a failure of a valid request, with its kind. It unwraps to the
// standard library's sentinels where one means the same, so that
// errors.Is(err, fs.ErrNotExist) holds for a missing remote file.
type Error struct {
	Kind Kind
	Msg  string
	Err  error // the cause, if any
}

func (e *Error) Error() string   { return e.Msg }
func (e *Error) ErrorKind() Kind { return e.Kind }
func (e *Error) Unwrap() error   { return e.Err }

// Is matches the fs sentinels that mean the same as e's kind.
func (e *Error) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return e.Kind == KindNoSuchFile
	case fs.ErrPermission:
		return e.Kind == KindPermissionDenied
	case fs.ErrExist:
		return e.Kind == KindAlreadyExists
	}
	return false
}

// Errorf is shorthand for an *Error without a cause.
func Errorf(kind Kind, msg string) *Error { return &Error{Kind: kind, Msg: msg} }
