package command

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// PUT with "recursive": a local tree to the server (see tree.go).
//
// The source is walked first (symlinks inside it are not followed; a
// source that is itself a symlink is, as the tree it names). Then, on the
// attribute channel: the root (with every missing directory above it),
// every directory, every symlink (atomic: made under a temporary name and
// renamed into place), and with "resume" what each file's partial file
// holds. Then one put line per file, up to treeWindow outstanding; then,
// on the channel again, the renames of the atomic uploads, and with
// "preserve" the directories' modes and times, deepest first (adding
// files to a directory moves its mtime on).
func startPutTree(e *env, op Put) step {
	fail := func(err error) step { return finished(Result{}, &StateError{Remote: unchanged, Err: err}) }
	src, err := localPath(op.Source)
	if err != nil {
		return fail(err)
	}
	if err := batch.CheckPath(op.Dest); err != nil {
		return finished(Result{}, refuse(err))
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fail(localError(fmt.Sprintf("local source: %v", unwrapPathError(err, op.Source)), err))
	}
	if !fi.IsDir() {
		op.Recursive = false // one file: a plain PUT
		return startPut(e, op)
	}
	if lfi, err := os.Lstat(src); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
		// The tree a symlink names: walked from where it leads, as the
		// walk follows no link.
		if src, err = filepath.EvalSymlinks(src); err != nil {
			return fail(localError(fmt.Sprintf("local source: %v", unwrapPathError(err, op.Source)), err))
		}
	}
	dest, err := e.resolve(op.Dest)
	if err != nil {
		return fail(err)
	}
	t := &putTree{e: e, op: op, src: src, dest: dest}
	entries := t.walk()
	var total int64
	for _, en := range entries {
		if en.kind == fileEntry {
			total += en.size
		}
	}
	st := treeStep(func() (Result, error) { return t.run(entries) })
	if op.Progress {
		e.watch(st.done, func() (Progress, bool) {
			return Progress{Bytes: t.n.bytes.Load() + t.w.inFlight(), Total: total}, true
		})
	}
	return st
}

// putTree is one recursive PUT under way.
type putTree struct {
	treeState
	e         *env
	op        Put
	src, dest string
	sentBytes bool // anything reached the server
}

// walk lists the local tree below src, parents before children, in the
// order of their names; what cannot be read is a failure.
func (t *putTree) walk() []treeEntry {
	var entries []treeEntry
	filepath.WalkDir(t.src, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(t.src, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		if err != nil {
			t.f.add(rel, localError(unwrapPathError(err, p), err))
			return nil // WalkDir skips what it cannot read
		}
		en := treeEntry{rel: rel}
		switch typ := d.Type(); {
		case typ.IsDir():
			en.kind = dirEntry
		case typ.IsRegular():
			en.kind = fileEntry
		case typ&fs.ModeSymlink != 0:
			en.kind = linkEntry
			if en.target, err = os.Readlink(p); err != nil {
				t.f.add(rel, localError(err.Error(), err))
				return nil
			}
		default:
			t.f.add(rel, localError(fmt.Sprintf("local %q is not a regular file, a directory or a symlink (a %s)", p, typ.Type()), nil))
			return nil
		}
		if en.kind != linkEntry {
			info, err := d.Info()
			if err != nil {
				t.f.add(rel, localError(err.Error(), err))
				return nil
			}
			en.size = info.Size()
			if t.op.Preserve {
				if en.attrs, err = localAttrs(p); err != nil {
					t.f.add(rel, localError(err.Error(), err))
					return nil
				}
			}
		}
		entries = append(entries, en)
		return nil
	})
	return entries
}

func (t *putTree) run(entries []treeEntry) (Result, error) {
	t.w.e = t.e
	tree := &Tree{Source: t.op.Source, Dest: t.op.Dest}
	var files []*upload
	err := t.e.onChannel(func(ctx context.Context, c *sftpwire.Client) error {
		if err := t.makeRoot(ctx, c); err != nil {
			return err
		}
		tree.Dest = t.root
		if err := t.makeDirs(ctx, c, entries); err != nil {
			return err
		}
		if err := each(entriesOf(entries, linkEntry), treeCalls, func(en treeEntry) error {
			return t.link(ctx, c, en)
		}); err != nil {
			return err
		}
		files = t.plan(entries)
		if t.op.Resume {
			return each(files, treeCalls, func(u *upload) error { return t.resumeCheck(ctx, c, u) })
		}
		return nil
	})
	if err != nil {
		if t.root == "" || fatal(err) {
			return Result{}, &StateError{Remote: t.remoteState(), Err: err}
		}
		return Result{}, err
	}

	// The files: one put line each.
	var done []*upload
	var mu sync.Mutex
	for _, u := range files {
		if u.line == "" {
			done = append(done, u) // complete in its partial file already
			continue
		}
		u := u
		err := t.w.send(u.line, u.fi, "", func(out []string, err error) error {
			if err := putFailure(out, err); err != nil {
				t.f.add(u.rel, err)
				return err
			}
			t.sentBytes = true
			mu.Lock()
			done = append(done, u)
			mu.Unlock()
			return nil
		})
		if err != nil {
			break
		}
	}
	if err := t.w.drain(); err != nil {
		return Result{}, &StateError{Remote: t.remoteState(), Err: err}
	}

	// Into place, and the directories' times.
	err = t.e.onChannel(func(ctx context.Context, c *sftpwire.Client) error {
		if err := each(done, treeCalls, func(u *upload) error { return t.finishFile(ctx, c, u) }); err != nil {
			return err
		}
		if t.op.Preserve {
			return t.preserveDirs(ctx, c, entries)
		}
		return nil
	})
	if err != nil {
		return Result{}, &StateError{Remote: t.remoteState(), Err: err}
	}
	t.n.into(tree)
	return finishTree(tree, &t.f, t.remoteState(), "uploaded")
}

// remoteState is what a failed tree left on the server.
func (t *putTree) remoteState() string {
	if t.sentBytes || t.n.files.Load() > 0 || t.n.dirs.Load() > 0 || t.n.links.Load() > 0 {
		return partial
	}
	return unchanged
}

// makeRoot makes the tree's root on the server, dest, if it is not there.
func (t *putTree) makeRoot(ctx context.Context, c *sftpwire.Client) error {
	root := t.dest
	if _, err := mkdirAll(ctx, c, t.op.Dest, root, sftpwire.Attrs{}); err != nil {
		return err
	}
	t.n.dirs.Add(1)
	t.root = root
	return nil
}

// makeDirs makes every directory below the root, one depth after another,
// those of one depth at the same time.
func (t *putTree) makeDirs(ctx context.Context, c *sftpwire.Client, entries []treeEntry) error {
	byDepth := map[int][]treeEntry{}
	most := 0
	for _, en := range entries {
		if en.kind == dirEntry && en.rel != "" {
			d := strings.Count(en.rel, "/")
			byDepth[d] = append(byDepth[d], en)
			most = max(most, d)
		}
	}
	for d := 0; d <= most; d++ {
		err := each(byDepth[d], treeCalls, func(en treeEntry) error {
			if t.under(path.Dir(en.rel)) {
				t.blocked.Store(en.rel, true)
				return nil
			}
			p := joinRel(t.root, en.rel)
			err := c.Mkdir(ctx, p, sftpwire.Attrs{})
			if err == nil {
				t.n.dirs.Add(1)
				return nil
			}
			se, refused := kindOf(err)
			if !refused {
				return err
			}
			if a, there, lerr := lookAt(ctx, c, p); lerr != nil {
				return lerr
			} else if there && a.Permissions&modeType == modeDir {
				t.n.dirs.Add(1) // there already
				return nil
			}
			t.blocked.Store(en.rel, true)
			t.f.add(en.rel, existsError(ctx, c, "mkdir", p, p, se))
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// link makes the symlink en on the server, replacing what is there.
func (t *putTree) link(ctx context.Context, c *sftpwire.Client, en treeEntry) error {
	if t.under(path.Dir(en.rel)) {
		return nil
	}
	p := joinRel(t.root, en.rel)
	err := t.replaceWithLink(ctx, c, en.target, p)
	if err != nil {
		if !fatal(err) {
			t.f.add(en.rel, err)
			return nil
		}
		return err
	}
	t.n.links.Add(1)
	return nil
}

// replaceWithLink makes p a symlink holding target: atomically (made
// beside it, renamed over it) unless "atomic" is false.
func (t *putTree) replaceWithLink(ctx context.Context, c *sftpwire.Client, target, p string) error {
	if !t.op.Atomic {
		if a, there, err := lookAt(ctx, c, p); err != nil {
			return err
		} else if there {
			if a.Permissions&modeType == modeDir {
				return proto.Errorf(proto.KindIsADirectory, fmt.Sprintf("symlink %q: a directory is in the way", p))
			}
			if err := c.Remove(ctx, p); err != nil {
				return remoteError("remove", p, err)
			}
		}
		if err := c.Symlink(ctx, target, p); err != nil {
			return remoteError("symlink", p, err)
		}
		return nil
	}
	tmp := partOf(p)
	c.Remove(ctx, tmp) // one a stopped transfer left
	if err := c.Symlink(ctx, target, tmp); err != nil {
		return remoteError("symlink", tmp, err)
	}
	if _, err := rename(ctx, c, Rename{Source: tmp, Dest: p, Overwrite: true}, tmp, p); err != nil {
		c.Remove(ctx, tmp)
		return err
	}
	return nil
}

// plan makes an upload of each file not below a directory that could not
// be made, with its line; a name no sftp line can carry is a failure.
func (t *putTree) plan(entries []treeEntry) []*upload {
	var files []*upload
	for _, en := range entries {
		if en.kind != fileEntry || t.under(path.Dir(en.rel)) {
			continue
		}
		local := filepath.Join(t.src, filepath.FromSlash(en.rel))
		dest := joinRel(t.root, en.rel)
		u := &upload{op: t.op, src: local, dest: dest, target: dest, size: en.size, attrs: en.attrs, rel: en.rel, exact: true}
		u.op.Source, u.op.Dest = local, dest
		if t.op.Atomic {
			u.target = partOf(dest)
		}
		line, err := batch.PutWith(local, u.target, t.op.flags())
		if err != nil {
			t.f.add(en.rel, proto.Errorf(proto.KindUnsupported, err.Error()))
			continue
		}
		u.line = line
		if fi, err := os.Stat(local); err == nil {
			u.fi = fi
		}
		files = append(files, u)
	}
	return files
}

// resumeCheck decides where u's upload goes on from: nothing to do when
// dest holds the whole source already (a transfer before this one got
// that far), else what its partial file holds (see remoteResume).
func (t *putTree) resumeCheck(ctx context.Context, c *sftpwire.Client, u *upload) error {
	f, err := os.Open(u.src)
	if err != nil {
		t.f.add(u.rel, localError(err.Error(), err))
		u.line, u.failed = "", true
		return nil
	}
	defer f.Close()
	if t.op.Atomic {
		if a, err := c.Lstat(ctx, u.dest); err == nil && a.Has(sftpwire.AttrSize) && a.Permissions&modeType == modeRegular && int64(a.Size) == u.size {
			same, err := samePrefix(ctx, c, u.dest, f, u.size)
			if err != nil && fatal(err) {
				return err
			}
			if err == nil && same {
				u.resumed = &Resumed{Kept: u.size, Complete: true}
				u.line, u.inPlace = "", true
				return nil
			}
		} else if err != nil && fatal(err) {
			return err
		}
	}
	r, err := remoteResume(ctx, c, u.target, f, u.size)
	if err != nil {
		if fatal(err) {
			return err
		}
		t.f.add(u.rel, err)
		u.line, u.failed = "", true
		return nil
	}
	u.resumed = &r
	if r.Kept > 0 {
		if u.line, err = batch.PutWith(u.src, u.target, batch.Flags{Preserve: t.op.Preserve, Fsync: t.op.Fsync, Resume: true}); err != nil {
			t.f.add(u.rel, proto.Errorf(proto.KindUnsupported, err.Error()))
			u.line, u.failed = "", true
			return nil
		}
		if r.Complete {
			u.line = ""
		}
	}
	return nil
}

// finishFile puts an uploaded file in place (atomic) and counts it.
func (t *putTree) finishFile(ctx context.Context, c *sftpwire.Client, u *upload) error {
	if u.failed {
		return nil
	}
	if u.inPlace {
		t.n.files.Add(1)
		t.n.bytes.Add(u.size)
		return nil
	}
	if u.line == "" && t.op.Preserve {
		if err := c.Setstat(ctx, u.target, u.attrs); err != nil {
			t.f.add(u.rel, remoteError("setstat", u.target, err))
			return nil
		}
	}
	if t.op.Atomic {
		if _, err := putInPlace(ctx, c, u); err != nil {
			if fatal(err) {
				return err
			}
			if !t.op.Resume {
				c.Remove(ctx, u.target)
			}
			t.f.add(u.rel, err)
			return nil
		}
	}
	t.n.files.Add(1)
	t.n.bytes.Add(u.size)
	return nil
}

// preserveDirs gives each directory its source's mode and times, deepest
// first: making an entry in a directory moves its mtime on.
func (t *putTree) preserveDirs(ctx context.Context, c *sftpwire.Client, entries []treeEntry) error {
	for _, en := range deepestFirst(entries) {
		if en.rel != "" && t.under(en.rel) {
			continue
		}
		p := joinRel(t.root, en.rel)
		if err := c.Setstat(ctx, p, en.attrs); err != nil {
			if fatal(err) {
				return err
			}
			t.f.add(en.rel, remoteError("setstat", p, err))
		}
	}
	return nil
}
