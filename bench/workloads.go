package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"
)

// opKind is what one operation does.
type opKind int

const (
	opPut     opKind = iota // local -> remote
	opGet                   // remote -> local
	opList                  // list a remote directory
	opPutTree               // a local directory, recursively, to a remote one that does not exist yet
	opGetTree               // a remote directory, recursively, to a local one that does not exist yet
)

// String is the op's name in the library clients' op files and results.
func (k opKind) String() string {
	return [...]string{"put", "get", "list", "puttree", "gettree"}[k]
}

// op is one operation in terms every contender can translate into its
// own language (an sftp batch line, a JSON request, a library call...).
// Paths are absolute: the server runs on this machine, so a remote path
// is also where the file lies on the local disk, which is how workloads
// set up and verify the remote side without going through any contender.
type op struct {
	kind   opKind
	local  string // opPut, opGet: the local file; opPutTree, opGetTree: the local tree's root
	remote string // the remote file, for opList the directory, for a tree op the remote tree's root
	files  int    // opPutTree, opGetTree: the regular files in the tree, which the contender must report
}

// workload is one timed job. setup runs once, before the first run; then,
// for every run of every contender: reset (untimed), the ops (timed, all
// in one fresh session of the contender), verify and clean (untimed).
// teardown runs once at the end and frees the inputs.
type workload struct {
	num   int // 1 to 9 as issue 5 numbers them, 8 and 9 added since; 10 on, the round-trip workloads of issue 13
	name  string
	about string
	ops   []op // filled by setup

	// sequential: a client waits for each result before it sends the
	// next request, as a script doing round trips would. Contenders that
	// could pipeline (sftper) must not.
	sequential bool
	// toFirst: the time taken is from process start to the first result,
	// not to process exit.
	toFirst bool
	// listing is what every opList must return: name -> size, without
	// "." and "..". Every opList of a workload lists the same directory.
	listing map[string]int64
	// rtt is the round trip the delay proxy adds (0: loopback only), and
	// config the ssh_config aimed at that proxy, which contenders use
	// instead of the server's when it is set (see sshConfig).
	rtt    time.Duration
	config string
	// rate turns the median time (and, for sequential workloads, the
	// median time per result) into the table's rate column.
	rate func(median, perResult time.Duration) string

	setup    func(e *env) error
	reset    func(e *env) error
	verify   func(e *env) error
	clean    func(e *env) error
	teardown func(e *env) error
}

// sizes are the workloads' parameters; see flags in main.go.
type sizes struct {
	big     int64 // bytes in the one-file transfers (workloads 1, 2)
	files   int   // files in the many-file transfers (3, 4)
	small   int   // bytes in each of those
	entries int   // entries in the large directory (5)
	trips   int   // LISTDIRs in the round-trip workload (7)
	tiny    int   // entries in the small directory of 6 and 7
	tree    treeShape

	// The round-trip workloads (10 on): for each of rtts, rttFiles PUTs
	// and GETs of small files and one PUT and GET of rttBig bytes.
	rtts     []time.Duration
	rttFiles int
	rttBig   int64
}

// treeShape is the shape of the trees of workloads 8 and 9.
type treeShape struct {
	files int // regular files in the tree
	dirs  int // directories below its root (the root not counted)
}

// workloads returns the jobs to time, in the issues' order.
func workloads(s sizes) []*workload {
	return append([]*workload{
		bigPut(1, s.big),
		bigGet(2, s.big),
		manyPuts(3, s.files, s.small),
		manyGets(4, s.files, s.small),
		bigList(5, s.entries),
		startUp(6, s.tiny),
		roundTrips(7, s.trips, s.tiny),
		treePut(8, s.tree),
		treeGet(9, s.tree),
	}, rttWorkloads(10, s)...)
}

// sshConfig is the ssh_config a contender gives its client for w: the
// delay proxy's for a round-trip workload, else the server's own.
func (w *workload) sshConfig(e *env) string {
	if w.config != "" {
		return w.config
	}
	return e.srv.SSHConfig
}

// opsOf reports whether every op of w is of kind k.
func (w *workload) opsOf(k opKind) bool {
	for _, o := range w.ops {
		if o.kind != k {
			return false
		}
	}
	return len(w.ops) > 0
}

func noop(*env) error { return nil }

// bigPut uploads one large random file: bulk throughput, local to remote.
func bigPut(num int, size int64) *workload {
	w := &workload{
		num:   num,
		name:  "put " + human(size),
		about: fmt.Sprintf("one PUT of a %d-byte random file", size),
		rate:  throughput(size),
	}
	var src, dst string
	var sum [sha256.Size]byte
	w.setup = func(e *env) error {
		src = filepath.Join(e.local, "big-put.src")
		dst = filepath.Join(e.srv.Home, "big-put.dst")
		var err error
		if sum, err = writeRandom(src, size, uint64(num)); err != nil {
			return err
		}
		w.ops = []op{{kind: opPut, local: src, remote: dst}}
		return nil
	}
	w.clean = func(e *env) error { return removeIfExists(dst) }
	w.reset = w.clean
	w.verify = func(e *env) error { return checkFile(dst, size, sum) }
	w.teardown = func(e *env) error { return firstErr(removeIfExists(dst), removeIfExists(src)) }
	return w
}

// bigGet downloads one large random file: bulk throughput, remote to local.
func bigGet(num int, size int64) *workload {
	w := &workload{
		num:   num,
		name:  "get " + human(size),
		about: fmt.Sprintf("one GET of a %d-byte random file", size),
		rate:  throughput(size),
	}
	var src, dst string
	var sum [sha256.Size]byte
	w.setup = func(e *env) error {
		src = filepath.Join(e.srv.Home, "big-get.src")
		dst = filepath.Join(e.local, "big-get.dst")
		var err error
		if sum, err = writeRandom(src, size, uint64(num)); err != nil {
			return err
		}
		w.ops = []op{{kind: opGet, local: dst, remote: src}}
		return e.srv.Chown(src)
	}
	w.clean = func(e *env) error { return removeIfExists(dst) }
	w.reset = w.clean
	w.verify = func(e *env) error { return checkFile(dst, size, sum) }
	w.teardown = func(e *env) error { return firstErr(removeIfExists(dst), removeIfExists(src)) }
	return w
}

// manyPuts uploads count distinct random files of size bytes each into a
// fresh remote directory: per-file overhead and pipelining dominate, not
// bandwidth.
func manyPuts(num, count, size int) *workload {
	w := &workload{
		num:   num,
		name:  fmt.Sprintf("put %dx%s", count, human(int64(size))),
		about: fmt.Sprintf("%d PUTs of distinct %d-byte random files into an empty remote directory", count, size),
		rate:  perFile(count),
	}
	var srcDir, dstDir string
	w.setup = func(e *env) error {
		srcDir = filepath.Join(e.local, "many-put.src")
		dstDir = filepath.Join(e.srv.Home, "many-put.dst")
		names, err := writeSmallFiles(srcDir, count, size, uint64(num))
		if err != nil {
			return err
		}
		w.ops = w.ops[:0]
		for _, n := range names {
			w.ops = append(w.ops, op{kind: opPut, local: filepath.Join(srcDir, n), remote: filepath.Join(dstDir, n)})
		}
		return nil
	}
	w.reset = func(e *env) error {
		if err := freshDir(dstDir); err != nil {
			return err
		}
		return e.srv.Chown(dstDir)
	}
	w.verify = func(e *env) error { return sameDirs(srcDir, dstDir, count, size) }
	w.clean = func(e *env) error { return os.RemoveAll(dstDir) }
	w.teardown = func(e *env) error { return firstErr(os.RemoveAll(dstDir), os.RemoveAll(srcDir)) }
	return w
}

// manyGets downloads count distinct random files of size bytes each from
// a remote directory that holds exactly those files into an empty local
// one.
func manyGets(num, count, size int) *workload {
	w := &workload{
		num:   num,
		name:  fmt.Sprintf("get %dx%s", count, human(int64(size))),
		about: fmt.Sprintf("%d GETs of distinct %d-byte random files into an empty local directory", count, size),
		rate:  perFile(count),
	}
	var srcDir, dstDir string
	w.setup = func(e *env) error {
		srcDir = filepath.Join(e.srv.Home, "many-get.src")
		dstDir = filepath.Join(e.local, "many-get.dst")
		names, err := writeSmallFiles(srcDir, count, size, uint64(num))
		if err != nil {
			return err
		}
		if err := e.srv.Chown(srcDir); err != nil {
			return err
		}
		w.ops = w.ops[:0]
		for _, n := range names {
			if err := e.srv.Chown(filepath.Join(srcDir, n)); err != nil {
				return err
			}
			w.ops = append(w.ops, op{kind: opGet, local: filepath.Join(dstDir, n), remote: filepath.Join(srcDir, n)})
		}
		return nil
	}
	w.reset = func(e *env) error { return freshDir(dstDir) }
	w.verify = func(e *env) error { return sameDirs(srcDir, dstDir, count, size) }
	w.clean = func(e *env) error { return os.RemoveAll(dstDir) }
	w.teardown = func(e *env) error { return firstErr(os.RemoveAll(dstDir), os.RemoveAll(srcDir)) }
	return w
}

// bigList lists a remote directory of count files, each of a different
// size (sparse, so they cost tmpfs nothing): the cost of a large listing,
// parsed and returned whole.
func bigList(num, count int) *workload {
	w := &workload{
		num:   num,
		name:  fmt.Sprintf("listdir %d", count),
		about: fmt.Sprintf("one LISTDIR of a remote directory of %d files", count),
		rate:  func(time.Duration, time.Duration) string { return "-" },
		reset: noop, verify: noop, clean: noop,
	}
	var dir string
	w.setup = func(e *env) (err error) {
		dir = filepath.Join(e.srv.Home, "list-big")
		w.listing, err = makeListDir(e, dir, count)
		w.ops = []op{{kind: opList, remote: dir}}
		return err
	}
	w.teardown = func(e *env) error { return os.RemoveAll(dir) }
	return w
}

// startUp measures what a script waits for before its first answer:
// process start, connection, authentication, the sftp session, and one
// LISTDIR of a small directory.
func startUp(num, tiny int) *workload {
	w := &workload{
		num:        num,
		name:       "start-up",
		about:      fmt.Sprintf("process start to the first result of a LISTDIR of %d entries", tiny),
		sequential: true,
		toFirst:    true,
		rate:       func(time.Duration, time.Duration) string { return "-" },
		reset:      noop, verify: noop, clean: noop,
	}
	var dir string
	w.setup = func(e *env) (err error) {
		dir = filepath.Join(e.srv.Home, "list-startup")
		w.listing, err = makeListDir(e, dir, tiny)
		w.ops = []op{{kind: opList, remote: dir}}
		return err
	}
	w.teardown = func(e *env) error { return os.RemoveAll(dir) }
	return w
}

// roundTrips lists a small directory trips times in one session, each
// request sent only when the previous result is in: the latency of one
// round trip through the contender.
func roundTrips(num, trips, tiny int) *workload {
	w := &workload{
		num:        num,
		name:       fmt.Sprintf("%d round trips", trips),
		about:      fmt.Sprintf("%d LISTDIRs of a %d-entry directory in one session, each sent after the previous result", trips, tiny),
		sequential: true,
		rate: func(_, perResult time.Duration) string {
			return fmt.Sprintf("%.3f ms/trip", float64(perResult.Microseconds())/1000)
		},
		reset: noop, verify: noop, clean: noop,
	}
	var dir string
	w.setup = func(e *env) (err error) {
		dir = filepath.Join(e.srv.Home, "list-trips")
		w.listing, err = makeListDir(e, dir, tiny)
		w.ops = w.ops[:0]
		for range trips {
			w.ops = append(w.ops, op{kind: opList, remote: dir})
		}
		return err
	}
	w.teardown = func(e *env) error { return os.RemoveAll(dir) }
	return w
}

// treePut uploads a tree recursively, in one op, into a remote directory
// that does not exist before the run: the copy's root is made by the
// contender. Walking, directory creation and per-file overhead decide,
// with a few larger files among many small ones.
func treePut(num int, shape treeShape) *workload {
	plan := planTree(shape, treeSeed)
	w := &workload{
		num:   num,
		name:  fmt.Sprintf("put tree %df %dd", shape.files, shape.dirs),
		about: "one recursive PUT of " + plan.String() + " into a remote directory that does not exist yet",
		rate:  perFile(shape.files),
	}
	var src, dst string
	w.setup = func(e *env) error {
		src = filepath.Join(e.local, "tree-put.src")
		dst = filepath.Join(e.srv.Home, "tree-put.dst")
		if err := plan.write(src, treeSeed); err != nil {
			return err
		}
		w.ops = []op{{kind: opPutTree, local: src, remote: dst, files: shape.files}}
		return nil
	}
	w.reset = func(e *env) error { return os.RemoveAll(dst) }
	w.verify = func(e *env) error { return sameTrees(src, dst, plan) }
	w.clean = w.reset
	w.teardown = func(e *env) error { return firstErr(os.RemoveAll(dst), os.RemoveAll(src)) }
	return w
}

// treeGet downloads a tree recursively, in one op, into a local directory
// that does not exist before the run.
func treeGet(num int, shape treeShape) *workload {
	plan := planTree(shape, treeSeed)
	w := &workload{
		num:   num,
		name:  fmt.Sprintf("get tree %df %dd", shape.files, shape.dirs),
		about: "one recursive GET of " + plan.String() + " into a local directory that does not exist yet",
		rate:  perFile(shape.files),
	}
	var src, dst string
	w.setup = func(e *env) error {
		src = filepath.Join(e.srv.Home, "tree-get.src")
		dst = filepath.Join(e.local, "tree-get.dst")
		if err := plan.write(src, treeSeed); err != nil {
			return err
		}
		w.ops = []op{{kind: opGetTree, local: dst, remote: src, files: shape.files}}
		return e.srv.Chown(src)
	}
	w.reset = func(e *env) error { return os.RemoveAll(dst) }
	w.verify = func(e *env) error { return sameTrees(src, dst, plan) }
	w.clean = w.reset
	w.teardown = func(e *env) error { return firstErr(os.RemoveAll(dst), os.RemoveAll(src)) }
	return w
}

// treeSeed makes workloads 8 and 9 move the same tree, one each way.
const treeSeed = 8

// treePlan is a tree to write: its directories and its files, as paths
// relative to its root, parents before children.
type treePlan struct {
	dirs  []string
	files []treeFile
}

type treeFile struct {
	rel  string
	size int64
}

// planTree plans a tree of shape s, the same for the same seed. Directory
// i (from 1) is made in the root or in one of the directories made before
// it, picked at random, so the tree is nested several levels deep (a
// random recursive tree of 200 directories is about 10 deep) and most
// directories are not at the top. File j goes into directory j mod
// (dirs+1), the root being 0, so every directory holds files when there
// are enough. One file in 200 (at least one) is 1 to 3 MiB, the others 0
// to 8 KiB. Names are the bench's own (d0012, f00123.bin): plain ASCII,
// safe for batchQuote.
func planTree(s treeShape, seed uint64) *treePlan {
	rng := rand.New(rand.NewPCG(seed, 0x74726565)) // "tree"
	p := &treePlan{}
	paths := []string{""} // index 0 is the root
	for i := 1; i <= s.dirs; i++ {
		parent := paths[rng.IntN(i)]
		d := path.Join(parent, fmt.Sprintf("d%04d", i))
		paths = append(paths, d)
		p.dirs = append(p.dirs, d)
	}
	big := max(1, s.files/200)
	stride := max(1, s.files/big)
	for j := range s.files {
		size := rng.Int64N(8<<10 + 1)
		if j%stride == stride/2 && j/stride < big {
			size = 1<<20 + rng.Int64N(2<<20+1)
		}
		p.files = append(p.files, treeFile{
			rel:  path.Join(paths[j%(s.dirs+1)], fmt.Sprintf("f%05d.bin", j)),
			size: size,
		})
	}
	return p
}

func (p *treePlan) bytes() int64 {
	var n int64
	for _, f := range p.files {
		n += f.size
	}
	return n
}

func (p *treePlan) String() string {
	big := 0
	for _, f := range p.files {
		if f.size > 8<<10 {
			big++
		}
	}
	return fmt.Sprintf("a tree of %d files (%d of 1 to 3 MiB, the rest 0 to 8 KiB; %.1f MiB in all) in %d nested directories",
		len(p.files), big, float64(p.bytes())/(1<<20), len(p.dirs))
}

// write makes root (which must not exist) and the tree below it, files of
// seeded random bytes.
func (p *treePlan) write(root string, seed uint64) error {
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	for _, d := range p.dirs {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	rng := rand.NewChaCha8([32]byte{'t', 'r', 'e', 'e', byte(seed)})
	var buf []byte
	for _, f := range p.files {
		buf = slices.Grow(buf[:0], int(f.size))[:f.size]
		rng.Read(buf)
		if err := os.WriteFile(filepath.Join(root, f.rel), buf, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// sameTrees checks that dst holds exactly the directories and regular
// files of the plan, nothing else (no leftover temporary file, no
// symlink), each file byte-identical to its source in src.
func sameTrees(src, dst string, p *treePlan) error {
	want := map[string]bool{".": true} // relative path -> is a directory
	for _, d := range p.dirs {
		want[d] = true
	}
	for _, f := range p.files {
		want[f.rel] = false
	}
	seen := 0
	err := filepath.WalkDir(dst, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dst, name)
		if err != nil {
			return err
		}
		isDir, ok := want[rel]
		switch {
		case !ok:
			return fmt.Errorf("%s: %s is not in the source tree", dst, rel)
		case isDir && !d.IsDir():
			return fmt.Errorf("%s: %s is a %v, want a directory", dst, rel, d.Type())
		case !isDir && !d.Type().IsRegular():
			return fmt.Errorf("%s: %s is a %v, want a regular file", dst, rel, d.Type())
		}
		seen++
		if isDir {
			return nil
		}
		got, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		orig, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, orig) {
			return fmt.Errorf("%s: %s (%d bytes) differs from its source (%d bytes)", dst, rel, len(got), len(orig))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if seen != len(want) {
		for _, rel := range slices.Sorted(maps.Keys(want)) {
			if _, err := os.Lstat(filepath.Join(dst, rel)); err != nil {
				return fmt.Errorf("%s lacks %s (%d of the %d entries found)", dst, rel, seen, len(want))
			}
		}
		return fmt.Errorf("%s: %d entries seen, want %d", dst, seen, len(want))
	}
	return nil
}

func throughput(size int64) func(time.Duration, time.Duration) string {
	return func(median, _ time.Duration) string {
		return fmt.Sprintf("%.0f MiB/s", float64(size)/(1<<20)/median.Seconds())
	}
}

func perFile(count int) func(time.Duration, time.Duration) string {
	return func(median, _ time.Duration) string {
		return fmt.Sprintf("%.3f ms/file", float64(median.Microseconds())/1000/float64(count))
	}
}

// writeRandom writes size pseudo-random bytes (seeded, so the same every
// time) to path and returns their sha256.
func writeRandom(path string, size int64, seed uint64) (sum [sha256.Size]byte, err error) {
	f, err := os.Create(path)
	if err != nil {
		return sum, err
	}
	h := sha256.New()
	rng := rand.NewChaCha8([32]byte{'s', 'f', 't', 'p', 'e', 'r', byte(seed)})
	if _, err := io.CopyN(io.MultiWriter(f, h), rng, size); err != nil {
		f.Close()
		return sum, err
	}
	if err := f.Close(); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

// checkFile checks that path holds size bytes whose sha256 is sum.
func checkFile(path string, size int64, sum [sha256.Size]byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() != size {
		return fmt.Errorf("%s: %d bytes, want %d", path, fi.Size(), size)
	}
	got, err := fileSHA256(path)
	if err != nil {
		return err
	}
	if got != sum {
		return fmt.Errorf("%s: sha256 %x, want %x (the source's)", path, got, sum)
	}
	return nil
}

// writeSmallFiles makes dir holding count distinct random files of size
// bytes and returns their names, sorted.
func writeSmallFiles(dir string, count, size int, seed uint64) ([]string, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, uint64(size)))
	buf := make([]byte, size)
	var names []string
	for i := range count {
		name := fmt.Sprintf("f%05d.bin", i)
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// sameDirs checks that dst holds exactly the count files of src, each
// size bytes and byte-identical to its source. Comparing the bytes
// themselves is as strong as any checksum, and cheaper for small files.
func sameDirs(src, dst string, count, size int) error {
	ents, err := os.ReadDir(dst)
	if err != nil {
		return err
	}
	if len(ents) != count {
		return fmt.Errorf("%s holds %d entries, want %d", dst, len(ents), count)
	}
	for _, ent := range ents {
		got, err := os.ReadFile(filepath.Join(dst, ent.Name()))
		if err != nil {
			return err
		}
		if len(got) != size {
			return fmt.Errorf("%s: %d bytes, want %d", ent.Name(), len(got), size)
		}
		want, err := os.ReadFile(filepath.Join(src, ent.Name()))
		if err != nil {
			return fmt.Errorf("%s: unexpected file (%v)", ent.Name(), err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s differs from its source", ent.Name())
		}
	}
	return nil
}

// makeListDir makes a remote directory of count files, file i being i
// bytes long (sparse), and returns the listing a contender must report.
func makeListDir(e *env, dir string, count int) (map[string]int64, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	want := map[string]int64{}
	for i := range count {
		name := fmt.Sprintf("e%05d.dat", i)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		err = firstErr(f.Truncate(int64(i)), f.Close())
		if err != nil {
			return nil, err
		}
		want[name] = int64(i)
	}
	return want, e.srv.Chown(dir)
}

// checkListing compares a listing a contender returned with the one
// expected.
func checkListing(got []entry, want map[string]int64) error {
	seen := map[string]bool{}
	for _, g := range got {
		size, ok := want[g.name]
		switch {
		case !ok:
			return fmt.Errorf("listing holds %q, which is not in the directory", g.name)
		case seen[g.name]:
			return fmt.Errorf("listing holds %q twice", g.name)
		case size != g.size:
			return fmt.Errorf("listing gives %q %d bytes, want %d", g.name, g.size, size)
		}
		seen[g.name] = true
	}
	if len(seen) != len(want) {
		for _, n := range slices.Sorted(maps.Keys(want)) {
			if !seen[n] {
				return fmt.Errorf("listing of %d entries lacks %q (want %d entries)", len(got), n, len(want))
			}
		}
	}
	return nil
}

func freshDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Mkdir(dir, 0o755)
}

func fileSHA256(path string) (sum [sha256.Size]byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// human writes a size the way the workload names use it: 4KiB, 1GiB.
func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
