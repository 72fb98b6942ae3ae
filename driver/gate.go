package driver

import (
	"context"
	"sync"
)

// gate keeps a Conn's two kinds of traffic apart: the lines its sftp
// carries out, and the calls on its attribute channel (attrs.go). Any
// number of either may be outstanding together, never one of each: a call
// waits until every line sent before it is done, and a line until every
// call begun before it is done.
//
// Two reasons, each enough:
//
//   - Order. Requests are begun in request order, and a request must see
//     what the ones before it did: a STAT after a PUT of the same file
//     must see the new file. sftp carries out its own lines in order; the
//     attribute channel is another SFTP session on the server, which owes
//     the first one no order at all. The gate gives both together the
//     order of one stream, so the hazard rules (command/hazard.go) need
//     not know that there are two.
//   - Servers that cannot serve two SFTP sessions on one connection at
//     the same time: ProFTPD's mod_sftp mixes up the packets of channels
//     that carry data together (see master.oneSFTPAtATime). In session
//     mode sftper cannot tell which server it talks to (the session's ssh
//     says nothing it could read), so the rule holds for every server;
//     it is needed for every server anyway, for order.
//
// What it costs: a call queued behind a transfer waits for it, as the same
// request did when it was an ls line in sftp's queue; a line after a call
// is written to sftp only when the call is answered, one local round trip
// later than it would be written into sftp's queue. Since sftp ran its
// lines one after another anyway, nothing that used to overlap is made to
// wait.
type gate struct {
	mu      sync.Mutex
	kind    traffic       // of what is outstanding, while n > 0
	n       int           // outstanding
	changed chan struct{} // closed (and replaced) when n drops to 0
}

// traffic is a kind of use of the connection.
type traffic int

const (
	lines traffic = iota // sftp command lines
	calls                // attribute-channel calls
)

// enter waits until traffic of kind k may go (nothing of the other kind
// is outstanding) and counts it in; release counts it out again, once.
// Waiters are not queued: the pipeline begins requests one at a time, so
// at most one waits at a time.
func (g *gate) enter(ctx context.Context, k traffic) (release func(), err error) {
	for {
		g.mu.Lock()
		if g.n == 0 || g.kind == k {
			g.kind = k
			g.n++
			g.mu.Unlock()
			var once sync.Once
			return func() { once.Do(g.leave) }, nil
		}
		if g.changed == nil {
			g.changed = make(chan struct{})
		}
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctxError(ctx)
		}
	}
}

func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 && g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// releaseWhenDone releases once the line p is done.
func releaseWhenDone(p *Pending, release func()) {
	select {
	case <-p.done:
		release()
	default:
		go func() {
			<-p.done
			release()
		}()
	}
}
