package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sftper/sftper/proto"
)

// These tests are those of pipeline_test.go for a pipeline made by
// NewUnordered: what changes is the order of results, and a request
// without an id.

func startUnordered(t *testing.T, out io.Writer) *harness {
	t.Helper()
	return startWith(t, out, NewUnordered)
}

// noID is the request line for a DELETE named n, without an id.
func noID(n string) string {
	return fmt.Sprintf(`{"command":"DELETE","args":{"path":%q}}`, n)
}

// TestUnorderedFinishOrder: each result is written as soon as its request
// is done, with its id, while older requests still run.
func TestUnorderedFinishOrder(t *testing.T) {
	h := startUnordered(t, nil)
	h.send(del("a"), del("b"), del("c"))
	h.expect("begin a", "begin b", "begin c")
	var got []result
	for _, n := range []string{"b", "c", "a"} {
		h.x.finish(n, nil)
		h.expect("result " + n)
		got = append(got, h.expectIDs(n)...) // flushed though the others run
	}
	for i, n := range []string{"b", "c", "a"} {
		if got[i].Status != "ok" || got[i].Message != n {
			t.Errorf("result %d: %v, want ok from %s", i, got[i], n)
		}
	}
	h.end()
}

// TestUnorderedResultsLeaveBeforeWaiting: results done together leave in
// one write, before the pipeline waits for the rest.
func TestUnorderedResultsLeaveBeforeWaiting(t *testing.T) {
	h := startUnordered(t, nil)
	h.x.finish("b", nil)
	h.x.finish("c", nil)
	h.x.finish("d", nil)
	h.send(del("a"), del("b"), del("c"), del("d"))
	h.expectIDs("b", "c", "d") // a never finishes: they do not wait for it
	select {
	case w := <-h.writes:
		if n := strings.Count(string(w), "\n"); n != 3 {
			t.Errorf("the first write holds %d results, want all 3 that were ready:\n%s", n, w)
		}
	default:
		t.Error("results read, but no write recorded")
	}
	h.x.finish("a", nil)
	h.expectIDs("a")
	h.end()
}

func TestUnorderedHazards(t *testing.T) {
	t.Run("waits for its conflict only", func(t *testing.T) {
		h := startUnordered(t, nil)
		h.x.conflict("b", "c")
		h.send(del("a"), del("b"), del("c"), del("d"))
		h.expect("begin a", "begin b")
		// c waits for b alone: a, older, goes on running.
		h.x.finish("b", nil)
		h.expect("result b", "begin c", "begin d")
		h.expectIDs("b")
		h.x.finish("c", nil)
		h.expect("result c")
		h.expectIDs("c")
		h.x.finish("d", nil)
		h.expectIDs("d")
		h.x.finish("a", nil)
		h.expectIDs("a")
		h.end()
	})
	t.Run("others answered while it waits", func(t *testing.T) {
		h := startUnordered(t, nil)
		h.x.conflict("a", "c")
		h.send(del("a"), del("b"), del("c"))
		h.expect("begin a", "begin b")
		h.x.finish("b", nil)
		h.expect("result b")
		h.expectIDs("b")
		h.noEvent() // c still waits for a
		h.x.finish("a", nil)
		h.expect("result a", "begin c")
		h.expectIDs("a")
		h.x.finish("c", nil)
		h.expectIDs("c")
		h.end()
	})
	t.Run("two conflicts", func(t *testing.T) {
		h := startUnordered(t, nil)
		h.x.conflict("a", "c")
		h.x.conflict("b", "c")
		h.send(del("a"), del("b"), del("c"))
		h.expect("begin a", "begin b")
		h.x.finish("a", nil)
		h.expect("result a")
		h.expectIDs("a")
		h.noEvent() // c waits for b too
		h.x.finish("b", nil)
		h.expect("result b", "begin c")
		h.expectIDs("b")
		h.x.finish("c", nil)
		h.expectIDs("c")
		h.end()
	})
	t.Run("conflict already finished", func(t *testing.T) {
		h := startUnordered(t, nil)
		h.x.conflict("a", "c")
		h.x.finish("a", nil)
		h.send(del("a"), del("b"), del("c"))
		h.expect("begin a", "begin b", "result a", "begin c")
		h.expectIDs("a")
		h.x.finish("c", nil)
		h.expectIDs("c")
		h.x.finish("b", nil)
		h.expectIDs("b")
		h.end()
	})
}

// TestUnorderedNoID: a request without an id, or with a null one, is
// answered fail at once and never begun, even when it would wait for
// another.
func TestUnorderedNoID(t *testing.T) {
	h := startUnordered(t, nil)
	h.x.conflict("a", "b")
	h.send(del("a"), noID("b"), `{"command":"DELETE","args":{"path":"c"},"id":null}`, del("d"))
	h.expect("begin a", "begin d")
	got := h.expectIDs("", "") // while a and d run
	for i, id := range []string{"", "null"} {
		if got[i].Status != "fail" || string(got[i].ID) != id || !strings.HasPrefix(got[i].Message, `missing "id": `) {
			t.Errorf("result %d: %v, want fail saying the id is missing, with id %q", i, got[i], id)
		}
	}
	h.x.finish("d", nil)
	h.expect("result d")
	h.expectIDs("d")
	h.x.finish("a", nil)
	h.expect("result a")
	h.expectIDs("a")
	h.end()
	h.noEvent() // b and c were never begun
}

// TestNoIDInOrder: in request order, a request needs no id.
func TestNoIDInOrder(t *testing.T) {
	h := start(t, nil)
	h.x.finish("a", nil)
	h.send(noID("a"))
	h.expect("begin a", "result a")
	if r := h.next(); r.Status != "ok" || r.ID != nil {
		t.Errorf("result %v, want ok without an id", r)
	}
	h.end()
}

func TestUnorderedBadRequest(t *testing.T) {
	h := startUnordered(t, nil)
	h.send(del("a"), `{"command":"NOPE","id":"x"}`, `not json`, del("b"))
	h.expect("begin a", "begin b")
	got := h.expectIDs("x", "") // at once, while a and b run
	if got[0].Status != "fail" || got[0].Message != `unknown command "NOPE"` {
		t.Errorf("result of the unknown command: %v", got[0])
	}
	if got[1].Status != "fail" || got[1].ID != nil {
		t.Errorf("result of a line that is not JSON: %v, want fail without an id", got[1])
	}
	h.x.finish("b", nil)
	h.expectIDs("b")
	h.x.finish("a", nil)
	h.expectIDs("a")
	h.end()
}

func TestUnorderedEndOfInputInFlight(t *testing.T) {
	h := startUnordered(t, nil)
	h.send(del("a"), del("b"))
	h.in.Close()
	h.expect("begin a", "begin b")
	h.x.finish("b", nil)
	h.expectIDs("b")
	select {
	case err := <-h.ret:
		t.Fatalf("Run returned %v with a request in flight", err)
	default:
	}
	h.x.finish("a", nil)
	h.expectIDs("a")
	if err := h.wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.noMore()
}

func TestUnorderedStreamBroken(t *testing.T) {
	h := startUnordered(t, nil)
	h.send(del("a"), del("b"))
	h.expect("begin a", "begin b")
	boom := errors.New("boom")
	h.in.CloseWithError(boom)
	h.x.finish("b", nil)
	h.expectIDs("b")
	h.x.finish("a", nil)
	h.expectIDs("a")
	r := h.next()
	err := h.wait()
	if !errors.Is(err, proto.ErrStreamBroken) || !errors.Is(err, boom) {
		t.Fatalf("Run: %v, want the broken stream", err)
	}
	if r.Status != "fail" || r.ID != nil || r.Message != err.Error() {
		t.Errorf("last result %v, want fail without an id saying %q", r, err)
	}
	h.noMore()
}

func TestUnorderedWriteError(t *testing.T) {
	broken := errors.New("broken pipe")
	for _, c := range []struct {
		name string
		out  io.Writer
		data any
	}{
		{"when flushing", failWriter{broken}, nil},
		{"bigger than the buffer", failWriter{broken}, strings.Repeat("x", 2*outBufSize)},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startUnordered(t, c.out)
			// a never finishes, and the input stays open: the failed
			// write of b's result alone ends Run, and a is left
			// unanswered, its result never asked for.
			h.send(del("a"), del("b"))
			h.expect("begin a", "begin b")
			h.x.finish("b", &proto.Response{Status: proto.StatusOK, Data: c.data})
			err := h.wait()
			if !errors.Is(err, broken) || !strings.HasPrefix(err.Error(), "writing a result: ") {
				t.Fatalf("Run: %v, want the write error", err)
			}
			h.expect("result b")
			h.noEvent()
		})
	}
	t.Run("result refused", func(t *testing.T) {
		h := startUnordered(t, io.Discard)
		h.x.finish("b", &proto.Response{Status: "bogus"})
		h.send(del("a"), del("b"))
		err := h.wait()
		if err == nil || !strings.Contains(err.Error(), "invalid response status") {
			t.Fatalf("Run: %v, want the codec's refusal", err)
		}
	})
}

func TestUnorderedCancel(t *testing.T) {
	interrupted := func(t *testing.T, r result) {
		t.Helper()
		want := result{Status: "error", Message: "interrupted: sftper is stopping", Data: json.RawMessage(`{"kind":"interrupted"}`), ID: r.ID}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
	}
	t.Run("while one waits for another", func(t *testing.T) {
		h := startUnordered(t, nil)
		h.x.conflict("a", "c")
		h.x.finish("b", nil)
		h.send(del("z"), del("a"), `{"command":"NOPE","id":"x"}`, del("b"), del("c"), del("d"))
		h.expect("begin z", "begin a", "begin b", "result b") // c waits for a
		if got := h.expectIDs("x", "b"); got[0].Status != "fail" || got[1].Status != "ok" {
			t.Errorf("results before the stop: %v", got)
		}
		h.waitConflict("a", "c")
		h.cancel()
		// c is answered once a is, whatever runs before them.
		h.expect("result a")
		got := h.expectIDs("a", "c")
		h.noEvent() // c, waiting when ctx was done, was never begun
		// The stop ends z (as stopping sftp fails every line in
		// flight).
		h.x.finish("z", &proto.Response{Status: proto.StatusError, Message: "connection lost"})
		h.expect("result z")
		got = append(got, h.expectIDs("z")...)
		if err := h.wait(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		h.noMore() // d was read, never begun, and gets nothing
		h.noEvent()
		for _, r := range got {
			interrupted(t, r)
		}
	})
	t.Run("while results are awaited", func(t *testing.T) {
		h := startUnordered(t, nil)
		h.send(del("a"), del("b"), del("c"))
		h.expect("begin a", "begin b", "begin c")
		h.x.finish("c", nil)
		h.expect("result c")
		h.expectIDs("c")
		h.cancel()
		// The stop ends what runs (as stopping sftp fails every line
		// in flight); a request done in full keeps its ok.
		h.x.finish("a", &proto.Response{Status: proto.StatusError, Message: "connection lost"})
		h.expect("result a")
		interrupted(t, h.expectIDs("a")[0])
		h.x.finish("b", nil)
		h.expect("result b")
		if r := h.expectIDs("b")[0]; r.Status != "ok" {
			t.Errorf("b, done in full, answered %v after the stop, want its ok", r)
		}
		if err := h.wait(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		h.noMore()
	})
}

func TestUnorderedWindow(t *testing.T) {
	h := startUnordered(t, nil)
	const n = 2*window - 10 // more than the reader hands over at once
	var lines []string
	var names []string
	for i := range n {
		names = append(names, fmt.Sprint(i))
		lines = append(lines, del(names[i]))
	}
	h.send(lines...)
	h.send(del("last"))
	for i := range window {
		h.expect("begin " + names[i])
	}
	// Any request answered frees a place, not only the oldest.
	h.x.finish(names[10], nil)
	h.expect("result "+names[10], "begin "+names[window])
	h.expectIDs(names[10])
	h.x.mu.Lock()
	begun := h.x.begun
	h.x.mu.Unlock()
	if begun != window+1 {
		t.Errorf("%d requests begun with %d answered, want %d", begun, 1, window+1)
	}
	rest := slices.Concat(names[:10], names[11:], []string{"last"})
	for _, name := range rest {
		h.x.finish(name, nil)
	}
	var got []string
	for range rest {
		var id string
		json.Unmarshal(h.next().ID, &id)
		got = append(got, id)
	}
	slices.Sort(got)
	slices.Sort(rest)
	if diff := cmp.Diff(rest, got); diff != "" {
		t.Errorf("result ids, sorted (-want +got):\n%s", diff)
	}
	h.end()
	h.x.mu.Lock()
	defer h.x.mu.Unlock()
	if h.x.most != window {
		t.Errorf("at most %d in flight, want %d", h.x.most, window)
	}
}

// TestUnorderedProgress: a running request's reports are written with its
// id while the pipeline waits, before its result and never after it,
// whatever is answered in between.
func TestUnorderedProgress(t *testing.T) {
	h := startUnordered(t, nil)
	h.x.conflict("b", "c")
	h.send(del("a"), del("b"), del("c"))
	h.expect("begin a", "begin b")
	h.x.reportOn("a", map[string]int{"bytes": 1, "total": 9})
	h.x.reportOn("b", map[string]int{"bytes": 2, "total": 9})
	h.expectReports(`a {"bytes":1,"total":9}`, `b {"bytes":2,"total":9}`)
	h.x.finish("b", nil)
	h.expect("result b", "begin c")
	h.expectIDs("b")
	// A report made after its request was answered is dropped; a's
	// come on, after b's result and before a's own.
	h.x.reportOn("b", map[string]int{"bytes": 9, "total": 9})
	h.x.reportOn("a", map[string]int{"bytes": 5, "total": 9})
	h.x.reportOn("c", map[string]int{"bytes": 3, "total": 9})
	h.expectReports(`a {"bytes":5,"total":9}`, `c {"bytes":3,"total":9}`)
	h.x.finish("a", nil)
	h.expect("result a")
	h.expectIDs("a")
	h.x.finish("c", nil)
	h.expect("result c")
	h.expectIDs("c")
	h.end()
}

// expectReports waits for the next messages, which must be progress
// reports, each given as its id and data.
func (h *harness) expectReports(want ...string) {
	h.t.Helper()
	for _, w := range want {
		r := h.next()
		var id string
		json.Unmarshal(r.ID, &id)
		if got := id + " " + string(r.Data); r.Status != "progress" || r.Message != "" || got != w {
			h.t.Errorf("report %s, want status progress, id and data %s", r, w)
		}
	}
}
