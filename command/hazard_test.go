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

// TestConflicts: which requests wait for which. The decisions
// driver.MayOverlap made before the table still hold for requests about
// the same paths; requests about other paths no longer wait.
func TestConflicts(t *testing.T) {
	put := Put{Source: "l", Dest: "r"}
	get := Get{Source: "r", Dest: "l"}
	ls := ListDir{Path: "d"}
	del := Delete{Path: "r"}
	hello := Hello{}
	tests := []struct {
		name     string
		inFlight []proto.Op
		next     proto.Op
		want     bool
	}{
		{"nothing in flight", nil, put, true},
		{"puts stream", []proto.Op{put, put}, put, true},
		{"gets of other files stream", []proto.Op{Get{Source: "r1", Dest: "l1"}, Get{Source: "r2", Dest: "l2"}}, Get{Source: "r3", Dest: "l3"}, true},
		{"a get into the same file waits for the rename", []proto.Op{get}, get, false},
		{"put after get waits for the rename", []proto.Op{put, get}, put, false},
		{"put of another file after a get", []proto.Op{get}, Put{Source: "l2", Dest: "r"}, true},
		{"put from the directory a get renames into", []proto.Op{Get{Source: "r", Dest: "/d/l"}}, Put{Source: "/d", Dest: "r"}, false},
		{"put of a relative file after a get into an absolute one", []proto.Op{Get{Source: "r", Dest: "/d/l"}}, Put{Source: "l", Dest: "r"}, false},
		{"put after a get with .. in its dest", []proto.Op{Get{Source: "r", Dest: "a/../l"}}, Put{Source: "b", Dest: "r"}, false},
		{"get after put", []proto.Op{put}, get, true},
		{"listings stream", []proto.Op{ls}, ls, true},
		// A listing is one call on the attribute channel, with nothing
		// after it; the driver's gate orders it with sftp's lines.
		{"put after listdir", []proto.Op{ls}, put, true},
		{"delete after listdir", []proto.Op{ls}, del, true},
		{"stat after put", []proto.Op{put}, Stat{Path: "r"}, true},
		{"put after stat and lstat", []proto.Op{Stat{Path: "r"}, Lstat{Path: "r"}}, put, true},
		{"put after get and stat waits for the rename", []proto.Op{get, Stat{Path: "r"}}, put, false},
		{"get after listdir", []proto.Op{ls}, get, true},
		{"delete after put", []proto.Op{put}, del, true},
		{"listdir after delete", []proto.Op{del}, ls, true},

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
		{[]Effect{in(Write, Local)}, []Effect{in(Write, Local)}, false}, // the connection orders what begins
		// What two requests do after they begin may run in any order.
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
