package command

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

// fakeConn is a connection that cannot connect, and says so; or, with
// t set, one that fails the test if anything asks it to.
type fakeConn struct {
	t     *testing.T
	sends int
}

func (c *fakeConn) Start() error { return nil }
func (c *fakeConn) Close() error { return nil }
func (c *fakeConn) Kill()        {}

func (c *fakeConn) Send(ctx context.Context, line string, keep driver.LineFunc) (*driver.Pending, error) {
	c.sends++
	if c.t != nil {
		c.t.Errorf("Send(%q) called", line)
	}
	return nil, &driver.ConnError{Msg: "connect failed: no route", Kind: proto.KindConnectFailed}
}

func (c *fakeConn) Attrs(ctx context.Context, f driver.AttrFunc) *driver.Call {
	c.sends++
	if c.t != nil {
		c.t.Error("Attrs called")
	}
	return driver.CallDone(nil, &driver.ConnError{Msg: "connect failed: no route", Kind: proto.KindConnectFailed})
}

func (c *fakeConn) Resolve(ctx context.Context, p string) (string, error) {
	return filepath.Join("/home/u", p), nil
}

var _ driver.Conn = (*fakeConn)(nil)

// now begins op and takes its result, which must be known at once.
func now(t *testing.T, r *Runner, op proto.Op) *proto.Response {
	t.Helper()
	j := r.Begin(context.Background(), op, nil)
	select {
	case <-j.Done():
	default:
		t.Fatalf("%#v: not done at once", op)
	}
	return j.Result()
}

func TestHello(t *testing.T) {
	r := NewRunner(Config{Conn: &fakeConn{t: t}, Version: "9.8.7", Mode: "batch"})
	resp := now(t, r, Hello{})
	got, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"status":"ok","message":"sftper 9.8.7, protocol 1, batch mode","data":{"sftper":"9.8.7","protocol":1,"commands":["CHMOD","DELETE","DF","GET","HELLO","LISTDIR","LSTAT","MKDIR","PUT","READLINK","REALPATH","RENAME","RMDIR","STAT","SYMLINK","UTIME"],"mode":"batch"}}`
	if string(got) != want {
		t.Errorf("HELLO:\n got %s\nwant %s", got, want)
	}
}

// TestAnsweredAtOnce: what is decided before anything is sent.
func TestAnsweredAtOnce(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		op     proto.Op
		status proto.Status
		msg    string
		data   string
	}{
		{"missing local source", Put{Source: filepath.Join(dir, "nope"), Dest: "r"}, proto.StatusError,
			`local source: stat "` + filepath.Join(dir, "nope") + `": no such file or directory`, `{"kind":"local","remote":"unchanged"}`},
		{"local source a directory", Put{Source: dir, Dest: "r"}, proto.StatusError,
			`local source "` + dir + `" is a directory ("recursive": true uploads a tree)`, `{"kind":"local","remote":"unchanged"}`},
		{"unsafe PUT dest", Put{Source: file, Dest: "a\nb"}, proto.StatusFail, "", "null"},
		{"unsafe GET source", Get{Source: "a\nb", Dest: file}, proto.StatusFail, "", "null"},
		{"LISTDIR of a path with NUL", ListDir{Path: "a\x00b"}, proto.StatusFail, `path "a\x00b" holds a NUL byte, which no file name can hold`, "null"},
		{"STAT of a path with NUL", Stat{Path: "/a\x00"}, proto.StatusFail, `path "/a\x00" holds a NUL byte, which no file name can hold`, "null"},
		{"LSTAT of a path with NUL", Lstat{Path: "\x00"}, proto.StatusFail, `path "\x00" holds a NUL byte, which no file name can hold`, "null"},
		{"unsafe DELETE", Delete{Path: "a\nb"}, proto.StatusFail, "", "null"},
		{"not from the table", otherOp{}, proto.StatusFail, "command OTHER is not supported", "null"},
	}
	r := NewRunner(Config{Conn: &fakeConn{t: t}})
	for _, tt := range tests {
		resp := now(t, r, tt.op)
		data, _ := json.Marshal(resp.Data)
		if resp.Status != tt.status || (tt.msg != "" && resp.Message != tt.msg) || string(data) != tt.data {
			t.Errorf("%s: %s %q %s; want %s %q %s", tt.name, resp.Status, resp.Message, data, tt.status, tt.msg, tt.data)
		}
	}
}

// TestNotSent: a request whose line cannot be sent fails with the
// connection's kind, and a PUT says the server is unchanged.
func TestNotSent(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &fakeConn{}
	r := NewRunner(Config{Conn: c})
	for op, want := range map[proto.Op]string{
		Put{Source: file, Dest: "r"}: `{"kind":"connect_failed","remote":"unchanged"}`,
		Get{Source: "r", Dest: file}: `{"kind":"connect_failed"}`,
		ListDir{Path: "d"}:           `{"kind":"connect_failed"}`,
		Delete{Path: "r"}:            `{"kind":"connect_failed"}`,
	} {
		resp := now(t, r, op)
		data, _ := json.Marshal(resp.Data)
		if resp.Status != proto.StatusError || resp.Message != "connect failed: no route" || string(data) != want {
			t.Errorf("%#v: %s %q %s, want error %s", op, resp.Status, resp.Message, data, want)
		}
	}
	if c.sends != 4 {
		t.Errorf("%d sends, want 4", c.sends)
	}
}
