package pipeline

import "github.com/sftper/sftper/proto"

// inOrder is the delivery policy of New: results are written in request
// order, so waiting for a request means answering every request before it
// first.
type inOrder struct{}

var _ delivery = inOrder{}

func (inOrder) next(f *inFlight) (*request, <-chan struct{}) {
	r := f.oldest()
	switch {
	case r == nil:
		return nil, nil
	case r.ready():
		return r, nil
	}
	return nil, r.job.Done()
}

// toward returns the oldest request: everything before seq goes first.
func (inOrder) toward(f *inFlight, seq uint64) *request { return f.oldest() }

// refuse refuses nothing: a result is known by its place.
func (inOrder) refuse(*proto.Request) *proto.Response { return nil }

func (inOrder) begun(Job) {}
