package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// delayProxy is a TCP proxy on 127.0.0.1 that forwards every connection
// to target and holds each chunk it reads for a fixed one-way delay
// before writing it on, in each direction, in order: a loopback link with
// a round-trip time of twice the delay and, within maxInFlight, no
// bandwidth limit of its own.
//
// Per connection and direction, one goroutine reads and stamps each chunk
// with its due time (the moment it was read plus the delay) onto a queue,
// and another writes the chunks out when they are due. Reading never waits
// for a chunk to be delivered, only for room when maxInFlight bytes are
// queued: so data keeps flowing while earlier chunks wait, and the
// throughput is not capped at one read buffer per delay. The cap makes the
// proxy's bandwidth at most maxInFlight / delay (64 MiB / 50 ms, 1.25
// GiB/s), far above what an SSH connection pushes through its 2 MiB
// channel window at such delays.
type delayProxy struct {
	Port   int
	target string
	delay  time.Duration
	l      net.Listener

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

const (
	// maxInFlight bounds the bytes queued in one direction of one
	// connection: the delay line's length.
	maxInFlight = 64 << 20
	// proxyReadSize is the read buffer: a chunk is at most this long.
	proxyReadSize = 64 << 10
)

// startDelayProxy listens on a free port of 127.0.0.1 and forwards to
// target (host:port), delay each way.
func startDelayProxy(target string, delay time.Duration) (*delayProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{
		Port:   l.Addr().(*net.TCPAddr).Port,
		target: target,
		delay:  delay,
		l:      l,
		conns:  map[net.Conn]struct{}{},
	}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is where the proxy listens.
func (p *delayProxy) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// Close stops listening, drops every connection and waits for all the
// proxy's goroutines to end (a writer may be sleeping for up to the delay).
func (p *delayProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.l.Close()
	p.wg.Wait()
	return err
}

// track records c so that Close can drop it; false if the proxy is closed.
func (p *delayProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *delayProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

func (p *delayProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

// handle forwards one connection both ways until both directions are done
// (each ended by EOF, then passed on as a half-close) or either fails
// (then both connections are dropped).
func (p *delayProxy) handle(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		p.untrack(client)
		return
	}
	if !p.track(server) {
		p.untrack(client)
		return
	}
	abort := func() { client.Close(); server.Close() }
	var dirs sync.WaitGroup
	dirs.Add(2)
	go func() { defer dirs.Done(); delayCopy(server.(*net.TCPConn), client, p.delay, abort) }()
	go func() { defer dirs.Done(); delayCopy(client.(*net.TCPConn), server, p.delay, abort) }()
	dirs.Wait()
	p.untrack(client, server)
}

// chunk is what one read returned, and when it is due at the other end.
type chunk struct {
	due  time.Time
	data []byte
}

// delayLine is the queue of one direction.
type delayLine struct {
	mu     sync.Mutex
	cond   *sync.Cond
	q      []chunk
	bytes  int   // queued
	err    error // why the reader stopped (io.EOF: cleanly); nil while it reads
	broken bool  // the writer gave up: the reader must stop
}

// delayCopy copies src to dst, each chunk delayed by delay. It returns
// when src's end has been passed on (dst half-closed) or either side
// failed; on a failure it calls abort, which drops both connections of
// the pair, so that the other direction ends too.
func delayCopy(dst *net.TCPConn, src net.Conn, delay time.Duration, abort func()) {
	d := &delayLine{}
	d.cond = sync.NewCond(&d.mu)
	go d.read(src, delay)
	err := d.write(dst)
	if err == nil {
		// src ended cleanly and every byte before the end is delivered:
		// pass the end on, as a half-close.
		err = dst.CloseWrite()
	}
	if err != nil {
		abort()
		// The reader may be blocked in Read (abort closed src, which
		// ends it) or waiting for room (broken, which ends it).
		d.mu.Lock()
		d.broken = true
		d.cond.Broadcast()
		d.mu.Unlock()
	}
}

// read reads src into timestamped chunks until it fails or ends.
func (d *delayLine) read(src net.Conn, delay time.Duration) {
	buf := make([]byte, proxyReadSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			c := chunk{due: time.Now().Add(delay), data: append([]byte(nil), buf[:n]...)}
			d.mu.Lock()
			for d.bytes >= maxInFlight && !d.broken {
				d.cond.Wait()
			}
			if d.broken {
				d.mu.Unlock()
				return
			}
			d.q = append(d.q, c)
			d.bytes += n
			d.cond.Broadcast()
			d.mu.Unlock()
		}
		if err != nil {
			d.mu.Lock()
			d.err = err
			d.cond.Broadcast()
			d.mu.Unlock()
			return
		}
	}
}

// write writes the chunks out, each once it is due, until the reader's
// end has been reached (nil for a clean end, io.EOF) or a write fails.
// Chunks already due when the writer wakes go out in one writev.
func (d *delayLine) write(dst net.Conn) error {
	for {
		d.mu.Lock()
		for len(d.q) == 0 && d.err == nil {
			d.cond.Wait()
		}
		if len(d.q) == 0 {
			err := d.err
			d.mu.Unlock()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
		due := d.q[0].due
		d.mu.Unlock()

		time.Sleep(time.Until(due))

		d.mu.Lock()
		now := time.Now()
		var bufs net.Buffers
		n := 0
		for n < len(d.q) && !d.q[n].due.After(now) {
			bufs = append(bufs, d.q[n].data)
			d.q[n] = chunk{} // the queue's array must not keep it alive
			n++
		}
		d.q = d.q[n:]
		d.mu.Unlock()

		size := 0
		for _, b := range bufs {
			size += len(b)
		}
		if _, err := bufs.WriteTo(dst); err != nil {
			return err
		}
		d.mu.Lock()
		d.bytes -= size
		d.cond.Broadcast()
		d.mu.Unlock()
	}
}
