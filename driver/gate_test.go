package driver

import (
	"context"
	"errors"
	"testing"
	"time"
)

// enterAsync enters g in the background and hands over the release.
func enterAsync(g *gate, k traffic) (<-chan func(), <-chan error) {
	got, failed := make(chan func(), 1), make(chan error, 1)
	go func() {
		release, err := g.enter(context.Background(), k)
		if err != nil {
			failed <- err
			return
		}
		got <- release
	}()
	return got, failed
}

func TestGateSameKindOverlaps(t *testing.T) {
	var g gate
	ctx := context.Background()
	r1, err := g.enter(ctx, lines)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := g.enter(ctx, lines)
	if err != nil {
		t.Fatal(err)
	}
	r1()
	r2()
	c1, err := g.enter(ctx, calls)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := g.enter(ctx, calls)
	if err != nil {
		t.Fatal(err)
	}
	c1()
	c2()
}

// TestGateKeepsKindsApart: a call waits for every line out, and a line
// for every call; a release counts once however often it is called.
func TestGateKeepsKindsApart(t *testing.T) {
	var g gate
	ctx := context.Background()
	r1, _ := g.enter(ctx, lines)
	r2, _ := g.enter(ctx, lines)
	got, _ := enterAsync(&g, calls)
	select {
	case <-got:
		t.Fatal("a call went through while lines were out")
	case <-time.After(50 * time.Millisecond):
	}
	r1()
	r1() // counts once
	select {
	case <-got:
		t.Fatal("a call went through while a line was out")
	case <-time.After(50 * time.Millisecond):
	}
	r2()
	var release func()
	select {
	case release = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the call never went through once the lines were done")
	}
	lineGot, _ := enterAsync(&g, lines)
	select {
	case <-lineGot:
		t.Fatal("a line went through while a call was out")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	select {
	case r := <-lineGot:
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("the line never went through once the call was done")
	}
}

func TestGateWaitEndsWithContext(t *testing.T) {
	var g gate
	r, _ := g.enter(context.Background(), lines)
	defer r()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := g.enter(ctx, calls)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
}

// TestReleaseWhenDone: a line's traffic is counted out when sftp is done
// with it, not before.
func TestReleaseWhenDone(t *testing.T) {
	var g gate
	r, _ := g.enter(context.Background(), lines)
	p := newPending("ls", func() {})
	releaseWhenDone(p, r)
	got, _ := enterAsync(&g, calls)
	select {
	case <-got:
		t.Fatal("a call went through before the line was done")
	case <-time.After(50 * time.Millisecond):
	}
	p.end()
	select {
	case r := <-got:
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("the call never went through once the line was done")
	}
}

// TestGateOpen: an open gate lets both kinds go together, wakes a call
// that was waiting when it opens, and once closed again keeps a call out
// until the lines that went in while it was open are done.
func TestGateOpen(t *testing.T) {
	var g gate
	ctx := context.Background()
	line, _ := g.enter(ctx, lines)
	got, _ := enterAsync(&g, calls)
	select {
	case <-got:
		t.Fatal("a call went through a closed gate while a line was out")
	case <-time.After(50 * time.Millisecond):
	}
	g.setOpen(true)
	var call func()
	select {
	case call = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("opening the gate did not let the waiting call through")
	}
	line2, err := g.enter(ctx, lines)
	if err != nil {
		t.Fatal(err)
	}
	call()
	g.setOpen(false)
	got, _ = enterAsync(&g, calls)
	line()
	select {
	case <-got:
		t.Fatal("a call went through a closed gate while a line that went in while it was open was out")
	case <-time.After(50 * time.Millisecond):
	}
	line2()
	select {
	case release := <-got:
		release()
	case <-time.After(5 * time.Second):
		t.Fatal("the call never went through")
	}
}
