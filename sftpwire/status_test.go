package sftpwire

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/sftper/sftper/proto"
)

// TestCodeTable writes out every code's name and kind, so that a change
// to the table is a change to this test too.
func TestCodeTable(t *testing.T) {
	const (
		fail    = proto.KindFailure
		noFile  = proto.KindNoSuchFile
		denied  = proto.KindPermissionDenied
		lost    = proto.KindConnectionLost
		noSpace = proto.KindNoSpace
	)
	tests := []struct {
		code Code
		name string
		kind proto.Kind
	}{
		{0, "SSH_FX_OK", fail},
		{1, "SSH_FX_EOF", fail},
		{2, "SSH_FX_NO_SUCH_FILE", noFile},
		{3, "SSH_FX_PERMISSION_DENIED", denied},
		{4, "SSH_FX_FAILURE", fail},
		{5, "SSH_FX_BAD_MESSAGE", fail},
		{6, "SSH_FX_NO_CONNECTION", lost},
		{7, "SSH_FX_CONNECTION_LOST", lost},
		{8, "SSH_FX_OP_UNSUPPORTED", proto.KindUnsupported},
		{9, "SSH_FX_INVALID_HANDLE", fail},
		{10, "SSH_FX_NO_SUCH_PATH", noFile},
		{11, "SSH_FX_FILE_ALREADY_EXISTS", proto.KindAlreadyExists},
		{12, "SSH_FX_WRITE_PROTECT", denied},
		{13, "SSH_FX_NO_MEDIA", fail},
		{14, "SSH_FX_NO_SPACE_ON_FILESYSTEM", noSpace},
		{15, "SSH_FX_QUOTA_EXCEEDED", noSpace},
		{16, "SSH_FX_UNKNOWN_PRINCIPAL", fail},
		{17, "SSH_FX_LOCK_CONFLICT", fail},
		{18, "SSH_FX_DIR_NOT_EMPTY", proto.KindNotEmpty},
		{19, "SSH_FX_NOT_A_DIRECTORY", proto.KindNotADirectory},
		{20, "SSH_FX_INVALID_FILENAME", fail},
		{21, "SSH_FX_LINK_LOOP", fail},
		{22, "SSH_FX_CANNOT_DELETE", denied},
		{23, "SSH_FX_INVALID_PARAMETER", fail},
		{24, "SSH_FX_FILE_IS_A_DIRECTORY", proto.KindIsADirectory},
		{25, "SSH_FX_BYTE_RANGE_LOCK_CONFLICT", fail},
		{26, "SSH_FX_BYTE_RANGE_LOCK_REFUSED", fail},
		{27, "SSH_FX_DELETE_PENDING", fail},
		{28, "SSH_FX_FILE_CORRUPT", fail},
		{29, "SSH_FX_OWNER_INVALID", fail},
		{30, "SSH_FX_GROUP_INVALID", fail},
		{31, "SSH_FX_NO_MATCHING_BYTE_RANGE_LOCK", fail},
		{32, "SSH_FX_(32)", fail},
		{0xFFFFFFFF, "SSH_FX_(4294967295)", fail},
	}
	for _, tt := range tests {
		if got := tt.code.String(); got != tt.name {
			t.Errorf("Code(%d).String() = %q, want %q", uint32(tt.code), got, tt.name)
		}
		if got := tt.code.Kind(); got != tt.kind {
			t.Errorf("Code(%d).Kind() = %q, want %q", uint32(tt.code), got, tt.kind)
		}
	}
	if len(codes) != 32 {
		t.Errorf("the table has %d codes, the test 32", len(codes))
	}
	// Every kind a code has is one proto knows.
	for c := range codes {
		k := Code(c).Kind()
		known := false
		for _, p := range proto.Kinds {
			known = known || p == k
		}
		if !known {
			t.Errorf("Code(%d).Kind() = %q, not in proto.Kinds", c, k)
		}
	}
}

// TestCodeOfText: the texts of fx2txt in openssh-portable's sftp-common.c,
// as sftp prints them.
func TestCodeOfText(t *testing.T) {
	tests := []struct {
		text string
		code Code
		ok   bool
	}{
		{"No error", OK, true},
		{"End of file", EOF, true},
		{"No such file or directory", NoSuchFile, true},
		{"Permission denied", PermissionDenied, true},
		{"Failure", Failure, true},
		{"Bad message", BadMessage, true},
		{"No connection", NoConnection, true},
		{"Connection lost", ConnectionLost, true},
		{"Operation unsupported", OpUnsupported, true},
		{"Unknown status", 0, false},
		{"", 0, false},
		{"no such file or directory", 0, false},
		{"No such file", 0, false},                // the server's message, not sftp's text
		{"No such file or directory\n", 0, false}, // exact, not trimmed
		{"SSH_FX_NO_SUCH_FILE", 0, false},
	}
	for _, tt := range tests {
		code, ok := CodeOfText(tt.text)
		if code != tt.code || ok != tt.ok {
			t.Errorf("CodeOfText(%q) = %v, %v; want %v, %v", tt.text, code, ok, tt.code, tt.ok)
		}
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		err      *StatusError
		msg      string
		notExist bool
		denied   bool
		exists   bool
	}{
		{&StatusError{Code: NoSuchFile, Message: "No such file"}, "No such file", true, false, false},
		{&StatusError{Code: NoSuchFile}, "SSH_FX_NO_SUCH_FILE", true, false, false},
		{&StatusError{Code: NoSuchPath}, "SSH_FX_NO_SUCH_PATH", true, false, false},
		{&StatusError{Code: PermissionDenied, Message: "nope \xff"}, "nope \xff", false, true, false},
		{&StatusError{Code: FileAlreadyExists}, "SSH_FX_FILE_ALREADY_EXISTS", false, false, true},
		{&StatusError{Code: Failure, Message: "Not a directory"}, "Not a directory", false, false, false},
		{&StatusError{Code: 99}, "SSH_FX_(99)", false, false, false},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.msg {
			t.Errorf("%+v: Error() = %q, want %q", *tt.err, got, tt.msg)
		}
		if got := tt.err.ErrorKind(); got != tt.err.Code.Kind() {
			t.Errorf("%+v: ErrorKind() = %q", *tt.err, got)
		}
		wrapped := fmt.Errorf("stat: %w", tt.err)
		if got := proto.KindOf(wrapped); got != tt.err.Code.Kind() {
			t.Errorf("%+v: proto.KindOf = %q", *tt.err, got)
		}
		if got := errors.Is(wrapped, fs.ErrNotExist); got != tt.notExist {
			t.Errorf("%+v: errors.Is(fs.ErrNotExist) = %v", *tt.err, got)
		}
		if got := errors.Is(wrapped, fs.ErrPermission); got != tt.denied {
			t.Errorf("%+v: errors.Is(fs.ErrPermission) = %v", *tt.err, got)
		}
		if got := errors.Is(wrapped, fs.ErrExist); got != tt.exists {
			t.Errorf("%+v: errors.Is(fs.ErrExist) = %v", *tt.err, got)
		}
	}
}
