package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// Recursive transfers ("recursive": true): PUT of a local tree
// (put_tree.go), GET of a remote one (get_tree.go).
//
// dest is the copy's root, always: it is made (with every missing directory
// above it) when it is not there, and what source holds goes into it when
// it is, merged with what is there (files of the same name replaced). So
// the same request twice, or once more after it was stopped, copies to the
// same place: unlike cp -r and sftp's -R, which copy into dest under
// source's name when dest is a directory, a first run's dest would make a
// second run go one level deeper. (A client that wants that puts the name
// on dest itself.) Directories are created as needed, regular files are
// copied, symlinks are copied as symlinks (their targets as they are,
// never followed), anything else is listed as failed. Every name is taken
// exactly: the tree is walked by sftper (the local file system, or the
// server's listings on the attribute channel), not by sftp's glob.
//
// sftper does not hand the tree to sftp's -R: sftp would walk it itself
// (its glob, its rules for links), stop at a name its command line could
// not carry, and say nothing per file that sftper could read back. Each
// file is one put or get line instead, sent without waiting (up to
// treeWindow at a time, so sftp never waits for sftper), each with its own
// outcome; what sftp has no command for (the directories, the links, the
// renames of atomic uploads, the times of directories) goes on the
// attribute channel in few calls that each send many requests at once.
//
// One bad file does not stop the rest: the result lists what failed, each
// with its kind, and is an error (of the first failure's kind) when
// anything did; data then also says what was done. What stops the whole
// transfer: a root that cannot be made or read, a lost connection, a stop.

// treeWindow is how many of a tree's lines are outstanding in sftp at once:
// as many as the pipeline keeps requests in flight, for the same reason.
const treeWindow = 64

// treeCalls is how many requests a tree's calls on the attribute channel
// keep outstanding at once: each is small (a MKDIR, a RENAME, an LSTAT),
// and the server answers them one after another, so a few in flight keep
// it busy across a round trip.
const treeCalls = 16

// Tree is what a recursive transfer did: in the data of its result, and of
// its error when some of it failed.
type Tree struct {
	Source string        `json:"source"`
	Dest   string        `json:"dest"` // the tree's root where it was copied to
	Files  int           `json:"files"`
	Dirs   int           `json:"dirs"`
	Links  int           `json:"links"`
	Bytes  int64         `json:"bytes"`
	Failed []TreeFailure `json:"failed"`
}

// TreeFailure is one file of a tree that was not copied.
type TreeFailure struct {
	Path    proto.Name `json:"path"` // relative to the tree's root
	Kind    proto.Kind `json:"kind"`
	Message string     `json:"message"`
}

// TreeError is a recursive transfer of which some part failed: Err is the
// first failure, Tree what was done.
type TreeError struct {
	Tree   *Tree
	Remote string // PUT: "partial" when anything reached the server
	Err    error
}

func (e *TreeError) Error() string {
	return fmt.Sprintf("%d of the tree's entries failed, the first %s: %v", len(e.Tree.Failed), e.Tree.Failed[0].Path, e.Err)
}
func (e *TreeError) Unwrap() error { return e.Err }

// treeState is what a recursive PUT and GET share while they run.
type treeState struct {
	root    string // where the tree goes
	n       tally
	f       failures
	w       lineWindow
	blocked sync.Map // rel of a directory that could not be made: nothing below it is tried
}

// under reports whether rel is below (or is) a directory that could not be
// made.
func (t *treeState) under(rel string) bool {
	for p := rel; p != "" && p != "."; p = path.Dir(p) {
		if _, ok := t.blocked.Load(p); ok {
			return true
		}
		if !strings.Contains(p, "/") {
			break
		}
	}
	return false
}

// deepestFirst lists the directories of entries, deepest first, for
// setting their times: making an entry in a directory moves its mtime on.
func deepestFirst(entries []treeEntry) []treeEntry {
	dirs := entriesOf(entries, dirEntry)
	slices.SortStableFunc(dirs, func(a, b treeEntry) int { return strings.Count(b.rel, "/") - strings.Count(a.rel, "/") })
	return dirs
}

// entriesOf lists the entries of one kind.
func entriesOf(entries []treeEntry, k entryKind) []treeEntry {
	var out []treeEntry
	for _, en := range entries {
		if en.kind == k {
			out = append(out, en)
		}
	}
	return out
}

// tally counts what a tree's transfer has done, from any goroutine.
type tally struct {
	files, dirs, links, bytes atomic.Int64
}

// into copies the counts into t.
func (n *tally) into(t *Tree) {
	t.Files, t.Dirs, t.Links, t.Bytes = int(n.files.Load()), int(n.dirs.Load()), int(n.links.Load()), n.bytes.Load()
}

// treeEntry is one entry of a tree being copied.
type treeEntry struct {
	rel    string // path below the root, "/"-separated; "" for the root
	kind   entryKind
	size   int64
	attrs  sftpwire.Attrs // mode and times, for "preserve"
	target string         // a symlink's
}

type entryKind int

const (
	dirEntry entryKind = iota
	fileEntry
	linkEntry
	otherEntry
)

// joinRel joins a path below the root to the root (a "/"-separated path).
func joinRel(root, rel string) string {
	if rel == "" {
		return root
	}
	return path.Join(root, rel)
}

// failures collects a tree's failures, safe for concurrent use.
type failures struct {
	mu   sync.Mutex
	list []TreeFailure
	errs []error
}

// add records that rel failed with err.
func (f *failures) add(rel string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := rel
	if name == "" {
		name = "."
	}
	f.list = append(f.list, TreeFailure{Path: proto.Name(name), Kind: kindOfErr(err), Message: err.Error()})
	f.errs = append(f.errs, err)
}

// kindOfErr is respond's kind for err.
func kindOfErr(err error) proto.Kind {
	if errors.Is(err, context.Canceled) {
		return proto.KindInterrupted
	}
	return proto.KindOf(err)
}

// fatal reports whether err stops the whole tree: the connection is gone,
// or sftper is stopping.
func fatal(err error) bool {
	var ce *driver.ConnError
	var ns *NotSent
	return errors.As(err, &ce) || errors.As(err, &ns) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// each runs f on every item, up to n at a time, and returns the first
// error that fatal says stops everything (the others f records itself).
func each[T any](items []T, n int, f func(T) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		slots = make(chan struct{}, n)
	)
	for _, it := range items {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := f(it); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// lineWindow sends a tree's lines to sftp with up to treeWindow outstanding,
// and hands each one's output to its finish in the order sent. One
// goroutine sends; inFlight may be called from any.
type lineWindow struct {
	e    *env
	stop error // the fatal error that ended the window, once one has

	mu  sync.Mutex
	out []*windowed
}

type windowed struct {
	p      *driver.Pending
	fi     os.FileInfo // the local file it reads or writes, if known
	part   string      // a get's download file, to measure; "" for a put
	finish func(out []string, err error) error
}

// send sends line, waiting first for the oldest line if treeWindow are
// outstanding. finish gets the line's output or error; an error it returns
// that fatal says stops everything makes every later send fail with it.
// fi (a put's source) or part (a get's download file) is what inFlight
// measures.
func (w *lineWindow) send(line string, fi os.FileInfo, part string, finish func(out []string, err error) error) error {
	if w.stop != nil {
		return w.stop
	}
	for w.len() >= treeWindow {
		if err := w.settleOldest(); err != nil {
			return err
		}
	}
	p, err := w.e.conn.Send(w.e.ctx, line, nil)
	if err != nil {
		if ferr := finish(nil, &NotSent{Err: err}); ferr != nil && fatal(ferr) {
			w.stop = ferr
		}
		return w.stop
	}
	w.mu.Lock()
	w.out = append(w.out, &windowed{p: p, fi: fi, part: part, finish: finish})
	w.mu.Unlock()
	return nil
}

func (w *lineWindow) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.out)
}

func (w *lineWindow) settleOldest() error {
	w.mu.Lock()
	o := w.out[0]
	w.out[0] = nil
	w.out = w.out[1:]
	w.mu.Unlock()
	out, err := o.p.Wait(w.e.ctx)
	if ferr := o.finish(out, err); ferr != nil && fatal(ferr) && w.stop == nil {
		w.stop = ferr
	}
	return w.stop
}

// drain waits for every outstanding line.
func (w *lineWindow) drain() error {
	for w.len() > 0 {
		w.settleOldest()
	}
	return w.stop
}

// inFlight is how many bytes the outstanding lines have moved so far, as
// far as can be told (see driver.Pending.Offset), for progress reports.
func (w *lineWindow) inFlight() int64 {
	w.mu.Lock()
	out := slices.Clone(w.out)
	w.mu.Unlock()
	var n int64
	for _, o := range out {
		switch {
		case o.part != "":
			if fi, err := os.Stat(o.part); err == nil {
				n += fi.Size()
			}
		case o.fi != nil:
			if off, ok := o.p.Offset(o.fi); ok {
				n += off
			}
		}
	}
	return n
}

// onChannel runs f on the attribute channel and waits for it.
func (e *env) onChannel(f func(ctx context.Context, c *sftpwire.Client) error) error {
	_, err := e.conn.Attrs(e.ctx, func(ctx context.Context, c *sftpwire.Client) (any, error) {
		return nil, f(ctx, c)
	}).Wait(e.ctx)
	return err
}

// treeStep runs work, a whole tree's transfer, in a goroutine of its own,
// as the request's step.
func treeStep(work func() (Result, error)) step {
	done := make(chan struct{})
	var res Result
	var err error
	go func() {
		defer close(done)
		res, err = work()
	}()
	return step{done: done, result: func() (Result, error) {
		<-done
		return res, err
	}}
}

// finishTree is a tree's outcome: ok with the summary when nothing failed,
// else a *TreeError.
func finishTree(t *Tree, f *failures, remote string, what string) (Result, error) {
	t.Failed = f.list
	if t.Failed == nil {
		t.Failed = []TreeFailure{}
	}
	if len(f.list) > 0 {
		return Result{}, &TreeError{Tree: t, Remote: remote, Err: f.errs[0]}
	}
	return Result{
		Message: fmt.Sprintf("%s %s to %s: %d files, %d directories, %d symlinks, %d bytes", what, t.Source, t.Dest, t.Files, t.Dirs, t.Links, t.Bytes),
		Data:    t,
	}, nil
}
