package command

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// GET with "recursive": a remote tree to this machine (see tree.go).
//
// The tree is read on the attribute channel first: each directory's
// listing (the names exactly as the server sends them, and lstat's
// attributes), each symlink's target, and with "resume" what each
// download file holds. Then the directories and symlinks are made here,
// one get line per file is sent, up to treeWindow outstanding, each into
// a download file renamed into place when sftp is done with it (as GET
// does), and with "preserve" the directories get the source's modes and
// times, deepest first.
func startGetTree(e *env, op Get) step {
	if err := batch.CheckPath(op.Source); err != nil {
		return finished(Result{}, refuse(err))
	}
	dest, err := localPath(op.Dest)
	if err != nil {
		return finished(Result{}, err)
	}
	source, err := e.resolve(op.Source)
	if err != nil {
		return finished(Result{}, err)
	}
	t := &getTree{e: e, op: op, source: source, dest: dest}
	t.total.Store(-1)
	st := treeStep(t.run)
	if op.Progress {
		e.watch(st.done, func() (Progress, bool) {
			total := t.total.Load()
			if total < 0 {
				return Progress{}, false
			}
			return Progress{Bytes: t.n.bytes.Load() + t.w.inFlight(), Total: total}, true
		})
	}
	return st
}

// getTree is one recursive GET under way.
type getTree struct {
	treeState
	e            *env
	op           Get
	source, dest string
	total        atomic.Int64
	links        []treeEntry
}

func (t *getTree) run() (Result, error) {
	t.w.e = t.e
	var entries []treeEntry
	isDir := true
	err := t.e.onChannel(func(ctx context.Context, c *sftpwire.Client) error {
		a, err := c.Stat(ctx, t.source)
		if err != nil {
			return remoteError("stat", t.op.Source, err)
		}
		if a.Permissions&modeType != modeDir {
			isDir = false
			return nil
		}
		entries, err = t.list(ctx, c, a)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	if !isDir {
		// One file: a plain GET.
		op := t.op
		op.Recursive = false
		st := startGet(t.e, op)
		if st.done == nil {
			return st.res, st.err
		}
		<-st.done
		return st.result()
	}
	var total int64
	for _, en := range entries {
		if en.kind == fileEntry {
			total += en.size
		}
	}
	t.total.Store(total)

	tree := &Tree{Source: t.op.Source, Dest: t.op.Dest}
	if err := t.makeRoot(); err != nil {
		return Result{}, err
	}
	tree.Dest = t.root
	t.makeDirsAndLinks(entries)

	files := t.plan(entries)
	if t.op.Resume {
		err := t.e.onChannel(func(ctx context.Context, c *sftpwire.Client) error {
			return each(files, treeCalls, func(d *download) error { return t.resumeCheck(ctx, c, d) })
		})
		if err != nil {
			return Result{}, err
		}
	}
	for _, d := range files {
		if d.failed {
			continue
		}
		if d.line == "" { // complete in its download file already
			t.finishFile(d, nil, nil)
			continue
		}
		d := d
		if err := t.w.send(d.line, nil, d.tmp, func(out []string, err error) error {
			return t.finishFile(d, out, err)
		}); err != nil {
			break
		}
	}
	if err := t.w.drain(); err != nil {
		return Result{}, err
	}
	if t.op.Preserve {
		t.preserveDirs(entries)
	}
	t.n.into(tree)
	return finishTree(tree, &t.f, "", "downloaded")
}

// list reads the remote tree below the root (whose attributes are a), one
// depth after another, the directories of one depth at the same time; and
// each symlink's target.
func (t *getTree) list(ctx context.Context, c *sftpwire.Client, a sftpwire.Attrs) ([]treeEntry, error) {
	entries := []treeEntry{{rel: "", kind: dirEntry, attrs: a}}
	level := []string{""}
	var mu sync.Mutex
	for len(level) > 0 {
		var next []string
		err := each(level, treeCalls, func(rel string) error {
			names, err := c.ReadDir(ctx, strings.TrimSuffix(joinRel(t.source, rel), "/")+"/.")
			if err != nil {
				if fatal(err) {
					return err
				}
				t.f.add(rel, whyNotListed(ctx, c, joinRel(t.op.Source, rel), joinRel(t.source, rel), err))
				return nil
			}
			var found []treeEntry
			var dirs []string
			for _, n := range names {
				if n.Name == "." || n.Name == ".." {
					continue
				}
				child := joinRel(rel, n.Name)
				if n.Name == "" || strings.Contains(n.Name, "/") {
					t.f.add(rel, proto.Errorf(proto.KindFailure, fmt.Sprintf("list %q: the server listed an entry named %q, which no directory entry can be named", joinRel(t.op.Source, rel), n.Name)))
					continue
				}
				en := treeEntry{rel: child, attrs: n.Attrs, size: int64(n.Attrs.Size)}
				switch n.Attrs.Permissions & modeType {
				case modeDir:
					en.kind = dirEntry
					dirs = append(dirs, child)
				case modeRegular:
					en.kind = fileEntry
				case modeSymlink:
					en.kind = linkEntry
				default:
					t.f.add(child, proto.Errorf(proto.KindFailure, fmt.Sprintf("%q is not a regular file, a directory or a symlink (%s)", joinRel(t.op.Source, child), orUnknown(fileType(n.Attrs)))))
					continue
				}
				found = append(found, en)
			}
			mu.Lock()
			entries = append(entries, found...)
			next = append(next, dirs...)
			mu.Unlock()
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.Sort(next)
		level = next
	}
	// Parents before children, in the order of their names.
	slices.SortFunc(entries, func(a, b treeEntry) int { return strings.Compare(a.rel, b.rel) })
	links := entriesOf(entries, linkEntry)
	err := each(links, treeCalls, func(en treeEntry) error {
		p := joinRel(t.source, en.rel)
		if modSFTP(c.Version()) {
			t.f.add(en.rel, proto.Errorf(proto.KindUnsupported, fmt.Sprintf("readlink %q: this server (ProFTPD's mod_sftp) answers READLINK with the target resolved, not as the link holds it", p)))
			return nil
		}
		target, err := c.ReadLink(ctx, p)
		if err != nil {
			if fatal(err) {
				return err
			}
			t.f.add(en.rel, remoteError("readlink", p, err))
			return nil
		}
		mu.Lock()
		t.links = append(t.links, treeEntry{rel: en.rel, kind: linkEntry, target: target})
		mu.Unlock()
		return nil
	})
	return entries, err
}

func orUnknown(s string) string {
	if s == "" {
		return "of a type the server did not say"
	}
	return "a " + s
}

// makeRoot makes the tree's root here, dest, if it is not there.
func (t *getTree) makeRoot() error {
	root := t.dest
	if err := os.MkdirAll(root, 0o777); err != nil {
		return localError(err.Error(), err)
	}
	t.n.dirs.Add(1)
	t.root = root
	return nil
}

// local is where rel goes here.
func (t *getTree) local(rel string) string { return filepath.Join(t.root, filepath.FromSlash(rel)) }

// makeDirsAndLinks makes the directories (parents first) and the symlinks
// here. A symlink replaces what is in its place in one step: it is made
// under a name of its own beside it, then renamed.
func (t *getTree) makeDirsAndLinks(entries []treeEntry) {
	for _, en := range entries {
		if en.kind != dirEntry || en.rel == "" {
			continue
		}
		if t.under(path.Dir(en.rel)) {
			t.blocked.Store(en.rel, true)
			continue
		}
		p := t.local(en.rel)
		err := os.Mkdir(p, 0o777)
		if err != nil {
			if fi, serr := os.Lstat(p); serr == nil && fi.IsDir() {
				err = nil
			}
		}
		if err != nil {
			t.blocked.Store(en.rel, true)
			t.f.add(en.rel, localError(err.Error(), err))
			continue
		}
		t.n.dirs.Add(1)
	}
	for _, en := range t.links {
		if t.under(path.Dir(en.rel)) {
			continue
		}
		p := t.local(en.rel)
		tmp := filepath.Join(filepath.Dir(p), driver.PartName())
		err := os.Symlink(en.target, tmp)
		if err == nil {
			if err = os.Rename(tmp, p); err != nil {
				os.Remove(tmp)
			}
		}
		if err != nil {
			t.f.add(en.rel, localError(err.Error(), err))
			continue
		}
		t.n.links.Add(1)
	}
}

// plan makes a download of each file not below a directory that could not
// be made, with its line; a name no sftp line can carry is a failure.
func (t *getTree) plan(entries []treeEntry) []*download {
	var files []*download
	swept := map[string]bool{}
	for _, en := range entries {
		if en.kind != fileEntry || t.under(path.Dir(en.rel)) {
			continue
		}
		final := t.local(en.rel)
		op := t.op
		op.Source, op.Dest, op.Recursive = joinRel(t.op.Source, en.rel), final, false
		d := &download{op: op, source: joinRel(t.source, en.rel), dest: final, rel: en.rel, remote: en.attrs, size: en.size}
		dir := filepath.Dir(final)
		var line string
		var err error
		if t.op.Resume {
			d.tmp = partOf(final)
			line, err = batch.GetPartWith(d.source, dir, filepath.Base(d.tmp), len(filepath.Base(d.tmp)), t.op.flags())
		} else {
			os.Remove(partOf(final)) // a resumable GET's, which this one starts over
			name := driver.PartName()
			d.tmp = filepath.Join(dir, name)
			line, err = batch.GetPartWith(d.source, dir, name, driver.PartNameMax, t.op.flags())
			if !swept[dir] {
				swept[dir] = true
				driver.SweepParts(dir, t.e.r.cfg.Log)
			}
		}
		if err != nil {
			t.f.add(en.rel, proto.Errorf(proto.KindUnsupported, err.Error()))
			continue
		}
		d.line = line
		files = append(files, d)
	}
	return files
}

// resumeCheck decides where d's download goes on from: nothing to do when
// the destination holds the whole source already (a transfer before this
// one got that far), else what its download file holds (localResume).
func (t *getTree) resumeCheck(ctx context.Context, c *sftpwire.Client, d *download) error {
	if fi, err := os.Stat(d.dest); err == nil && fi.Mode().IsRegular() && fi.Size() == d.size {
		if f, err := os.Open(d.dest); err == nil {
			same, err := samePrefix(ctx, c, d.source, f, d.size)
			f.Close()
			if err != nil && fatal(err) {
				return err
			}
			if err == nil && same {
				d.resumed = &Resumed{Kept: d.size, Complete: true}
				d.line, d.inPlace = "", true
				return nil
			}
		}
	}
	r, _, err := localResume(ctx, c, d.source, d.tmp)
	if err != nil {
		if fatal(err) {
			return err
		}
		t.f.add(d.rel, remoteError("stat", d.op.Source, err))
		d.failed = true
		return nil
	}
	d.resumed = &r
	switch {
	case r.Complete:
		d.line = ""
	case r.Kept > 0:
		flags := t.op.flags()
		flags.Resume = true
		line, err := batch.GetPartWith(d.source, filepath.Dir(d.tmp), filepath.Base(d.tmp), len(filepath.Base(d.tmp)), flags)
		if err != nil {
			t.f.add(d.rel, proto.Errorf(proto.KindUnsupported, err.Error()))
			d.failed = true
			return nil
		}
		d.line = line
	}
	return nil
}

// finishFile renames a downloaded file into place and counts it, or
// records why not.
func (t *getTree) finishFile(d *download, out []string, err error) error {
	if d.inPlace {
		t.n.files.Add(1)
		t.n.bytes.Add(d.size)
		return nil
	}
	if err == nil && d.line == "" {
		err = d.finishLocally()
	}
	if err != nil && fatal(err) {
		if !t.op.Resume {
			os.Remove(d.tmp)
		}
		t.f.add(d.rel, err)
		return err
	}
	if _, err := getDone(d.op, d.tmp, d.dest, out, err, t.op.Resume); err != nil {
		t.f.add(d.rel, err)
		return err
	}
	t.n.files.Add(1)
	t.n.bytes.Add(d.size)
	return nil
}

// preserveDirs gives each directory the source's mode and times, deepest
// first.
func (t *getTree) preserveDirs(entries []treeEntry) {
	for _, en := range deepestFirst(entries) {
		if en.rel != "" && t.under(en.rel) {
			continue
		}
		p := t.local(en.rel)
		a := en.attrs
		var err error
		if a.Has(sftpwire.AttrPermissions) {
			err = os.Chmod(p, fs.FileMode(a.Permissions&0o777)|goSetBits(a.Permissions))
		}
		if err == nil && a.Has(sftpwire.AttrACModTime) {
			err = os.Chtimes(p, time.Unix(int64(a.Atime), 0), time.Unix(int64(a.Mtime), 0))
		}
		if err != nil {
			t.f.add(en.rel, localError(err.Error(), err))
		}
	}
}
