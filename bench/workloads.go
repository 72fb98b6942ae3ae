package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// opKind is what one transfer does.
type opKind int

const (
	opPut opKind = iota // local -> remote
	opGet               // remote -> local
)

// op is one transfer in terms every contender can translate into its own
// language (an sftp batch line, a JSON request, a library call...). Both
// paths are absolute: the server runs on this machine, so a remote path is
// also where the file lies on the local disk, which is how workloads set
// up and verify the remote side without going through any contender.
type op struct {
	kind   opKind
	local  string
	remote string
}

// workload is one timed job. setup runs once, before the first run; then,
// for every run of every contender: reset (untimed), the ops (timed, all
// in one fresh session of the contender), verify and clean (untimed).
// teardown runs once at the end and frees the inputs.
type workload struct {
	name  string
	about string
	ops   []op // filled by setup

	setup    func(e *env) error
	reset    func(e *env) error
	verify   func(e *env) error
	clean    func(e *env) error
	teardown func(e *env) error
}

// workloads returns the jobs to time, at full size or (smoke) tiny.
func workloads(smoke bool) []*workload {
	count, small, big := 500, 4096, int64(256<<20)
	if smoke {
		count, big = 20, 4<<20
	}
	return []*workload{
		manySmallPuts(count, small),
		bigPutGet(big),
	}
}

// manySmallPuts uploads count distinct random files of size bytes each
// into a fresh remote directory: per-file overhead, round trips and
// pipelining dominate, not bandwidth.
func manySmallPuts(count, size int) *workload {
	w := &workload{
		name:  fmt.Sprintf("put %dx%s", count, human(int64(size))),
		about: fmt.Sprintf("%d PUTs of distinct %d-byte random files into a fresh remote directory", count, size),
	}
	var srcDir, dstDir string
	w.setup = func(e *env) error {
		srcDir = filepath.Join(e.local, "small-src")
		dstDir = filepath.Join(e.srv.Home, "small-dst")
		if err := os.Mkdir(srcDir, 0o755); err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(1, uint64(size)))
		buf := make([]byte, size)
		w.ops = w.ops[:0]
		for i := range count {
			name := fmt.Sprintf("f%05d.bin", i)
			for j := range buf {
				buf[j] = byte(rng.Uint32())
			}
			local := filepath.Join(srcDir, name)
			if err := os.WriteFile(local, buf, 0o644); err != nil {
				return err
			}
			w.ops = append(w.ops, op{kind: opPut, local: local, remote: filepath.Join(dstDir, name)})
		}
		return nil
	}
	w.reset = func(e *env) error {
		if err := os.RemoveAll(dstDir); err != nil {
			return err
		}
		if err := os.Mkdir(dstDir, 0o755); err != nil {
			return err
		}
		return e.srv.Chown(dstDir)
	}
	w.verify = func(e *env) error {
		ents, err := os.ReadDir(dstDir)
		if err != nil {
			return err
		}
		if len(ents) != count {
			return fmt.Errorf("remote directory holds %d entries, want %d", len(ents), count)
		}
		for _, o := range w.ops {
			got, err := os.ReadFile(o.remote)
			if err != nil {
				return err
			}
			if len(got) != size {
				return fmt.Errorf("%s: %d bytes, want %d", o.remote, len(got), size)
			}
			want, err := os.ReadFile(o.local)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, want) {
				return fmt.Errorf("%s differs from %s", o.remote, o.local)
			}
		}
		return nil
	}
	w.clean = func(e *env) error { return os.RemoveAll(dstDir) }
	w.teardown = func(e *env) error {
		return firstErr(os.RemoveAll(dstDir), os.RemoveAll(srcDir))
	}
	return w
}

// bigPutGet uploads one large random file and downloads it again in the
// same session: bulk throughput both ways.
func bigPutGet(size int64) *workload {
	w := &workload{
		name:  "put+get " + human(size),
		about: fmt.Sprintf("one PUT then one GET of the same %d-byte random file, in one session", size),
	}
	var src, remote, back string
	var srcSum [sha256.Size]byte
	w.setup = func(e *env) error {
		src = filepath.Join(e.local, "big.src")
		remote = filepath.Join(e.srv.Home, "big.remote")
		back = filepath.Join(e.local, "big.back")
		f, err := os.Create(src)
		if err != nil {
			return err
		}
		h := sha256.New()
		rng := rand.NewChaCha8([32]byte{'s', 'f', 't', 'p', 'e', 'r'})
		if _, err := io.CopyN(io.MultiWriter(f, h), rng, size); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		h.Sum(srcSum[:0])
		w.ops = []op{
			{kind: opPut, local: src, remote: remote},
			{kind: opGet, local: back, remote: remote},
		}
		return nil
	}
	w.clean = func(e *env) error {
		return firstErr(removeIfExists(remote), removeIfExists(back))
	}
	w.reset = w.clean
	w.verify = func(e *env) error {
		fi, err := os.Stat(remote)
		if err != nil {
			return err
		}
		if fi.Size() != size {
			return fmt.Errorf("remote file: %d bytes, want %d", fi.Size(), size)
		}
		got, err := fileSHA256(back)
		if err != nil {
			return err
		}
		if got != srcSum {
			return fmt.Errorf("downloaded file's sha256 %x differs from the source's %x", got, srcSum)
		}
		return nil
	}
	w.teardown = func(e *env) error {
		return firstErr(w.clean(e), removeIfExists(src))
	}
	return w
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

// human writes a size the way the workload names use it: 4KiB, 256MiB.
func human(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
