package driver

import (
	"testing"

	"github.com/sftper/sftper/proto"
)

func TestMayOverlap(t *testing.T) {
	put := proto.Put{Source: "l", Dest: "r"}
	get := proto.Get{Source: "r", Dest: "l"}
	ls := proto.ListDir{Path: "d"}
	del := proto.Delete{Path: "r"}
	tests := []struct {
		name     string
		inFlight []proto.Op
		next     proto.Op
		want     bool
	}{
		{"nothing in flight", nil, put, true},
		{"puts stream", []proto.Op{put, put}, put, true},
		{"gets stream", []proto.Op{get, get}, get, true},
		{"put after get waits for the rename", []proto.Op{put, get}, put, false},
		{"get after put", []proto.Op{put}, get, true},
		{"listings stream", []proto.Op{ls}, ls, true},
		{"put after listdir waits for its follow-up", []proto.Op{ls}, put, false},
		{"delete after listdir waits for its follow-up", []proto.Op{ls}, del, false},
		{"get after listdir", []proto.Op{ls}, get, true},
		{"delete after put", []proto.Op{put}, del, true},
		{"listdir after delete", []proto.Op{del}, ls, true},
	}
	for _, tt := range tests {
		if got := MayOverlap(tt.inFlight, tt.next); got != tt.want {
			t.Errorf("%s: MayOverlap = %v, want %v", tt.name, got, tt.want)
		}
	}
}
