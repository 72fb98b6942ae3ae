package pipeline

import (
	"bytes"

	"github.com/sftper/sftper/proto"
)

// unordered is the delivery policy of NewUnordered: each result is written
// as soon as its request is done, and only its id tells it from others.
// Waiting for a request means waiting for it alone; whatever else is done
// meanwhile is answered as it is.
//
// A Job gives only a channel closed when it is done, and the pipeline
// cannot wait on a changing set of channels in one select, so each Job
// that is not done when it begins gets a goroutine of its own that waits
// for it and then wakes the pipeline. The wake-up says only that some Job
// may be done; next looks which.
type unordered struct {
	wake chan struct{}   // one token: a Job may be done
	quit <-chan struct{} // closed when Run returns
}

var _ delivery = (*unordered)(nil)

func newUnordered(quit <-chan struct{}) *unordered {
	return &unordered{wake: make(chan struct{}, 1), quit: quit}
}

// refuse refuses a request without an id, or with a null one: its result
// could not be told from another's.
func (*unordered) refuse(req *proto.Request) *proto.Response {
	if len(req.ID) == 0 || bytes.Equal(req.ID, []byte("null")) {
		return proto.Fail(nil, `missing "id": results are written as requests finish, not in request order, and only the id says which request a result answers`)
	}
	return nil
}

func (u *unordered) begun(job Job) {
	done := job.Done()
	select {
	case <-done:
		return // next will find it
	default:
	}
	go func() {
		select {
		case <-done:
		case <-u.quit:
			return
		}
		select {
		case u.wake <- struct{}{}:
		default: // a token is there already: next will look at every Job
		}
	}()
}

// next returns the oldest request that is ready: bad requests at once,
// others as soon as they are done.
func (u *unordered) next(f *inFlight) (*request, <-chan struct{}) {
	if f.len() == 0 {
		return nil, nil
	}
	for i := range f.reqs {
		if r := &f.reqs[i]; r.ready() {
			return r, nil
		}
	}
	return nil, u.wake
}

// toward returns request seq itself: nothing else needs to go first.
func (*unordered) toward(f *inFlight, seq uint64) *request {
	i, _ := f.find(seq)
	return &f.reqs[i]
}
