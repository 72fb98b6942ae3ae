package sftpwire

import (
	"fmt"
	"io/fs"

	"github.com/sftper/sftper/proto"
)

// Code is an SFTP status code (SSH_FX_*), v3's and those of later drafts
// that some servers send whatever version was agreed.
type Code uint32

// The codes 0 to 8 are draft-02's (version 3); the others come from the
// later drafts, up to draft-13 (version 6).
const (
	OK                Code = 0
	EOF               Code = 1
	NoSuchFile        Code = 2
	PermissionDenied  Code = 3
	Failure           Code = 4
	BadMessage        Code = 5
	NoConnection      Code = 6
	ConnectionLost    Code = 7
	OpUnsupported     Code = 8
	InvalidHandle     Code = 9
	NoSuchPath        Code = 10
	FileAlreadyExists Code = 11
	WriteProtect      Code = 12
	NoMedia           Code = 13
	NoSpaceOnFS       Code = 14
	QuotaExceeded     Code = 15
	UnknownPrincipal  Code = 16
	LockConflict      Code = 17
	DirNotEmpty       Code = 18
	NotADirectory     Code = 19
	InvalidFilename   Code = 20
	LinkLoop          Code = 21
	CannotDelete      Code = 22
	InvalidParameter  Code = 23
	FileIsADirectory  Code = 24

	ByteRangeLockConflict   Code = 25
	ByteRangeLockRefused    Code = 26
	DeletePending           Code = 27
	FileCorrupt             Code = 28
	OwnerInvalid            Code = 29
	GroupInvalid            Code = 30
	NoMatchingByteRangeLock Code = 31
)

// codes is everything this package knows of a code, in one place so that
// a name, a kind and OpenSSH's text cannot disagree: its name in the
// drafts, the kind a client acts on, and, for the codes OpenSSH knows
// (0 to 8), the text its sftp prints for it (fx2txt in sftp-common.c).
// A code whose kind is not given here is KindFailure.
var codes = [...]struct {
	name string
	kind proto.Kind
	text string
}{
	OK:                      {"SSH_FX_OK", "", "No error"},
	EOF:                     {"SSH_FX_EOF", "", "End of file"},
	NoSuchFile:              {"SSH_FX_NO_SUCH_FILE", proto.KindNoSuchFile, "No such file or directory"},
	PermissionDenied:        {"SSH_FX_PERMISSION_DENIED", proto.KindPermissionDenied, "Permission denied"},
	Failure:                 {"SSH_FX_FAILURE", "", "Failure"},
	BadMessage:              {"SSH_FX_BAD_MESSAGE", "", "Bad message"},
	NoConnection:            {"SSH_FX_NO_CONNECTION", proto.KindConnectionLost, "No connection"},
	ConnectionLost:          {"SSH_FX_CONNECTION_LOST", proto.KindConnectionLost, "Connection lost"},
	OpUnsupported:           {"SSH_FX_OP_UNSUPPORTED", proto.KindUnsupported, "Operation unsupported"},
	InvalidHandle:           {"SSH_FX_INVALID_HANDLE", "", ""},
	NoSuchPath:              {"SSH_FX_NO_SUCH_PATH", proto.KindNoSuchFile, ""},
	FileAlreadyExists:       {"SSH_FX_FILE_ALREADY_EXISTS", proto.KindAlreadyExists, ""},
	WriteProtect:            {"SSH_FX_WRITE_PROTECT", proto.KindPermissionDenied, ""},
	NoMedia:                 {"SSH_FX_NO_MEDIA", "", ""},
	NoSpaceOnFS:             {"SSH_FX_NO_SPACE_ON_FILESYSTEM", proto.KindNoSpace, ""},
	QuotaExceeded:           {"SSH_FX_QUOTA_EXCEEDED", proto.KindNoSpace, ""},
	UnknownPrincipal:        {"SSH_FX_UNKNOWN_PRINCIPAL", "", ""},
	LockConflict:            {"SSH_FX_LOCK_CONFLICT", "", ""},
	DirNotEmpty:             {"SSH_FX_DIR_NOT_EMPTY", proto.KindNotEmpty, ""},
	NotADirectory:           {"SSH_FX_NOT_A_DIRECTORY", proto.KindNotADirectory, ""},
	InvalidFilename:         {"SSH_FX_INVALID_FILENAME", "", ""},
	LinkLoop:                {"SSH_FX_LINK_LOOP", "", ""},
	CannotDelete:            {"SSH_FX_CANNOT_DELETE", proto.KindPermissionDenied, ""},
	InvalidParameter:        {"SSH_FX_INVALID_PARAMETER", "", ""},
	FileIsADirectory:        {"SSH_FX_FILE_IS_A_DIRECTORY", proto.KindIsADirectory, ""},
	ByteRangeLockConflict:   {"SSH_FX_BYTE_RANGE_LOCK_CONFLICT", "", ""},
	ByteRangeLockRefused:    {"SSH_FX_BYTE_RANGE_LOCK_REFUSED", "", ""},
	DeletePending:           {"SSH_FX_DELETE_PENDING", "", ""},
	FileCorrupt:             {"SSH_FX_FILE_CORRUPT", "", ""},
	OwnerInvalid:            {"SSH_FX_OWNER_INVALID", "", ""},
	GroupInvalid:            {"SSH_FX_GROUP_INVALID", "", ""},
	NoMatchingByteRangeLock: {"SSH_FX_NO_MATCHING_BYTE_RANGE_LOCK", "", ""},
}

// String is the code's name in the drafts, "SSH_FX_NO_SUCH_FILE", or
// "SSH_FX_(N)" for one no draft names.
func (c Code) String() string {
	if int64(c) < int64(len(codes)) {
		return codes[c].name
	}
	return fmt.Sprintf("SSH_FX_(%d)", uint32(c))
}

// Kind is what the code means for a client (see proto.Kind). A code that
// says nothing a client could act on differently (a bare failure, a bad
// message, EOF where it is not expected, a code from a later draft that
// has no kind of its own, one no draft names) is KindFailure.
func (c Code) Kind() proto.Kind {
	if int64(c) < int64(len(codes)) && codes[c].kind != "" {
		return codes[c].kind
	}
	return proto.KindFailure
}

// CodeOfText returns the status code whose text OpenSSH's sftp prints
// (fx2txt in sftp-common.c: "No such file or directory" is
// SSH_FX_NO_SUCH_FILE); false for "Unknown status" and any other text.
//
// sftp prints only that text, never the code nor the server's message, so
// the text is all a reader of its output has; fx2txt has one text per
// code, so the mapping back is exact.
func CodeOfText(text string) (Code, bool) {
	if text == "" {
		return 0, false
	}
	for c, e := range codes {
		if e.text == text {
			return Code(c), true
		}
	}
	return 0, false
}

// StatusError is a request the server answered with a status other than
// OK (or EOF where the call documents EOF as io.EOF).
type StatusError struct {
	Code    Code
	Message string // the server's own text, as sent (may be empty)
	Lang    string
}

// Error is the server's message, else the code's name. The message is
// the server's bytes as they came: an error message is not the place to
// decide what a server meant by invalid UTF-8.
func (e *StatusError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Code.String()
}

// ErrorKind is e.Code.Kind().
func (e *StatusError) ErrorKind() proto.Kind { return e.Code.Kind() }

// Is matches the io/fs sentinels that mean the same as e's kind, as
// proto.Error does, so that errors.Is(err, fs.ErrNotExist) holds for a
// file the server says is not there; and ErrUnsupported for
// SSH_FX_OP_UNSUPPORTED, so that a caller falls back the same way whether
// the server did not announce an extension or refused the request.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrUnsupported:
		return e.Code == OpUnsupported
	case fs.ErrNotExist:
		return e.Code.Kind() == proto.KindNoSuchFile
	case fs.ErrPermission:
		return e.Code.Kind() == proto.KindPermissionDenied
	case fs.ErrExist:
		return e.Code.Kind() == proto.KindAlreadyExists
	}
	return false
}
