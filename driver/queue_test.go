package driver

import (
	"fmt"
	"runtime"
	"testing"
	"weak"
)

// A command whose marker has come is done with: nothing in the child may
// keep it (and what it holds, such as a parsed listing) reachable while
// the commands after it run. Popping the queue by reslicing alone kept
// every finished one alive until the slice was reallocated.
func TestFinishedCommandsAreNotKept(t *testing.T) {
	c := &process{cfg: &Config{Log: discard}}
	const n = 100
	var kept []weak.Pointer[Pending]
	for i := 0; i < n; i++ {
		p := newPending("ls", nil)
		p.marker = fmt.Sprintf("m%d", i)
		p.lines = make([]string, 0, 1<<12) // some weight, like a listing
		c.queue = append(c.queue, p)
		kept = append(kept, weak.Make(p))
	}
	for i := 0; i < n-1; i++ {
		if left := c.routeLine(fmt.Sprintf("m%d", i)); left != n-1-i {
			t.Fatalf("after marker %d: %d left, want %d", i, left, n-1-i)
		}
	}
	runtime.GC()
	for i := 0; i < n-1; i++ {
		if kept[i].Value() != nil {
			t.Fatalf("command %d of %d is still reachable after its marker", i, n)
		}
	}
	if kept[n-1].Value() == nil {
		t.Fatalf("the command still outstanding was collected")
	}
	runtime.KeepAlive(c)
}
