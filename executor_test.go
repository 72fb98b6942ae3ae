package main

import (
	"fmt"
	"testing"

	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

// otherOp is a request of a kind driver.Begin does not know.
type otherOp struct{}

func (otherOp) Name() string { return "OTHER" }

// TestConflictsPairwise: the pipeline asks about each request in flight on
// its own, where driver.MayOverlap is asked about the whole list; for
// every list of up to three requests in flight, a request may overlap the
// list exactly when it conflicts with none of them.
func TestConflictsPairwise(t *testing.T) {
	kinds := []proto.Op{
		proto.Put{Source: "l", Dest: "r"}, proto.Get{Source: "r", Dest: "l"},
		proto.ListDir{Path: "r"}, proto.Delete{Path: "r"}, otherOp{},
	}
	var lists [][]proto.Op
	var grow func(list []proto.Op)
	grow = func(list []proto.Op) {
		if len(list) > 0 {
			lists = append(lists, list)
		}
		if len(list) == 3 {
			return
		}
		for _, op := range kinds {
			grow(append(list[:len(list):len(list)], op))
		}
	}
	grow(nil)
	for _, inFlight := range lists {
		for _, next := range kinds {
			conflicts := false
			for _, earlier := range inFlight {
				conflicts = conflicts || (executor{}).Conflicts(earlier, next)
			}
			if may := driver.MayOverlap(inFlight, next); may == conflicts {
				t.Errorf("%s after %s: MayOverlap says %v, Conflicts pairwise %v", next.Name(), names(inFlight), may, conflicts)
			}
		}
	}
}

func names(ops []proto.Op) string {
	var s []string
	for _, op := range ops {
		s = append(s, op.Name())
	}
	return fmt.Sprint(s)
}
