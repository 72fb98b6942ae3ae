package driver

import (
	"context"
	"sync"
)

// gate keeps a Conn's two kinds of traffic apart where the server needs
// it: the lines its sftp carries out, and the calls on its attribute
// channel (attrs.go). While it is closed, any number of either may be
// outstanding together, never one of each: a call waits until every line
// sent before it is done, and a line until every call begun before it is
// done. Once open, both go as they come.
//
// It is closed to begin with, and opens once sftper knows that the server
// can serve two SFTP sessions on one connection at the same time: ProFTPD's
// mod_sftp cannot (it mixes up the packets of channels that carry data
// together, see master.oneSFTPAtATime). A master of sftper's own knows
// from the server's version string as soon as it has connected (batch
// mode, several sessions); otherwise the attribute channel's first VERSION
// tells (sftpwire.Version.ModSFTP), while the gate is still closed: a
// session's sftp cannot tell which server it talks to. It closes again if
// a new master or channel finds such a server.
//
// Order is not the gate's business: requests about the same files wait
// for each other before they begin (command/hazard.go), whichever of the
// two sessions carries them.
//
// What it costs while closed: a call queued behind a transfer waits for
// it; a line after a call is written to sftp only when the call is
// answered, one local round trip later. Open, an atomic PUT's rename on
// the channel goes beside the next uploads in sftp instead of between
// them.
type gate struct {
	mu      sync.Mutex
	open    bool
	n       [2]int        // outstanding, by traffic
	changed chan struct{} // closed (and replaced) when a count drops to 0, or the gate opens
}

// traffic is a kind of use of the connection.
type traffic int

const (
	lines traffic = iota // sftp command lines
	calls                // attribute-channel calls
)

// enter waits until traffic of kind k may go (the gate is open, or nothing
// of the other kind is outstanding) and counts it in; release counts it
// out again, once. Counted even while the gate is open, so that it can
// close again without letting the two overlap.
func (g *gate) enter(ctx context.Context, k traffic) (release func(), err error) {
	for {
		g.mu.Lock()
		if g.open || g.n[1-k] == 0 {
			g.n[k]++
			g.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { g.leave(k) }) }, nil
		}
		ch := g.wake()
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctxError(ctx)
		}
	}
}

// wake is the channel waiters wait on. Called with g.mu held.
func (g *gate) wake() chan struct{} {
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return g.changed
}

// broadcast wakes every waiter. Called with g.mu held.
func (g *gate) broadcast() {
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

func (g *gate) leave(k traffic) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n[k]--
	if g.n[k] == 0 {
		g.broadcast()
	}
}

// setOpen opens or closes the gate.
func (g *gate) setOpen(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open != open {
		g.open = open
		g.broadcast()
	}
}

// releaseWhenDone releases once the line p is done.
func releaseWhenDone(p *Pending, release func()) { p.whenDone(release) }
