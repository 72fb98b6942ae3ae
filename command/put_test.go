package command

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

// ctxConn fails every Send the way driver's Conns do when the request's
// context ends while it waits for a connection.
type ctxConn struct{ fakeConn }

func (c *ctxConn) Send(ctx context.Context, line string, keep driver.LineFunc) (*driver.Pending, error) {
	return nil, ctx.Err()
}

// A PUT whose line never reached sftp changed nothing on the server,
// whatever ended it.
func TestPutNotSentIsUnchanged(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		conn driver.Conn
		ctx  func() (context.Context, context.CancelFunc)
		kind string
	}{
		{"no connection", &fakeConn{}, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, "connect_failed"},
		{"stopping", &ctxConn{}, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, "interrupted"},
		{"deadline", &ctxConn{}, func() (context.Context, context.CancelFunc) { return context.WithTimeout(context.Background(), -1) }, "timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := c.ctx()
			defer cancel()
			r := NewRunner(Config{Conn: c.conn})
			resp := r.Begin(ctx, Put{Source: src, Dest: "/d"}, nil).Result()
			d, ok := resp.Data.(*ErrorData)
			if resp.Status != "error" || !ok || d.Remote != "unchanged" || string(d.Kind) != c.kind {
				t.Fatalf("got %+v (data %+v), want error, remote unchanged, kind %s", resp, resp.Data, c.kind)
			}
		})
	}
}

// relConn's working directory has a name that could not be read exactly.
type relConn struct{ fakeConn }

func (c *relConn) Resolve(ctx context.Context, p string) (string, error) {
	return "", &driver.RelativePathError{Path: p, Why: errors.New("remote working directory: bad escape")}
}

// A relative path that the connection can never use is a request that
// could never succeed: fail, not a connection kind a client would retry.
func TestRelativePathUnusableIsFail(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewRunner(Config{Conn: &relConn{}})
	for _, op := range []proto.Op{Put{Source: src, Dest: "d"}, Get{Source: "s", Dest: src + ".got"}, ListDir{Path: "d"}, Delete{Path: "d"}} {
		resp := r.Begin(context.Background(), op, nil).Result()
		if resp.Status != "fail" || !strings.Contains(resp.Message, "cannot be used") {
			t.Errorf("%s: %+v, want fail saying the relative path cannot be used", op.Name(), resp)
		}
	}
}
