package command

import "strings"

// Hazards: which requests must not overlap.
//
// A request may be carried out beside others: sftp's lines and the
// attribute channel's calls are two SFTP sessions that owe each other no
// order (driver/gate.go keeps them apart only on a server that cannot
// serve both at once), and some of what a request does comes after it
// began, while later requests run: a GET renames its download into place
// once sftp is done, an atomic PUT renames its upload, a tree sends its
// lines one after another. So a request waits for every earlier one still
// running that touches what it touches, when either of them writes: each
// command declares its effects, with their paths, and conflicts decides.
//
// Effects name the path they touch, so that only requests about the same
// files wait for each other: a stream of PUTs to different names keeps
// sftp busy, while a STAT of a name that a PUT is still writing waits for
// it. Two paths overlap when one is the other or a directory above it
// (creating a/x changes what a listing of a shows, and needs a to exist).
// Paths are compared as written, after removing "." and repeated slashes;
// a path with ".." in it, or a relative path beside an absolute one,
// could name anything, and overlaps everything. Two names that reach the
// same file through a symlink are not known to be the same: requests that
// rely on each other through a symlink must be sent one after the other's
// result.

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
	// After: sftper does it after sftp is done with the request's
	// line (the rename of a GET's download; an atomic PUT's rename), or
	// over time (a recursive transfer), not when the request begins. It
	// says how the request works; conflicts treats both alike.
	After bool
	// Path is what it touches and everything under it, as effectPath
	// makes it; "" is every file of its Place.
	Path string
}

// remote and local are the effects of accessing the remote or local path
// p; after makes an effect one done after the request began.
func remote(a Access, p string) Effect { return Effect{Access: a, Place: Remote, Path: effectPath(p)} }
func local(a Access, p string) Effect  { return Effect{Access: a, Place: Local, Path: effectPath(p)} }
func (e Effect) after() Effect         { e.After = true; return e }

// effectPath makes p, a path as a request gives it, the Path of an
// Effect: cleaned of "." and repeated slashes, "" (everything) when it
// holds "..".
func effectPath(p string) string {
	if p == "" {
		return ""
	}
	if isClean(p) {
		return p // the common case, without allocating
	}
	abs := strings.HasPrefix(p, "/")
	parts := strings.Split(p, "/")
	kept := parts[:0]
	for _, part := range parts {
		switch part {
		case "", ".":
		case "..":
			return ""
		default:
			kept = append(kept, part)
		}
	}
	clean := strings.Join(kept, "/")
	if abs {
		return "/" + clean
	}
	if clean == "" {
		return "." // the working directory itself
	}
	return clean
}

// isClean reports whether effectPath would return p as it is.
func isClean(p string) bool {
	if p == "/" {
		return true
	}
	if strings.HasSuffix(p, "/") {
		return false
	}
	start := 0
	if p[0] == '/' {
		start = 1
	}
	for start <= len(p) {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		switch p[start:end] {
		case "", ".", "..":
			return false
		}
		start = end + 1
	}
	return true
}

// overlap reports whether the effect paths a and b may name the same
// file, or one a directory above the other.
func overlap(a, b string) bool {
	if a == "" || b == "" {
		return true
	}
	absA, absB := strings.HasPrefix(a, "/"), strings.HasPrefix(b, "/")
	if absA != absB || a == "." || b == "." || a == "/" || b == "/" {
		return true
	}
	return a == b || strings.HasPrefix(b, a+"/") || strings.HasPrefix(a, b+"/")
}

// conflicts reports whether a request with the effects next may not
// begin while one with the effects earlier is unfinished: when they touch
// the same files, in the same place, and one of them writes.
func conflicts(earlier, next []Effect) bool {
	for _, a := range earlier {
		for _, b := range next {
			if a.Place == b.Place && (a.Access == Write || b.Access == Write) && overlap(a.Path, b.Path) {
				return true
			}
		}
	}
	return false
}
