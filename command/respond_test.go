package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

// wire is resp as sftper writes it, in text framing.
func wire(t *testing.T, resp *proto.Response) string {
	t.Helper()
	var buf bytes.Buffer
	if err := proto.NewCodec(strings.NewReader(""), &buf, proto.FramingText, nil).WriteResponse(resp); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestRespondOKAsBefore: ok results are byte for byte what sftper wrote
// when driver built them as maps.
func TestRespondOKAsBefore(t *testing.T) {
	// Sample data shaped like a listing: this test is about the encoding
	// of a slice of structs, not about LISTDIR's own type.
	type entry struct {
		Name  string `json:"name"`
		Size  int64  `json:"size"`
		Mtime int64  `json:"mtime"`
		Mode  uint32 `json:"mode"`
	}
	entries := []entry{{Name: "a b", Size: 3, Mtime: 1700000000, Mode: 0o100644}, {Name: "<d>", Size: 4096, Mtime: 1, Mode: 0o40755}}
	tests := []struct {
		name string
		old  *proto.Response
		new  *proto.Response
	}{
		{
			"PUT",
			&proto.Response{Status: proto.StatusOK, Message: "uploaded a to b",
				Data: map[string]any{"source": "/l/a", "dest": "b&<>", "size": int64(14)}},
			respond(Result{Message: "uploaded a to b", Data: &Transfer{Source: "/l/a", Dest: "b&<>", Size: 14}}, nil),
		},
		{
			"GET",
			&proto.Response{Status: proto.StatusOK, Message: "downloaded r to /l/x",
				Data: map[string]any{"source": "r", "dest": "/l/x", "size": int64(0)}},
			respond(Result{Message: "downloaded r to /l/x", Data: &Transfer{Source: "r", Dest: "/l/x"}}, nil),
		},
		{
			"LISTDIR",
			&proto.Response{Status: proto.StatusOK, Message: "2 entries", Data: entries},
			respond(Result{Message: "2 entries", Data: entries}, nil),
		},
		{
			"LISTDIR empty",
			&proto.Response{Status: proto.StatusOK, Message: "0 entries", Data: []entry{}},
			respond(Result{Message: "0 entries", Data: []entry{}}, nil),
		},
		{
			"DELETE",
			&proto.Response{Status: proto.StatusOK, Message: "deleted x"},
			respond(Result{Message: "deleted x"}, nil),
		},
	}
	for _, tt := range tests {
		if o, n := wire(t, tt.old), wire(t, tt.new); o != n {
			t.Errorf("%s: now %s, was %s", tt.name, n, o)
		}
	}
}

// TestRespond: the JSON of every other shape.
func TestRespond(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"remote", batch.MessagesError([]string{`remote delete /h/x: No such file or directory`}),
			`{"status":"error","message":"remote delete /h/x: No such file or directory","data":{"kind":"no_such_file"}}`},
		{"PUT unchanged", &StateError{Remote: unchanged, Err: batch.MessagesError([]string{`dest open "/h/r/x": Permission denied`})},
			`{"status":"error","message":"dest open \"/h/r/x\": Permission denied","data":{"kind":"permission_denied","remote":"unchanged"}}`},
		{"PUT partial", &StateError{Remote: partial, Err: &driver.ConnError{Msg: "connection lost: x", Sent: true}},
			`{"status":"error","message":"connection lost: x","data":{"kind":"connection_lost","remote":"partial"}}`},
		{"connection", &driver.ConnError{Msg: "connect failed: no", Kind: proto.KindConnectFailed},
			`{"status":"error","message":"connect failed: no","data":{"kind":"connect_failed"}}`},
		{"local", localError("local source \"x\" is not a regular file", nil),
			`{"status":"error","message":"local source \"x\" is not a regular file","data":{"kind":"local"}}`},
		{"not a directory", proto.Errorf(proto.KindNotADirectory, `"f" is not a directory`),
			`{"status":"error","message":"\"f\" is not a directory","data":{"kind":"not_a_directory"}}`},
		{"unknown error", errors.New("odd"),
			`{"status":"error","message":"odd","data":{"kind":"failure"}}`},
		{"stopped", fmt.Errorf("waiting: %w", context.Canceled),
			`{"status":"error","message":"waiting: context canceled","data":{"kind":"interrupted"}}`},
		{"timed out", context.DeadlineExceeded,
			`{"status":"error","message":"context deadline exceeded","data":{"kind":"timeout"}}`},
		{"refused", refuse(&batch.UnsafePathError{Path: "a#b", Reason: "no"}),
			`{"status":"fail","message":` + fmt.Sprintf("%q", (&batch.UnsafePathError{Path: "a#b", Reason: "no"}).Error()) + `,"data":null}`},
	}
	for _, tt := range tests {
		if got := wire(t, respond(Result{}, tt.err)); got != tt.want+"\n" {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

// TestErrorsAreTyped: the errors behind the kinds match the fs sentinels.
func TestErrorsAreTyped(t *testing.T) {
	_, statErr := os.Stat("/nonexistent/x")
	tests := []struct {
		err    error
		target error
	}{
		{&StateError{Remote: unchanged, Err: localError("local source: ...", statErr)}, fs.ErrNotExist},
		{&StateError{Remote: unchanged, Err: batch.MessagesError([]string{`dest open "/x": Permission denied`})}, fs.ErrPermission},
		{batch.MessagesError([]string{`File "/h/x" not found.`}), fs.ErrNotExist},
		{proto.Errorf(proto.KindNoSuchFile, `"x": No such file or directory`), fs.ErrNotExist},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.target) {
			t.Errorf("errors.Is(%v, %v) is false", tt.err, tt.target)
		}
	}
	if errors.Is(batch.MessagesError([]string{`remote delete /d: Failure`}), fs.ErrNotExist) {
		t.Error("a Failure is fs.ErrNotExist")
	}
}
