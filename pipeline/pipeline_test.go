package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sftper/sftper/proto"
)

// patience bounds every wait in these tests. It is never a measure of
// speed: it only turns a pipeline that hangs into a failure.
const patience = 10 * time.Second

// fake is an Executor whose requests finish when the test says. A request
// is a DELETE whose path names it; the fake reports what the pipeline does
// with it as events: "begin NAME" when it is begun, "result NAME" when its
// result is asked for. Apart from those, it notes each conflict it finds.
type fake struct {
	t          *testing.T
	events     chan string
	conflicted chan [2]string // {earlier, next}, each time Conflicts says so

	mu        sync.Mutex
	jobs      map[string]*fakeJob
	conflicts map[[2]string]bool // {earlier, next}
	begun     int
	inFlight  int // begun, result not yet returned
	most      int // the most in flight at once
}

type fakeJob struct {
	f      *fake
	name   string
	ctx    context.Context
	report Report
	done   chan struct{}
	resp   *proto.Response
	asked  int
	closed bool
}

func newFake(t *testing.T) *fake {
	return &fake{t: t, events: make(chan string, 1000), conflicted: make(chan [2]string, 1000), jobs: map[string]*fakeJob{}, conflicts: map[[2]string]bool{}}
}

// job returns the job for name, made if need be; f.mu must be held.
func (f *fake) job(name string) *fakeJob {
	j := f.jobs[name]
	if j == nil {
		j = &fakeJob{f: f, name: name, done: make(chan struct{})}
		f.jobs[name] = j
	}
	return j
}

// finish makes request name done (before it is begun, too: it is then
// decided at once), with result resp, or "ok" if resp is nil.
func (f *fake) finish(name string, resp *proto.Response) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.job(name)
	if j.closed {
		f.t.Fatalf("%s finished twice", name)
	}
	if resp == nil {
		resp = &proto.Response{Status: proto.StatusOK, Message: name}
	}
	j.resp, j.closed = resp, true
	close(j.done)
}

// conflict says that a request for next must wait for one for earlier.
func (f *fake) conflict(earlier, next string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conflicts[[2]string{earlier, next}] = true
}

func name(op proto.Op) string { return op.(testDelete).Path }

// testDelete is the one command of these tests: a DELETE, as sftper's
// table decodes it, whose path names the request.
type testDelete struct{ Path string }

func (testDelete) Name() string { return "DELETE" }

var testCommands = proto.Commands{
	"DELETE": func(a *proto.Args) proto.Op { return testDelete{Path: a.Str("path")} },
}

func (f *fake) Begin(ctx context.Context, op proto.Op, report Report) Job {
	f.mu.Lock()
	if ctx.Err() != nil {
		f.t.Errorf("%s begun after ctx was done", name(op))
	}
	if f.inFlight >= window {
		f.t.Errorf("%s begun with %d requests in flight", name(op), f.inFlight)
	}
	f.begun++
	f.inFlight++
	f.most = max(f.most, f.inFlight)
	j := f.job(name(op))
	j.ctx = ctx
	j.report = report
	f.mu.Unlock()
	f.events <- "begin " + name(op)
	return j
}

func (f *fake) Conflicts(earlier, next proto.Op) bool {
	pair := [2]string{name(earlier), name(next)}
	f.mu.Lock()
	c := f.conflicts[pair]
	f.mu.Unlock()
	if c {
		select {
		case f.conflicted <- pair:
		default: // more than any test waits for
		}
	}
	return c
}

func (j *fakeJob) Done() <-chan struct{} { return j.done }

// Result waits for the test to finish the request; like the driver's, it
// gives up when ctx is done.
func (j *fakeJob) Result() *proto.Response {
	j.f.events <- "result " + j.name
	var resp *proto.Response
	select {
	case <-j.done: // what is done is done, as driver.Pending.Wait has it
	default:
		select {
		case <-j.done:
		case <-j.ctx.Done():
			resp = &proto.Response{Status: proto.StatusError, Message: j.ctx.Err().Error()}
		}
	}
	if resp == nil {
		j.f.mu.Lock()
		resp = j.resp
		j.f.mu.Unlock()
	}
	j.f.mu.Lock()
	defer j.f.mu.Unlock()
	j.asked++
	if j.asked > 1 {
		j.f.t.Errorf("result of %s asked for %d times", j.name, j.asked)
	}
	j.f.inFlight--
	return resp
}

// harness runs a pipeline over pipes, with a fake Executor.
type harness struct {
	t       *testing.T
	x       *fake
	in      *io.PipeWriter
	out     *io.PipeReader
	writes  chan []byte // each write the pipeline made
	results chan result
	cancel  context.CancelFunc
	ret     chan error
}

// result is a result as a client reads it.
type result struct {
	Status  string          `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	ID      json.RawMessage `json:"id,omitempty"`
}

func (r result) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// start runs a pipeline reading text requests, writing to out if it is not
// nil, or else to a pipe the harness reads results from.
func start(t *testing.T, out io.Writer) *harness {
	t.Helper()
	return startWith(t, out, New)
}

// startWith is start with a pipeline made by newPipeline (New or
// NewUnordered).
func startWith(t *testing.T, out io.Writer, newPipeline func(io.Reader, io.Writer, proto.Framing, proto.Commands, Executor) *Pipeline) *harness {
	t.Helper()
	h := &harness{t: t, x: newFake(t), writes: make(chan []byte, 1000), results: make(chan result, 1000), ret: make(chan error, 1)}
	inR, inW := io.Pipe()
	h.in = inW
	if out == nil {
		outR, outW := io.Pipe()
		h.out = outR
		out = &recorder{w: outW, writes: h.writes}
		go h.read(outR)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	p := newPipeline(inR, out, proto.FramingText, testCommands, h.x)
	go func() { h.ret <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		if h.out != nil {
			h.out.Close()
		}
	})
	return h
}

// recorder passes writes on, and notes each one.
type recorder struct {
	w      io.Writer
	writes chan<- []byte
}

func (r *recorder) Write(b []byte) (int, error) {
	r.writes <- append([]byte(nil), b...)
	return r.w.Write(b)
}

func (h *harness) read(r io.Reader) {
	defer close(h.results)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var res result
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			h.t.Errorf("result %q: %v", sc.Text(), err)
			return
		}
		h.results <- res
	}
}

// send writes lines as one write, and returns once the pipeline has read
// them: they reach it together.
func (h *harness) send(lines ...string) {
	h.t.Helper()
	sent := make(chan error, 1)
	go func() {
		_, err := io.WriteString(h.in, strings.Join(lines, "\n")+"\n")
		sent <- err
	}()
	select {
	case err := <-sent:
		if err != nil {
			h.t.Fatal(err)
		}
	case <-time.After(patience):
		h.t.Fatalf("requests not read within %v", patience)
	}
}

// del is the request line for a DELETE named n, with n as its id.
func del(n string) string {
	return fmt.Sprintf(`{"command":"DELETE","args":{"path":%q},"id":%q}`, n, n)
}

// expect waits for the pipeline's next events, which must be want.
func (h *harness) expect(want ...string) {
	h.t.Helper()
	for _, w := range want {
		select {
		case got := <-h.x.events:
			if got != w {
				h.t.Fatalf("event %q, want %q", got, w)
			}
		case <-time.After(patience):
			h.t.Fatalf("no event within %v, want %q", patience, w)
		}
	}
}

// waitConflict waits until the pipeline has found that a request for next
// must wait for one for earlier: from then on, the request for next waits.
func (h *harness) waitConflict(earlier, next string) {
	h.t.Helper()
	for {
		select {
		case got := <-h.x.conflicted:
			if got == [2]string{earlier, next} {
				return
			}
		case <-time.After(patience):
			h.t.Fatalf("%s not found to conflict with %s within %v", next, earlier, patience)
		}
	}
}

// noEvent checks that nothing more was begun or asked for.
func (h *harness) noEvent() {
	h.t.Helper()
	select {
	case got := <-h.x.events:
		h.t.Errorf("unexpected event %q", got)
	default:
	}
}

// next returns the next result written.
func (h *harness) next() result {
	h.t.Helper()
	select {
	case r, ok := <-h.results:
		if !ok {
			h.t.Fatal("output ended")
		}
		return r
	case <-time.After(patience):
		h.t.Fatalf("no result within %v", patience)
	}
	panic("unreachable")
}

// expectIDs waits for the next results, which must have the ids given.
func (h *harness) expectIDs(ids ...string) []result {
	h.t.Helper()
	var got []result
	for range ids {
		got = append(got, h.next())
	}
	var gotIDs []string
	for _, r := range got {
		var id string
		json.Unmarshal(r.ID, &id)
		gotIDs = append(gotIDs, id)
	}
	if diff := cmp.Diff(ids, gotIDs); diff != "" {
		h.t.Fatalf("result ids (-want +got):\n%s\nresults: %v", diff, got)
	}
	return got
}

// wait returns what Run returned.
func (h *harness) wait() error {
	h.t.Helper()
	select {
	case err := <-h.ret:
		return err
	case <-time.After(patience):
		h.t.Fatalf("Run did not return within %v", patience)
	}
	return nil
}

// end closes the input and checks that Run returns nil with nothing more
// written.
func (h *harness) end() {
	h.t.Helper()
	h.in.Close()
	if err := h.wait(); err != nil {
		h.t.Fatalf("Run: %v", err)
	}
	h.noMore()
}

// noMore checks, once Run has returned, that nothing more was written.
func (h *harness) noMore() {
	h.t.Helper()
	h.out.Close()
	for r := range h.results {
		h.t.Errorf("unexpected result %v", r)
	}
}

func TestOrderOfResults(t *testing.T) {
	h := start(t, nil)
	h.send(del("a"), del("b"), del("c"))
	h.expect("begin a", "begin b", "begin c")
	h.x.finish("c", nil)
	h.x.finish("b", nil)
	h.noEvent() // b and c are done, but a comes first
	h.x.finish("a", nil)
	h.expect("result a", "result b", "result c")
	for i, r := range h.expectIDs("a", "b", "c") {
		if want := string(rune('a' + i)); r.Status != "ok" || r.Message != want {
			t.Errorf("result %d: %v, want ok from %s", i, r, want)
		}
	}
	h.end()
}

// TestResultsLeaveBeforeWaiting: a result that is ready is written before
// the pipeline waits for the next one, and results ready together leave in
// one write.
func TestResultsLeaveBeforeWaiting(t *testing.T) {
	h := start(t, nil)
	h.x.finish("a", nil)
	h.x.finish("b", nil)
	h.x.finish("c", nil)
	h.send(del("a"), del("b"), del("c"), del("d"))
	h.expectIDs("a", "b", "c") // d never finishes: they must not wait for it
	select {
	case w := <-h.writes:
		if n := strings.Count(string(w), "\n"); n != 3 {
			t.Errorf("the first write holds %d results, want all 3 that were ready:\n%s", n, w)
		}
	default:
		t.Error("results read, but no write recorded")
	}
	h.x.finish("d", nil)
	h.expectIDs("d")
	h.end()
}

func TestHazards(t *testing.T) {
	t.Run("first in flight", func(t *testing.T) {
		h := start(t, nil)
		h.x.conflict("a", "c")
		h.send(del("a"), del("b"), del("c"), del("d"))
		// b does not conflict with a: it is begun while a runs. c does:
		// a is answered (its result asked for, once it is done) before c
		// is begun.
		h.expect("begin a", "begin b")
		h.x.finish("a", nil)
		h.expect("result a")
		// c conflicts with a only: it does not wait for b, nor does d.
		h.expect("begin c", "begin d")
		h.expectIDs("a")
		h.x.finish("b", nil)
		h.x.finish("c", nil)
		h.x.finish("d", nil)
		h.expectIDs("b", "c", "d")
		h.end()
	})
	t.Run("last in flight", func(t *testing.T) {
		h := start(t, nil)
		h.x.conflict("b", "c")
		h.send(del("a"), del("b"), del("c"))
		// In order, waiting for b means answering a first.
		h.expect("begin a", "begin b")
		h.x.finish("a", nil)
		h.expect("result a")
		h.expectIDs("a") // written before the pipeline waits for b
		h.x.finish("b", nil)
		h.expect("result b", "begin c")
		h.expectIDs("b")
		h.x.finish("c", nil)
		h.expectIDs("c")
		h.end()
	})
	t.Run("conflict already finished", func(t *testing.T) {
		h := start(t, nil)
		h.x.conflict("a", "c")
		h.x.finish("a", nil)
		h.send(del("a"), del("b"), del("c"))
		h.expect("begin a", "begin b", "result a", "begin c")
		h.x.finish("b", nil)
		h.x.finish("c", nil)
		h.expectIDs("a", "b", "c")
		h.end()
	})
}

func TestFailureInTheMiddle(t *testing.T) {
	h := start(t, nil)
	failed := &proto.Response{Status: proto.StatusError, Message: "no such file", Data: map[string]any{"kind": "no_such_file"}}
	h.x.finish("b", failed)
	h.send(del("a"), del("b"), del("c"))
	h.expect("begin a", "begin b", "begin c")
	h.x.finish("c", nil)
	h.x.finish("a", nil)
	got := h.expectIDs("a", "b", "c")
	want := []result{
		{Status: "ok", Message: "a", Data: json.RawMessage(`null`), ID: json.RawMessage(`"a"`)},
		{Status: "error", Message: "no such file", Data: json.RawMessage(`{"kind":"no_such_file"}`), ID: json.RawMessage(`"b"`)},
		{Status: "ok", Message: "c", Data: json.RawMessage(`null`), ID: json.RawMessage(`"c"`)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	h.end()
}

func TestEndOfInputInFlight(t *testing.T) {
	h := start(t, nil)
	h.send(del("a"), del("b"))
	h.in.Close()
	h.expect("begin a", "begin b")
	select {
	case err := <-h.ret:
		t.Fatalf("Run returned %v with requests in flight", err)
	default:
	}
	h.x.finish("b", nil)
	h.x.finish("a", nil)
	h.expectIDs("a", "b")
	if err := h.wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.noMore()
}

func TestBadRequestInTheMiddle(t *testing.T) {
	h := start(t, nil)
	h.send(del("a"), `{"command":"NOPE","id":"x"}`, `not json`, del("b"))
	h.expect("begin a", "begin b")
	h.x.finish("b", nil)
	h.x.finish("a", nil)
	got := h.expectIDs("a", "x", "", "b")
	for i, status := range []string{"ok", "fail", "fail", "ok"} {
		if got[i].Status != status {
			t.Errorf("result %d: %v, want %s", i, got[i], status)
		}
	}
	if got[1].Message != `unknown command "NOPE"` {
		t.Errorf("result of the unknown command: %v", got[1])
	}
	if got[2].ID != nil {
		t.Errorf("result of a line that is not JSON has an id: %v", got[2])
	}
	h.end()
}

func TestStreamBroken(t *testing.T) {
	h := start(t, nil)
	h.send(del("a"))
	h.expect("begin a")
	boom := errors.New("boom")
	h.in.CloseWithError(boom)
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

// failWriter fails every write.
type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteError(t *testing.T) {
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
			h := start(t, c.out)
			h.x.finish("a", &proto.Response{Status: proto.StatusOK, Data: c.data})
			// b never finishes, and the input stays open: the failed
			// write alone ends Run.
			h.send(del("a"), del("b"))
			err := h.wait()
			if !errors.Is(err, broken) || !strings.HasPrefix(err.Error(), "writing a result: ") {
				t.Fatalf("Run: %v, want the write error", err)
			}
		})
	}
	t.Run("result refused", func(t *testing.T) {
		h := start(t, io.Discard)
		h.x.finish("a", &proto.Response{Status: "bogus"})
		h.send(del("a"), del("b"))
		err := h.wait()
		if err == nil || !strings.Contains(err.Error(), "invalid response status") {
			t.Fatalf("Run: %v, want the codec's refusal", err)
		}
	})
}

func TestCancel(t *testing.T) {
	h := start(t, nil)
	h.x.conflict("a", "c")
	h.x.finish("b", nil) // done in full, but behind a: its ok stands
	h.send(del("a"), `{"command":"NOPE","id":"x"}`, del("b"), del("c"), del("d"))
	h.expect("begin a", "begin b") // c waits for a
	// Cancelled before c waits, the pipeline would begin nothing more,
	// and wait for a, which the fake does not end when ctx is done.
	h.waitConflict("a", "c")
	h.cancel()
	h.expect("result a")
	got := h.expectIDs("a", "x", "b", "c")
	if err := h.wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.noMore() // d was read, never begun, and gets nothing
	h.expect("result b")
	h.noEvent() // c, waiting when ctx was done, was never begun
	if got[2].Status != "ok" {
		t.Errorf("b, done before the stop, answered %v, want its ok", got[2])
	}
	for _, i := range []int{0, 3} {
		want := result{Status: "error", Message: "interrupted: sftper is stopping", Data: json.RawMessage(`{"kind":"interrupted"}`), ID: got[i].ID}
		if diff := cmp.Diff(want, got[i]); diff != "" {
			t.Errorf("result %d (-want +got):\n%s", i, diff)
		}
	}
	if got[1].Status != "fail" {
		t.Errorf("bad request answered %v, want its fail", got[1])
	}
}

func TestWindow(t *testing.T) {
	h := start(t, nil)
	const n = 2*window - 10 // more than the reader hands over at once
	var lines []string
	var names []string
	for i := range n {
		names = append(names, fmt.Sprint(i))
		lines = append(lines, del(names[i]))
	}
	h.send(lines...)
	// The write after that returns once the reader has read beyond the
	// first two batches: the second is there for the taking.
	h.send(del("last"))
	for i := range window {
		h.expect("begin " + names[i])
	}
	h.x.finish(names[0], nil)
	h.expect("result "+names[0], "begin "+names[window])
	// The result is written only as the pipeline is about to wait, after
	// it has begun all that it may.
	h.expectIDs(names[0])
	h.x.mu.Lock()
	begun := h.x.begun
	h.x.mu.Unlock()
	if begun != window+1 {
		t.Errorf("%d requests begun with %d answered, want %d", begun, 1, window+1)
	}
	for i := 1; i < n; i++ {
		h.x.finish(names[i], nil)
	}
	h.x.finish("last", nil)
	h.expectIDs(slices.Concat(names[1:], []string{"last"})...)
	h.end()
	h.x.mu.Lock()
	defer h.x.mu.Unlock()
	if h.x.most != window {
		t.Errorf("at most %d in flight, want %d", h.x.most, window)
	}
}

// reportOn makes request name report data, as a transfer does from a
// goroutine of its own.
func (f *fake) reportOn(name string, data any) {
	f.mu.Lock()
	report := f.job(name).report
	f.mu.Unlock()
	report(data)
}

// TestProgress: a running request's reports are written with its id while
// the pipeline waits for it, whether it is the oldest request or one a
// later request waits for; they come before its result, never after.
func TestProgress(t *testing.T) {
	h := start(t, nil)
	h.x.conflict("b", "c")
	h.send(del("a"), del("b"), del("c"))
	h.expect("begin a", "begin b")
	h.x.reportOn("a", map[string]int{"bytes": 1, "total": 9})
	h.x.reportOn("b", map[string]int{"bytes": 2, "total": 9})
	h.x.reportOn("a", map[string]int{"bytes": 5, "total": 9})
	for _, want := range []string{`a {"bytes":1,"total":9}`, `b {"bytes":2,"total":9}`, `a {"bytes":5,"total":9}`} {
		r := h.next()
		var id string
		json.Unmarshal(r.ID, &id)
		if got := id + " " + string(r.Data); r.Status != "progress" || r.Message != "" || got != want {
			t.Errorf("report %s, want status progress, id and data %s", r, want)
		}
	}
	h.x.finish("a", nil)
	h.expect("result a")
	h.expectIDs("a")
	// c waits for b: b's reports are still written meanwhile.
	h.x.reportOn("b", map[string]int{"bytes": 7, "total": 9})
	if r := h.next(); r.Status != "progress" || string(r.Data) != `{"bytes":7,"total":9}` {
		t.Errorf("report while c waits for b: %s", r)
	}
	h.x.finish("b", nil)
	h.expect("result b", "begin c")
	h.expectIDs("b")
	// A report made after its request was answered is dropped.
	h.x.reportOn("b", map[string]int{"bytes": 9, "total": 9})
	h.x.finish("c", nil)
	h.expect("result c")
	h.expectIDs("c")
	h.end()
}
