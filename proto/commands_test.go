package proto

import (
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The commands the tests decode: the four that sftper had when proto
// still knew them, so that every old assertion holds as it was.

// Put copies the local file Source to the remote path Dest.
type Put struct{ Source, Dest string }

// Get copies the remote file Source to the local path Dest.
type Get struct{ Source, Dest string }

// ListDir lists the remote directory Path.
type ListDir struct{ Path string }

// Delete removes the remote file Path.
type Delete struct{ Path string }

func (Put) Name() string     { return "PUT" }
func (Get) Name() string     { return "GET" }
func (ListDir) Name() string { return "LISTDIR" }
func (Delete) Name() string  { return "DELETE" }

var testCommands = Commands{
	"PUT":     func(a *Args) Op { return Put{Source: a.Str("source"), Dest: a.Str("dest")} },
	"GET":     func(a *Args) Op { return Get{Source: a.Str("source"), Dest: a.Str("dest")} },
	"LISTDIR": func(a *Args) Op { return ListDir{Path: a.Str("path")} },
	"DELETE":  func(a *Args) Op { return Delete{Path: a.Str("path")} },
}

// noArgs is a command that takes no arguments.
type noArgs struct{}

func (noArgs) Name() string { return "NOARGS" }

// TestCommandSet: the codec knows the caller's commands and no others, and
// a command that asks for no argument takes none, with or without "args".
func TestCommandSet(t *testing.T) {
	cmds := Commands{"NOARGS": func(*Args) Op { return noArgs{} }}
	tests := []struct {
		in   string
		want result
	}{
		{`{"command":"noargs"}`, result{Op: noArgs{}}},
		{`{"command":"NOARGS","args":{}}`, result{Op: noArgs{}}},
		{`{"command":"NOARGS","args":null}`, result{Op: noArgs{}}},
		{`{"command":"NOARGS","args":{"x":1}}`, result{Bad: `NOARGS: unknown argument "x"`}},
		{`{"command":"NOARGS","args":[]}`, result{Bad: `NOARGS: "args" must be an object`}},
		{`{"command":"DELETE","args":{"path":"p"}}`, result{Bad: `unknown command "DELETE"`}},
	}
	for _, tt := range tests {
		got := readAll(t, NewCodec(strings.NewReader(tt.in), io.Discard, FramingText, cmds))
		if diff := cmp.Diff([]result{tt.want}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestNewCodecPanicsOnBadName(t *testing.T) {
	for _, name := range []string{"", "put", "Put"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewCodec with command %q did not panic", name)
				}
			}()
			NewCodec(strings.NewReader(""), io.Discard, FramingText, Commands{name: testCommands["PUT"]})
		}()
	}
}
