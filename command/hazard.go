package command

// Hazards: which requests must not overlap.
//
// sftp carries out its lines one after another, in the order they were
// sent, and the driver keeps the calls on the attribute channel (STAT,
// LSTAT, LISTDIR) in that same order with the lines (driver/gate.go): so
// whatever a request does on the connection is ordered with every other
// request's for free. What is not ordered is sftper's own work after the
// connection is done with a request, while later requests already run: a
// GET renames its download into place. A later request whose line or
// local checks touch what that work touches must wait for it. Each
// command declares its effects; conflicts decides.
//
// After-effects of two requests never race each other: results are
// finished one at a time, in request order (Job.Result). A later change
// that finishes results out of order, or runs several sessions, must
// compare those too, and can narrow every rule to the paths involved by
// giving Effect the path it touches (parallel sessions, issue 13).

// Place is which files an effect touches.
type Place int

const (
	Local  Place = iota + 1 // files on this machine
	Remote                  // files on the server
)

// Access is what an effect does to them.
type Access int

const (
	Read Access = iota + 1
	Write
)

// Effect is one thing a request does to files.
type Effect struct {
	Access Access
	Place  Place
	// After: sftper does it itself after sftp is done with the request's
	// line (when the result is finished), not in the line or before it.
	After bool
}

// conflicts reports whether a request with the effects next may not
// begin while one with the effects earlier is unfinished: when something
// earlier does after its line touches what next touches, in its line or
// before it, and one of them writes.
func conflicts(earlier, next []Effect) bool {
	for _, a := range earlier {
		if !a.After {
			continue
		}
		for _, b := range next {
			if !b.After && a.Place == b.Place && (a.Access == Write || b.Access == Write) {
				return true
			}
		}
	}
	return false
}
