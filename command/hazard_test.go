package command

import (
	"context"
	"testing"

	"github.com/sftper/sftper/proto"
)

// mayOverlap is what the request loop asks: may next begin while inFlight
// are unfinished?
func mayOverlap(r *Runner, inFlight []proto.Op, next proto.Op) bool {
	for _, op := range inFlight {
		if r.Conflicts(op, next) {
			return false
		}
	}
	return true
}

// otherOp is not from the table.
type otherOp struct{}

func (otherOp) Name() string { return "OTHER" }

// TestConflicts: which requests wait for which. Requests about other
// files never wait; requests about the same file (or one below a
// directory the other touches) wait when one of them writes.
func TestConflicts(t *testing.T) {
	put := Put{Source: "l", Dest: "r"}
	get := Get{Source: "r", Dest: "l"}
	ls := ListDir{Path: "d"}
	del := Delete{Path: "r"}
	hello := Hello{}
	putN := func(n string) Put { return Put{Source: "l" + n, Dest: "r" + n} }
	getN := func(n string) Get { return Get{Source: "r" + n, Dest: "l" + n} }
	tests := []struct {
		name     string
		inFlight []proto.Op
		next     proto.Op
		want     bool
	}{
		{"nothing in flight", nil, put, true},
		{"puts of other files stream", []proto.Op{putN("1"), putN("2")}, putN("3"), true},
		{"puts of one file wait", []proto.Op{put}, put, false},
		{"gets of other files stream", []proto.Op{getN("1"), getN("2")}, getN("3"), true},
		{"a get into the same file waits for the rename", []proto.Op{get}, get, false},
		{"put after get waits for the rename", []proto.Op{putN("x"), get}, put, false},
		{"put of another file after a get", []proto.Op{get}, Put{Source: "l2", Dest: "r2"}, true},
		{"put from the directory a get renames into", []proto.Op{Get{Source: "r", Dest: "/d/l"}}, Put{Source: "/d", Dest: "r2"}, false},
		{"put of a relative file after a get into an absolute one", []proto.Op{Get{Source: "r", Dest: "/d/l"}}, Put{Source: "l", Dest: "r2"}, false},
		{"put after a get with .. in its dest", []proto.Op{Get{Source: "r", Dest: "a/../l"}}, Put{Source: "b", Dest: "r2"}, false},
		{"get of what a put writes", []proto.Op{put}, get, false},
		{"get of another file after a put", []proto.Op{put}, getN("2"), true},
		{"listings stream", []proto.Op{ls}, ls, true},
		{"put into a listed directory", []proto.Op{ls}, Put{Source: "l", Dest: "d/x"}, false},
		{"put beside a listed directory", []proto.Op{ls}, put, true},
		{"delete after listdir of another directory", []proto.Op{ls}, del, true},
		{"stat of what a put writes", []proto.Op{put}, Stat{Path: "r"}, false},
		{"stat of another file", []proto.Op{put}, Stat{Path: "s"}, true},
		{"put after stat and lstat of it", []proto.Op{Stat{Path: "r"}, Lstat{Path: "r"}}, put, false},
		{"stats stream", []proto.Op{Stat{Path: "r"}, Lstat{Path: "r"}}, Stat{Path: "r"}, true},
		{"get after listdir of another directory", []proto.Op{ls}, get, true},
		{"delete of what a put writes", []proto.Op{put}, del, false},
		{"listdir of the directory a delete writes in", []proto.Op{Delete{Path: "d/x"}}, ls, false},
		{"a put into a directory being made", []proto.Op{Mkdir{Path: "d"}}, Put{Source: "l", Dest: "d/x"}, false},
		{"puts into a directory made already stream", []proto.Op{Put{Source: "l1", Dest: "d/x"}}, Put{Source: "l2", Dest: "d/y"}, true},

		{"hello after anything", []proto.Op{put, get, ls, del}, hello, true},
		{"anything after hello", []proto.Op{hello}, put, true},
		{"get after another get and hello", []proto.Op{Get{Source: "r", Dest: "l2"}, hello}, get, true},
		{"an op from elsewhere waits", []proto.Op{put}, otherOp{}, false},
		{"and is waited for", []proto.Op{otherOp{}}, hello, false},
	}
	r := NewRunner(Config{})
	for _, tt := range tests {
		if got := mayOverlap(r, tt.inFlight, tt.next); got != tt.want {
			t.Errorf("%s: may overlap = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestConflictsRule: the rule itself, on effects.
func TestConflictsRule(t *testing.T) {
	after := func(a Access, p Place) Effect { return Effect{Access: a, Place: p, After: true} }
	in := func(a Access, p Place) Effect { return Effect{Access: a, Place: p} }
	at := func(e Effect, p string) Effect { e.Path = effectPath(p); return e }
	tests := []struct {
		earlier, next []Effect
		want          bool
	}{
		{[]Effect{after(Write, Local)}, []Effect{in(Read, Local)}, true},
		{[]Effect{after(Write, Local)}, []Effect{in(Write, Local)}, true},
		{[]Effect{after(Read, Remote)}, []Effect{in(Write, Remote)}, true},
		{[]Effect{after(Read, Remote)}, []Effect{in(Read, Remote)}, false},
		{[]Effect{after(Write, Local)}, []Effect{in(Write, Remote)}, false},
		// What they do as they begin may run in any order too.
		{[]Effect{in(Write, Local)}, []Effect{in(Write, Local)}, true},
		{[]Effect{in(Read, Remote)}, []Effect{in(Read, Remote)}, false},
		{[]Effect{after(Write, Local)}, []Effect{after(Write, Local)}, true},
		{nil, []Effect{in(Write, Local)}, false},

		// Paths.
		{[]Effect{at(after(Write, Remote), "/a/b")}, []Effect{at(in(Read, Remote), "/a/b")}, true},
		{[]Effect{at(after(Write, Remote), "/a/b")}, []Effect{at(in(Read, Remote), "/a/b/c")}, true},
		{[]Effect{at(after(Write, Remote), "/a/b")}, []Effect{at(in(Read, Remote), "/a")}, true},
		{[]Effect{at(after(Write, Remote), "/a/b")}, []Effect{at(in(Read, Remote), "/")}, true},
		{[]Effect{at(after(Write, Remote), "/a/b")}, []Effect{at(in(Read, Remote), "/a/bc")}, false},
		{[]Effect{at(after(Write, Remote), "/a/b")}, []Effect{at(in(Read, Remote), "/a/c")}, false},
		{[]Effect{at(after(Write, Remote), "/a//b/./")}, []Effect{at(in(Read, Remote), "/a/b")}, true},
		{[]Effect{at(after(Write, Remote), "/a/x/../b")}, []Effect{at(in(Read, Remote), "/c")}, true},
		{[]Effect{at(after(Write, Remote), "a/b")}, []Effect{at(in(Read, Remote), "a/c")}, false},
		{[]Effect{at(after(Write, Remote), "a/b")}, []Effect{at(in(Read, Remote), "./a/b")}, true},
		{[]Effect{at(after(Write, Remote), "a/b")}, []Effect{at(in(Read, Remote), ".")}, true},
		{[]Effect{at(after(Write, Remote), "a/b")}, []Effect{at(in(Read, Remote), "/a/b")}, true}, // relative beside absolute
		{[]Effect{at(after(Write, Remote), "/a/b")}, []Effect{at(in(Read, Remote), "")}, true},
		{[]Effect{at(after(Write, Remote), "/a/b")}, []Effect{at(in(Read, Local), "/a/b")}, false},
	}
	for _, tt := range tests {
		if got := conflicts(tt.earlier, tt.next); got != tt.want {
			t.Errorf("conflicts(%v, %v) = %v, want %v", tt.earlier, tt.next, got, tt.want)
		}
	}
}

func TestEffectPath(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b": "/a/b", "/": "/", "//": "/", "/a//b/": "/a/b", "/./a/.": "/a",
		"a": "a", "./a": "a", "a/": "a", ".": ".", "./": ".", "a/./b": "a/b",
		"a/../b": "", "..": "", "/a/..": "", "": "",
		"a..b": "a..b", "/.x/.y": "/.x/.y",
	} {
		if got := effectPath(in); got != want {
			t.Errorf("effectPath(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { effectPath("/srv/data/some/file.txt") }); n != 0 {
		t.Errorf("effectPath of a clean path allocates %v times", n)
	}
}

// impostor is named like a table command but is not its Op.
type impostor struct{}

func (impostor) Name() string { return "PUT" }

func TestImpostor(t *testing.T) {
	r := NewRunner(Config{})
	if !r.Conflicts(Put{}, impostor{}) || !r.Conflicts(impostor{}, Hello{}) {
		t.Error("an Op of another type, named PUT, is taken for a PUT")
	}
	if resp := r.Begin(context.Background(), impostor{}, nil); resp.Result().Status != proto.StatusFail {
		t.Errorf("Begin(impostor) = %+v, want fail", resp.Result())
	}
}
