package integration

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/integration/client"
)

// TestFail: malformed requests are answered "fail", nothing is attempted,
// and the next request is served as usual.
func TestFail(t *testing.T) { eachMode(t, testFail) }

func testFail(t *testing.T, m mode) {
	bothFramings(t, func(t *testing.T, fr client.Framing) {
		s := start(t, runOpts{mode: m, framing: fr}, append([]string{"--framing", fr.String()}, defaultArgs()...)...)
		rel, abs := remoteDir(t, srv)
		writeFile(t, srv, filepath.Join(abs, "victim"), []byte("v"))
		writeFile(t, srv, filepath.Join(abs, "victim2"), []byte("v"))
		local := t.TempDir()
		src := filepath.Join(local, "src")
		writeFile(t, nil, src, []byte("src"))

		q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
		long := strings.Repeat("a", 3000)
		longish := strings.Repeat("b", 2100)
		cases := []struct{ name, payload string }{
			{"not JSON", `hello`},
			{"truncated JSON", `{"command":"LISTDIR",`},
			{"trailing garbage", `{"command":"LISTDIR","args":{"path":"."}} x`},
			{"array", `[1,2]`},
			{"string", `"LISTDIR"`},
			{"number", `42`},
			{"null", `null`},
			{"empty object", `{}`},
			{"unknown command", `{"command":"FROB","args":{"path":"."}}`},
			{"empty command", `{"command":"","args":{"path":"."}}`},
			{"command not a string", `{"command":5,"args":{"path":"."}}`},
			{"no args", `{"command":"LISTDIR"}`},
			{"args null", `{"command":"LISTDIR","args":null}`},
			{"args not an object", `{"command":"LISTDIR","args":["."]}`},
			{"missing path", `{"command":"LISTDIR","args":{}}`},
			{"empty path", `{"command":"LISTDIR","args":{"path":""}}`},
			{"path not a string", `{"command":"LISTDIR","args":{"path":7}}`},
			{"path null", `{"command":"DELETE","args":{"path":null}}`},
			{"unknown argument", `{"command":"LISTDIR","args":{"path":".","recursive":true}}`},
			{"unknown top-level key", `{"command":"LISTDIR","args":{"path":"."},"extra":1}`},
			{"PUT missing dest", `{"command":"PUT","args":{"source":` + q(src) + `}}`},
			{"PUT missing source", `{"command":"PUT","args":{"dest":"x"}}`},
			{"PUT empty dest", `{"command":"PUT","args":{"source":` + q(src) + `,"dest":""}}`},
			{"PUT source not a string", `{"command":"PUT","args":{"source":1,"dest":"x"}}`},
			{"GET dest null", `{"command":"GET","args":{"source":"x","dest":null}}`},
			{"GET extra arg", `{"command":"GET","args":{"source":"x","dest":"y","path":"z"}}`},
			{"DELETE with LF", `{"command":"DELETE","args":{"path":` + q(rel+"/victim\nrm "+rel+"/victim2") + `}}`},
			{"DELETE with CR", `{"command":"DELETE","args":{"path":` + q(rel+"/victim\rrm "+rel+"/victim2") + `}}`},
			{"DELETE with NUL", `{"command":"DELETE","args":{"path":` + q(rel+"/victim\x00x") + `}}`},
			{"LISTDIR with NUL", `{"command":"LISTDIR","args":{"path":` + q(rel+"\x00/x") + `}}`},
			{"PUT source with LF", `{"command":"PUT","args":{"source":` + q(src+"\nx") + `,"dest":"x"}}`},
			{"PUT dest with CR", `{"command":"PUT","args":{"source":` + q(src) + `,"dest":` + q("x\ry") + `}}`},
			{"GET dest with LF", `{"command":"GET","args":{"source":` + q(rel+"/victim") + `,"dest":` + q(local+"/a\nb") + `}}`},
			{"GET source with NUL", `{"command":"GET","args":{"source":` + q(rel+"/victim\x00") + `,"dest":` + q(local+"/a") + `}}`},
			{"STAT with NUL", `{"command":"STAT","args":{"path":` + q(rel+"/victim\x00x") + `}}`},
			{"DELETE too long", `{"command":"DELETE","args":{"path":` + q(longish) + `}}`},
			{"PUT dest too long", `{"command":"PUT","args":{"source":` + q(src) + `,"dest":` + q(long) + `,"atomic":false}}`},
			// Atomic: the partial file's path is on the line.
			{"PUT dest dir too long", `{"command":"PUT","args":{"source":` + q(src) + `,"dest":` + q(long+"/x") + `}}`},
			{"PUT source too long", `{"command":"PUT","args":{"source":` + q(local+"/"+long) + `,"dest":"x"}}`},
			{"GET source too long", `{"command":"GET","args":{"source":` + q(rel+"/"+longish) + `,"dest":` + q(local+"/x") + `}}`},
		}
		if fr == client.Binary {
			cases = append(cases, struct{ name, payload string }{"empty frame", ``})
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := s.do([]byte(tc.payload))
				if res.Status != "fail" {
					t.Errorf("payload %q: %s, want status fail", tc.payload, res.Raw)
				}
				if res.Message == "" {
					t.Errorf("fail without a message: %s", res.Raw)
				}
				next := s.do([]byte(fmt.Sprintf(`{"command":"LISTDIR","args":{"path":%s},"id":%d}`, q(rel), i)))
				if next.Status != "ok" || string(next.ID) != fmt.Sprint(i) {
					t.Errorf("request after the fail: %s, want ok with id %d", next.Raw, i)
				}
			})
		}
		for _, n := range []string{"victim", "victim2"} {
			if !exists(filepath.Join(abs, n)) {
				t.Errorf("%s was removed by a refused request", n)
			}
		}
		if exists(filepath.Join(s.dir, "pwned")) || exists(filepath.Join(srv.Home, "pwned")) {
			t.Error("a refused request ran a command")
		}
		s.finish()
	})
}

// sameJSON compares two JSON values, keeping numbers as written.
func sameJSON(t *testing.T, want, got json.RawMessage) bool {
	t.Helper()
	dec := func(b json.RawMessage) (any, error) {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		err := d.Decode(&v)
		return v, err
	}
	w, err := dec(want)
	if err != nil {
		t.Fatalf("bad test id %s: %v", want, err)
	}
	g, err := dec(got)
	if err != nil {
		return false
	}
	return cmp.Equal(w, g)
}

func TestIDEcho(t *testing.T) { eachMode(t, testIDEcho) }

func testIDEcho(t *testing.T, m mode) {
	ids := []string{
		`1`, `0`, `-7`, `12345678901234567890`, `1.5e300`, `0.1`,
		`"abc"`, `""`, `"ünï \"quoted\" \\ \n"`, `true`, `false`,
		`[]`, `[1,"two",{"three":3}]`, `{"b":1,"a":[true,null]}`, `{}`,
	}
	bothFramings(t, func(t *testing.T, fr client.Framing) {
		s := startDefault(t, m, fr)
		for _, id := range ids {
			for _, r := range []struct{ status, payload string }{
				{"ok", `{"command":"LISTDIR","args":{"path":"."},"id":` + id + `}`},
				{"error", `{"command":"LISTDIR","args":{"path":"no such dir"},"id":` + id + `}`},
				{"fail", `{"id":` + id + `,"command":"FROB","args":{}}`},
			} {
				res := s.do([]byte(r.payload))
				if res.Status != r.status {
					t.Errorf("%s: status %q, want %q", r.payload, res.Status, r.status)
				}
				if !sameJSON(t, json.RawMessage(id), res.ID) {
					t.Errorf("%s: id came back as %s, want %s", r.payload, res.ID, id)
				}
			}
		}
		res := s.do([]byte(`{"command":"LISTDIR","args":{"path":"."}}`))
		if len(res.ID) != 0 && string(res.ID) != "null" {
			t.Errorf("no id sent, got id %s", res.ID)
		}
		s.finish()
	})
}

// TestPipelined: several requests written at once get their results in
// order, one each.
func TestPipelined(t *testing.T) { eachMode(t, testPipelined) }

func testPipelined(t *testing.T, m mode) {
	bothFramings(t, func(t *testing.T, fr client.Framing) {
		s := startDefault(t, m, fr)
		var wire []byte
		const n = 20
		for i := range n {
			payload := fmt.Sprintf(`{"command":"LISTDIR","args":{"path":"."},"id":%d}`, i)
			if i%3 == 1 {
				payload = fmt.Sprintf(`{"command":"LISTDIR","args":{"path":"missing-%d"},"id":%d}`, i, i)
			}
			if i%3 == 2 {
				payload = fmt.Sprintf(`{"command":"NOPE","id":%d}`, i)
			}
			wire = append(wire, client.Frame(fr, []byte(payload))...)
		}
		if err := s.p.Write(wire, reqTimeout); err != nil {
			t.Fatal(err)
		}
		s.p.CloseStdin()
		for i := range n {
			b, err := s.p.Recv(reqTimeout)
			if err != nil {
				t.Fatalf("result %d: %v", i, err)
			}
			res, err := client.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"ok", "error", "fail"}[i%3]
			if string(res.ID) != fmt.Sprint(i) || res.Status != want {
				t.Errorf("result %d: %s, want id %d status %s", i, res.Raw, i, want)
			}
		}
		if b, err := s.p.Recv(reqTimeout); err == nil {
			t.Errorf("extra result %q", b)
		}
		if code, err := s.p.Wait(reqTimeout); err != nil || code != 0 {
			t.Errorf("exit %d, %v; want 0", code, err)
		}
	})
}

// TestPythonBinaryClient is the README's Python client: auto framing, a
// length-prefixed request, a length-prefixed result.
func TestPythonBinaryClient(t *testing.T) { eachMode(t, testPythonBinaryClient) }

func testPythonBinaryClient(t *testing.T, m mode) {
	s := start(t, runOpts{mode: m, framing: client.Binary}, "-F", srv.SSHConfig, "sftp://"+"sftper-test")
	dat, _ := json.Marshal(map[string]any{"command": "LISTDIR", "args": map[string]any{"path": srv.Home}})
	wire := binary.BigEndian.AppendUint32(nil, uint32(len(dat)))
	if err := s.p.Write(append(wire, dat...), reqTimeout); err != nil {
		t.Fatal(err)
	}
	b, err := s.p.Recv(reqTimeout)
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	checkListing(t, res, srv.Home)
	s.finish()
}

// TestTextFraming: the details of the line framing.
func TestTextFraming(t *testing.T) { eachMode(t, testTextFraming) }

func testTextFraming(t *testing.T, m mode) {
	s := start(t, runOpts{mode: m, framing: client.Text}, defaultArgs()...)
	// Leading white space still selects text framing; blank lines are
	// skipped; CRLF line ends work.
	in := " \n\n" + `{"command":"LISTDIR","args":{"path":"."},"id":1}` + "\r\n" +
		"\n" + `{"command":"LISTDIR","args":{"path":"."},"id":2}` + "\n"
	if err := s.p.Write([]byte(in), reqTimeout); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		b, err := s.p.Recv(reqTimeout)
		if err != nil {
			t.Fatal(err)
		}
		res, _ := client.Decode(b)
		if res.Status != "ok" || string(res.ID) != fmt.Sprint(i) {
			t.Errorf("result %d: %s", i, b)
		}
		if bytes.ContainsAny(b, "\n") {
			t.Errorf("result holds a raw newline: %q", b)
		}
	}
	s.finish()
}

func TestOversizeTextLine(t *testing.T) { eachMode(t, testOversizeTextLine) }

func testOversizeTextLine(t *testing.T, m mode) {
	s := start(t, runOpts{mode: m, framing: client.Text}, defaultArgs()...)
	huge := `{"command":"LISTDIR","args":{"path":"` + strings.Repeat("a", 17<<20) + `"},"id":1}`
	if err := s.p.Send([]byte(huge), 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	b, err := s.p.Recv(reqTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := client.Decode(b); res.Status != "fail" {
		t.Errorf("17 MiB line: %.200s, want fail", b)
	}
	s.must("ok", listdir("."))
	s.finish()
}

func TestOversizeBinaryFrame(t *testing.T) { eachMode(t, testOversizeBinaryFrame) }

func testOversizeBinaryFrame(t *testing.T, m mode) {
	s := start(t, runOpts{mode: m, framing: client.Binary}, defaultArgs()...)
	s.must("ok", listdir("."))
	if err := s.p.Write(binary.BigEndian.AppendUint32(nil, 16<<20+1), reqTimeout); err != nil {
		t.Fatal(err)
	}
	b, err := s.p.Recv(reqTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := client.Decode(b); res.Status != "fail" {
		t.Errorf("16 MiB + 1 frame: %s, want fail", b)
	}
	code, err := s.p.Wait(reqTimeout)
	if err != nil || code == 0 {
		t.Errorf("exit %d, %v; want a non-zero exit", code, err)
	}
	if strings.TrimSpace(s.p.Stderr()) == "" {
		t.Error("nothing on stderr")
	}
}

func TestTruncatedBinaryFrame(t *testing.T) { eachMode(t, testTruncatedBinaryFrame) }

func testTruncatedBinaryFrame(t *testing.T, m mode) {
	s := start(t, runOpts{mode: m, framing: client.Binary}, defaultArgs()...)
	s.must("ok", listdir("."))
	wire := binary.BigEndian.AppendUint32(nil, 100)
	if err := s.p.Write(append(wire, `{"command":`...), reqTimeout); err != nil {
		t.Fatal(err)
	}
	s.p.CloseStdin()
	if b, err := s.p.Recv(reqTimeout); err == nil {
		if res, _ := client.Decode(b); res.Status != "fail" {
			t.Errorf("cut frame: %s, want fail (or no result)", b)
		}
	}
	if code, err := s.p.Wait(reqTimeout); err != nil || code == 0 {
		t.Errorf("exit %d, %v; want a non-zero exit", code, err)
	}
}

// TestDuplicateKeys: a request with a duplicate key is refused, whichever
// key it is, and nothing runs (issue 9: the last "command" used to win,
// so a LISTDIR to anything reading the first key deleted a file).
func TestDuplicateKeys(t *testing.T) { eachMode(t, testDuplicateKeys) }

func testDuplicateKeys(t *testing.T, m mode) {
	bothFramings(t, func(t *testing.T, fr client.Framing) {
		s := startDefault(t, m, fr)
		rel, abs := remoteDir(t, srv)
		victim := filepath.Join(abs, "dupA")
		writeFile(t, srv, victim, []byte("keep me"))
		q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
		target := q(rel + "/dupA")
		cases := []struct{ name, payload string }{
			{"command", `{"command":"LISTDIR","command":"DELETE","args":{"path":` + target + `},"id":1}`},
			{"escaped command", `{"command":"LISTDIR","comm\u0061nd":"DELETE","args":{"path":` + target + `},"id":1}`},
			{"path", `{"command":"DELETE","args":{"path":"no-such-decoy","path":` + target + `},"id":1}`},
			{"args", `{"command":"DELETE","args":{"path":"no-such-decoy"},"args":{"path":` + target + `},"id":1}`},
			{"inside id", `{"command":"DELETE","args":{"path":` + target + `},"id":{"n":1,"n":1}}`},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := s.do([]byte(tc.payload))
				if res.Status != "fail" || !strings.Contains(res.Message, "duplicate key") {
					t.Errorf("payload %s: %s, want fail for a duplicate key", tc.payload, res.Raw)
				}
				if !exists(victim) {
					t.Fatalf("payload %s removed %s", tc.payload, victim)
				}
				next := s.do([]byte(fmt.Sprintf(`{"command":"LISTDIR","args":{"path":%s},"id":%d}`, q(rel), 100+i)))
				if next.Status != "ok" || string(next.ID) != fmt.Sprint(100+i) {
					t.Errorf("request after the fail: %s, want ok with id %d", next.Raw, 100+i)
				}
			})
		}
		s.must("ok", del(rel+"/dupA"))
		if exists(victim) {
			t.Errorf("%s is still there after a plain DELETE", victim)
		}
		s.finish()
	})
}
