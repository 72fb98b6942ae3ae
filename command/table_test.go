package command

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/proto"
)

// decodeOne decodes one text-framed request with the table's decoders.
func decodeOne(t *testing.T, line string) (proto.Op, string) {
	t.Helper()
	c := proto.NewCodec(strings.NewReader(line+"\n"), io.Discard, proto.FramingText, Decoders())
	req, err := c.ReadRequest()
	var bad *proto.BadRequest
	switch {
	case err == nil:
		return req.Op, ""
	case errors.As(err, &bad):
		return nil, bad.Reason
	}
	t.Fatalf("%s: %v", line, err)
	return nil, ""
}

// TestDecode: every entry decodes its arguments, and refuses bad ones with
// the texts sftper has always used.
func TestDecode(t *testing.T) {
	tests := []struct {
		in   string
		want proto.Op
		bad  string
	}{
		{`{"command":"PUT","args":{"source":"a","dest":"b"}}`, Put{Source: "a", Dest: "b", Xfer: Xfer{Atomic: true}}, ""},
		{`{"command":"PUT","args":{"source":"a","dest":"b","atomic":false,"preserve":true,"resume":true,"fsync":true,"progress":true}}`,
			Put{Source: "a", Dest: "b", Xfer: Xfer{Preserve: true, Resume: true, Fsync: true, Progress: true}}, ""},
		{`{"command":"GET","args":{"source":"a","dest":"b","preserve":true,"resume":true}}`, Get{Source: "a", Dest: "b", Xfer: Xfer{Preserve: true, Resume: true}}, ""},
		{`{"command":"GET","args":{"source":"a","dest":"b","atomic":true}}`, nil, `GET: unknown argument "atomic"`},
		{`{"command":"PUT","args":{"source":"a","dest":"b","atomic":"no"}}`, nil, `PUT: argument "atomic" must be true or false`},
		{`{"command":"MKDIR","args":{"path":"d"}}`, Mkdir{Path: "d"}, ""},
		{`{"command":"MKDIR","args":{"path":"d","parents":true,"mode":493}}`, Mkdir{Path: "d", Parents: true, Mode: 0o755, HasMode: true}, ""},
		{`{"command":"MKDIR","args":{"path":"d","mode":4096}}`, nil, `MKDIR: argument "mode" is 4096, out of range (0 to 4095)`},
		{`{"command":"RMDIR","args":{"path":"d"}}`, Rmdir{Path: "d"}, ""},
		{`{"command":"RENAME","args":{"source":"a","dest":"b"}}`, Rename{Source: "a", Dest: "b"}, ""},
		{`{"command":"RENAME","args":{"source":"a","dest":"b","overwrite":true}}`, Rename{Source: "a", Dest: "b", Overwrite: true}, ""},
		{`{"command":"CHMOD","args":{"path":"a","mode":420}}`, Chmod{Path: "a", Mode: 0o644}, ""},
		{`{"command":"CHMOD","args":{"path":"a"}}`, nil, `CHMOD: missing argument "mode"`},
		{`{"command":"CHMOD","args":{"path":"a","mode":"644"}}`, nil, `CHMOD: argument "mode" must be a number`},
		{`{"command":"SYMLINK","args":{"target":"../t","path":"l"}}`, Symlink{Target: "../t", Path: "l"}, ""},
		{`{"command":"READLINK","args":{"path":"l"}}`, Readlink{Path: "l"}, ""},
		{`{"command":"UTIME","args":{"path":"a","mtime":5}}`, Utime{Path: "a", Mtime: 5, Atime: 5}, ""},
		{`{"command":"UTIME","args":{"path":"a","mtime":5,"atime":7}}`, Utime{Path: "a", Mtime: 5, Atime: 7}, ""},
		{`{"command":"UTIME","args":{"path":"a","atime":7}}`, nil, `UTIME: missing argument "mtime"`},
		{`{"command":"UTIME","args":{"path":"a","mtime":-1}}`, nil, `UTIME: argument "mtime" is -1, out of range (0 to 4294967295)`},
		{`{"command":"REALPATH","args":{"path":"."}}`, Realpath{Path: "."}, ""},
		{`{"command":"DF"}`, Df{Path: "."}, ""},
		{`{"command":"DF","args":{"path":"/srv"}}`, Df{Path: "/srv"}, ""},
		{`{"command":"get","args":{"source":"a","dest":"b"}}`, Get{Source: "a", Dest: "b"}, ""},
		{`{"command":"ListDir","args":{"path":"/"}}`, ListDir{Path: "/"}, ""},
		{`{"command":"DELETE","args":{"path":"x"}}`, Delete{Path: "x"}, ""},
		{`{"command":"HELLO","args":{}}`, Hello{}, ""},
		{`{"command":"hello"}`, Hello{}, ""},
		{`{"command":"HELLO","args":null}`, Hello{}, ""},

		{`{"command":"HELLO","args":{"x":1}}`, nil, `HELLO: unknown argument "x"`},
		{`{"command":"PUT"}`, nil, `PUT: missing "args"`},
		{`{"command":"PUT","args":{"source":"a"}}`, nil, `PUT: missing argument "dest"`},
		{`{"command":"GET","args":{"dest":"a"}}`, nil, `GET: missing argument "source"`},
		{`{"command":"PUT","args":{"source":1,"dest":"b"}}`, nil, `PUT: argument "source" must be a string`},
		{`{"command":"LISTDIR","args":{"path":""}}`, nil, `LISTDIR: argument "path" must not be empty`},
		{`{"command":"DELETE","args":{"path":"x","src":"y"}}`, nil, `DELETE: unknown argument "src"`},
		{`{"command":"DELETE","args":{"path":"\ud800"}}`, nil, `DELETE: argument "path" has a \u escape of a lone UTF-16 surrogate`},
		{`{"command":"LISTDIR","args":"x"}`, nil, `LISTDIR: "args" must be an object`},
		{`{"command":"FROBNICATE","args":{"path":"x"}}`, nil, `unknown command "FROBNICATE"`},
	}
	for _, tt := range tests {
		op, bad := decodeOne(t, tt.in)
		if diff := cmp.Diff(tt.want, op); diff != "" || bad != tt.bad {
			t.Errorf("%s: refusal %q, want %q; op (-want +got):\n%s", tt.in, bad, tt.bad, diff)
		}
	}
}

// TestTable: names are canonical and unique, each entry's Op says its
// entry's name, and Decoders and Names cover the table.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range table {
		if c.Name != strings.ToUpper(c.Name) || seen[c.Name] {
			t.Errorf("command name %q is not upper case or not unique", c.Name)
		}
		seen[c.Name] = true
		op, bad := decodeOne(t, `{"command":"`+c.Name+`","args":{}}`)
		if op != nil {
			if op.Name() != c.Name {
				t.Errorf("%s decodes to an Op named %s", c.Name, op.Name())
			}
			continue
		}
		if !strings.HasPrefix(bad, c.Name+": missing argument ") {
			t.Errorf("%s with no arguments: %q", c.Name, bad)
		}
	}
	want := []string{"CHMOD", "DELETE", "DF", "GET", "HELLO", "LISTDIR", "LSTAT", "MKDIR", "PUT", "READLINK", "REALPATH", "RENAME", "RMDIR", "STAT", "SYMLINK", "UTIME"}
	if diff := cmp.Diff(want, Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	var decoders []string
	for name := range Decoders() {
		decoders = append(decoders, name)
	}
	slices.Sort(decoders)
	if diff := cmp.Diff(want, decoders); diff != "" {
		t.Errorf("Decoders (-want +got):\n%s", diff)
	}
}
