package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"
)

// serveTCP runs handle for every connection to a new listener on
// 127.0.0.1 until the test ends.
func serveTCP(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handle(c) }()
		}
	}()
	return l.Addr().String()
}

func startProxy(t *testing.T, target string, delay time.Duration) *delayProxy {
	t.Helper()
	p, err := startDelayProxy(target, delay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestDelayProxyRoundTrip: a ping-pong through the proxy takes twice the
// one-way delay. That no trip takes less is exact, not a matter of timing:
// the proxy holds each byte for the delay by the monotonic clock, on the
// way there and on the way back. How much more a trip takes is the
// overshoot of two timer wake-ups and four loopback hops, well under a
// millisecond on an idle machine; the median of 20 trips must be within
// 20 ms of it, a margin wide enough for a busy two-core machine (a few
// scheduler slices) and still far below what a proxy that delays twice, or
// one read behind another, would add (a whole delay, 25 ms).
func TestDelayProxyRoundTrip(t *testing.T) {
	const delay = 25 * time.Millisecond
	echo := serveTCP(t, func(c net.Conn) { io.Copy(c, c) })
	p := startProxy(t, echo, delay)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var trips []time.Duration
	b := make([]byte, 1)
	for i := range 20 {
		start := time.Now()
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		if b[0] != byte(i) {
			t.Fatalf("trip %d: got byte %d back", i, b[0])
		}
		if d < 2*delay {
			t.Errorf("trip %d took %v, less than twice the delay (%v)", i, d, 2*delay)
		}
		trips = append(trips, d)
	}
	slices.Sort(trips)
	med := trips[len(trips)/2]
	t.Logf("round trip with %v each way: median %v, min %v, max %v", delay, med, trips[0], trips[len(trips)-1])
	if med > 2*delay+20*time.Millisecond {
		t.Errorf("median round trip %v, want within 20 ms of %v", med, 2*delay)
	}
}

// TestDelayProxyThroughput: with 100 ms round trip, bulk data is not held
// to one read buffer per delay. 32 MiB go through, are hashed at the far
// end, whose answer comes back after the end (a half-close) has gone
// through. A proxy whose reading waited behind its sleeping would move
// one 64 KiB read per 50 ms (1.25 MiB/s): 25 s. Working, it takes a round
// trip plus the copying, well under a second; the bound asserted, 5 s
// (6.4 MiB/s), is 5 times the broken rate and far above the working one,
// a sanity check rather than a measurement.
func TestDelayProxyThroughput(t *testing.T) {
	const (
		delay = 50 * time.Millisecond
		size  = 32 << 20
	)
	sink := serveTCP(t, func(c net.Conn) {
		h := sha256.New()
		if _, err := io.Copy(h, c); err != nil {
			return
		}
		c.Write(h.Sum(nil))
	})
	p := startProxy(t, sink, delay)
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{'p', 'r', 'o', 'x', 'y'}).Read(data)
	want := sha256.Sum256(data)

	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if !bytes.Equal(got, want[:]) {
		t.Fatalf("the far end hashed something else: %x, want %x", got, want)
	}
	rate := float64(size) / (1 << 20) / d.Seconds()
	t.Logf("%d MiB and an answer through %v each way: %v, %.0f MiB/s", size>>20, delay, d, rate)
	if d < 2*delay {
		t.Errorf("took %v, less than a round trip", d)
	}
	if d > 5*time.Second {
		t.Errorf("took %v (%.1f MiB/s): reading seems to wait behind the delay", d, rate)
	}
}

// TestDelayProxyBothWays: data flows both ways at once, in order, and
// each direction's end is passed on on its own.
func TestDelayProxyBothWays(t *testing.T) {
	const size = 4 << 20
	up := make([]byte, size)
	down := make([]byte, size)
	rand.NewChaCha8([32]byte{'u', 'p'}).Read(up)
	rand.NewChaCha8([32]byte{'d', 'o', 'w', 'n'}).Read(down)
	gotUp := make(chan []byte, 1)
	srv := serveTCP(t, func(c net.Conn) {
		go func() {
			c.Write(down)
			c.(*net.TCPConn).CloseWrite()
		}()
		b, _ := io.ReadAll(c)
		gotUp <- b
	})
	p := startProxy(t, srv, 5*time.Millisecond)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		c.Write(up)
		c.(*net.TCPConn).CloseWrite()
	}()
	gotDown, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotDown, down) {
		t.Errorf("down: %d bytes, not what the server sent (%d)", len(gotDown), len(down))
	}
	if b := <-gotUp; !bytes.Equal(b, up) {
		t.Errorf("up: %d bytes, not what the client sent (%d)", len(b), len(up))
	}
}

// TestDelayProxyClose: Close drops live connections and returns.
func TestDelayProxyClose(t *testing.T) {
	echo := serveTCP(t, func(c net.Conn) { io.Copy(c, c) })
	p, err := startDelayProxy(echo, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still waiting after 10 s")
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(b); err == nil {
		t.Errorf("read %d bytes from a connection the proxy dropped", n)
	}
}
