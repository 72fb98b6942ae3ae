package driver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// What a dead sftper leaves behind.
//
// sftper removes its own temporary files on every way out but one: when
// it is killed (SIGKILL, the OOM killer, a crash), a GET's download file
// (.sftper-*.part beside its destination) and batch mode's private
// directories under $TMPDIR (the control socket's, askpass's) stay. Each
// therefore says who made it, PID START HOST: a download in its name, a
// directory in a file inside it, written before anything else is put
// there:
//
//	.sftper-PID-START-HOST-RANDOM16.part   a GET's download
//	sftper-RANDOM10/owner                  a private directory's owner,
//	                                       one line "PID START HOST"
//
// A directory's name stays as short as os.MkdirTemp's (sftper- and 10
// characters): it holds the control socket, whose whole path must fit in
// a Unix socket's 108 bytes with the 17 that ssh appends (socketPath), and
// every byte of the name is one $TMPDIR cannot have.
//
// PID and START (the process's start time as the kernel keeps it: on Linux
// field 22 of /proc/PID/stat, clock ticks after boot; on macOS and FreeBSD
// microseconds since the epoch, from sysctl kern.proc.pid) name the sftper
// process; pid reuse cannot fool the pair. HOST is 8 hex digits of a hash
// of what makes process numbers mean something (on Linux this boot's
// boot_id and this pid namespace; see hostTag in proc_*.go), so an entry
// made on another machine (a shared network directory), before a reboot or
// in another container is never provably dead, and is left alone. RANDOM (hex digits) keeps the
// names unique and unguessable.
//
// A later sftper removes an entry only when all of this holds: its name
// has exactly that form; it belongs to the user sftper runs as; it names
// (a download) or holds (a directory) its owner, with this machine's
// HOST; it is a regular file (a download) or a directory holding nothing
// but its owner file (a regular file of that user, at most ownerMax bytes)
// and sockets of that user that sftper puts there (cm<N>, ssh's temporary
// cm<N>.XXXXXXXXXXXXXXXX, askpass); and no process has that pid with that
// start time, or only a zombie. A directory without a readable,
// well-formed owner file is never removed: it may be one that a live
// sftper is making right now, or another program's. Nothing can still be
// writing a dead sftper's download: sftp children die with sftper
// (Pdeathsig, in process.go), and so does the master.
//
// When: the first time a GET writes into a directory, that directory is
// swept, once per directory per run (sweepParts); the first time batch
// mode makes a private directory, $TMPDIR is swept, once per run
// (makeOwnDir). A sweep is one read of the directory's names; only names
// of those forms cost more (an lstat, for a directory a read of its owner
// file, a read of /proc/PID/stat).

const (
	partPrefix, partSuffix = ".sftper-", ".part"
	partRandom             = 16 // hex digits
	dirPrefix              = "sftper-"
	dirRandom              = 10 // hex digits: as long as os.MkdirTemp's names
	ownerFile              = "owner"
	ownerMax               = 64 // bytes; "PID START HOST\n" takes at most 38
)

// owner is the sftper process that made an entry.
type owner struct {
	pid   int
	start uint64 // clock ticks after boot
	host  string // 8 hex digits: this boot, this pid namespace
}

func (o owner) String() string { return fmt.Sprintf("%d-%d-%s", o.pid, o.start, o.host) }

// line is o as an owner file holds it.
func (o owner) line() string { return fmt.Sprintf("%d %d %s\n", o.pid, o.start, o.host) }

// self is this sftper as an owner; an error means that it cannot tell,
// and then its entries are named so that no sweep ever touches them, and
// it sweeps nothing.
var self = sync.OnceValues(func() (owner, error) {
	host, err := hostTag() // see proc_*.go
	if err != nil {
		return owner{}, err
	}
	pid := os.Getpid()
	start, _, err := procStart(pid)
	if err != nil {
		return owner{}, err
	}
	return owner{pid: pid, start: start, host: host}, nil
})

// alive reports whether o may still be running: a process with o's pid
// and start time exists and is not a zombie. When that cannot be told
// (/proc/PID/stat unreadable for a reason other than absence), it says
// yes.
func alive(o owner) bool {
	start, zombie, err := procStart(o.pid)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return false
	}
	if err != nil {
		return true
	}
	return start == o.start && !zombie
}

var (
	decimal = regexp.MustCompile(`^(0|[1-9][0-9]{0,19})$`)
	hexTag  = regexp.MustCompile(`^[0-9a-f]+$`)
	dirName = regexp.MustCompile(`^` + dirPrefix + `[0-9a-f]{` + strconv.Itoa(dirRandom) + `}$`)
)

// parseOwner reads an owner out of its three fields: PID and START in
// decimal without leading zeros, HOST as 8 hex digits.
func parseOwner(f []string) (owner, bool) {
	if len(f) != 3 || !decimal.MatchString(f[0]) || !decimal.MatchString(f[1]) ||
		len(f[2]) != 8 || !hexTag.MatchString(f[2]) {
		return owner{}, false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 || pid > 1<<22 { // PID_MAX_LIMIT
		return owner{}, false
	}
	start, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return owner{}, false
	}
	return owner{pid: pid, start: start, host: f[2]}, true
}

// parseOwned reads the owner out of a name of the form
// prefix PID-START-HOST-RANDOM suffix, RANDOM being random hex digits.
func parseOwned(name, prefix, suffix string, random int) (owner, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return owner{}, false
	}
	if rest, ok = strings.CutSuffix(rest, suffix); !ok {
		return owner{}, false
	}
	f := strings.Split(rest, "-")
	if len(f) != 4 || len(f[3]) != random || !hexTag.MatchString(f[3]) {
		return owner{}, false
	}
	return parseOwner(f[:3])
}

// parseOwnerLine reads an owner file's contents: exactly one line,
// "PID START HOST", single spaces, ending in a newline (a file read while
// its owner writes it is not yet well-formed).
func parseOwnerLine(b []byte) (owner, bool) {
	s, ok := strings.CutSuffix(string(b), "\n")
	if !ok || len(b) > ownerMax {
		return owner{}, false
	}
	return parseOwner(strings.Split(s, " "))
}

func randomHex(digits int) string {
	b := make([]byte, digits/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// partName names a GET's download file.
func partName() string {
	r := randomHex(partRandom)
	if me, err := self(); err == nil {
		return partPrefix + me.String() + "-" + r + partSuffix
	}
	return partPrefix + r + partSuffix // no owner: never swept
}

// partNameMax is the longest name partName gives: a pid of up to 7 digits
// (Linux's pid_max is at most 2^22), a start time of up to 20 (a uint64),
// the 8-digit HOST, the random digits and the separators.
const partNameMax = len(partPrefix) + 7 + 1 + 20 + 1 + 8 + 1 + partRandom + len(partSuffix)

// swept is the set of directories whose leftover downloads this run has
// removed.
var swept struct {
	sync.Mutex
	dirs map[string]bool
}

// sweptMax bounds the set of directories remembered as swept: a run that
// downloads into more directories than this forgets them all and may sweep
// a directory again, which costs a read of its names and is otherwise
// harmless.
const sweptMax = 4096

// sweepParts removes from dir the downloads of dead sftpers, the first
// time it is called for dir, in the background: the GET that asked does
// not wait for a read of what may be a huge directory, and the sweep only
// ever touches names of dead owners, never this run's.
func sweepParts(dir string, logf func(string, ...any)) {
	swept.Lock()
	done := swept.dirs[dir]
	if !done {
		if swept.dirs == nil || len(swept.dirs) >= sweptMax {
			swept.dirs = map[string]bool{}
		}
		swept.dirs[dir] = true
	}
	swept.Unlock()
	if !done {
		sweeps.Add(1)
		go func() {
			defer sweeps.Done()
			sweepPartsNow(dir, logf)
		}()
	}
}

// sweeps counts the sweeps running; Close waits for them, so that a sweep
// is never cut short by the end of the run.
var sweeps sync.WaitGroup

// partOwner is the owner that a download's name gives, if it has the form
// of one.
func partOwner(name string) (owner, bool) {
	return parseOwned(name, partPrefix, partSuffix, partRandom)
}

var sweptTemp sync.Once

// makeOwnDir makes a private directory (0700) in $TMPDIR with its owner
// file, after removing, the first time in this run, those of dead
// sftpers.
func makeOwnDir(logf func(string, ...any)) (string, error) {
	me, err := self()
	if err != nil {
		return os.MkdirTemp("", dirPrefix) // no owner file: never swept
	}
	tmp := os.TempDir()
	sweptTemp.Do(func() { sweepDirs(tmp, logf) })
	for try := 0; ; try++ {
		dir := filepath.Join(tmp, dirPrefix+randomHex(dirRandom))
		err := os.Mkdir(dir, 0o700)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		if err != nil {
			return "", err
		}
		if err := writeOwner(dir, me); err != nil {
			os.Remove(filepath.Join(dir, ownerFile))
			os.Remove(dir)
			return "", err
		}
		return dir, nil
	}
}

// writeOwner records o as the owner of the new directory dir.
func writeOwner(dir string, o owner) error {
	f, err := os.OpenFile(filepath.Join(dir, ownerFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(o.line())
	if e := f.Close(); err == nil {
		err = e
	}
	return err
}

// readOwner reads the owner file of directory dir: a regular file of
// sftper's user, at most ownerMax bytes, one well-formed line.
func readOwner(dir string) (owner, bool) {
	// O_NONBLOCK: a FIFO of that name must not stop the sweep.
	f, err := os.OpenFile(filepath.Join(dir, ownerFile), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return owner{}, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || !mine(fi) || fi.Size() > ownerMax {
		return owner{}, false
	}
	b := make([]byte, ownerMax+1)
	n, _ := io.ReadFull(f, b)
	return parseOwnerLine(b[:n])
}

// sweepDirs removes from dir (the temporary directory) the private
// directories of dead sftpers.
func sweepDirs(dir string, logf func(string, ...any)) {
	sweep(dir, dirName.MatchString, func(p string, fi fs.FileInfo) (owner, bool) {
		if !fi.IsDir() {
			return owner{}, false
		}
		return readOwner(p)
	}, func(p string) bool { return removeDir(p, logf) }, logf)
}

// sweep removes, with remove, the entries of dir whose names match, that
// belong to sftper's user and whose owner (ownerOf, given the entry's
// path and Lstat) is a dead sftper of this machine. remove checks what
// the entry holds and reports whether it removed it.
func sweep(dir string, match func(name string) bool, ownerOf func(path string, fi fs.FileInfo) (owner, bool),
	remove func(path string) bool, logf func(string, ...any)) {
	me, err := self()
	if err != nil {
		return
	}
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	var candidates []string
	for {
		names, err := f.Readdirnames(1024)
		for _, name := range names {
			if match(name) {
				candidates = append(candidates, name)
			}
		}
		if err != nil {
			break
		}
	}
	f.Close()
	for _, name := range candidates {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if err != nil || !mine(fi) {
			continue
		}
		o, ok := ownerOf(p, fi)
		if !ok || o.host != me.host || o == me || alive(o) {
			continue
		}
		if remove(p) {
			logf("removed %s, left by sftper process %d, which is no longer running", p, o.pid)
		}
	}
}

// mine reports whether fi belongs to the user sftper runs as.
func mine(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// sweepPartsNow is one sweep of dir for downloads.
func sweepPartsNow(dir string, logf func(string, ...any)) {
	sweep(dir, func(name string) bool {
		_, ok := partOwner(name)
		return ok
	}, func(p string, _ fs.FileInfo) (owner, bool) {
		return partOwner(filepath.Base(p))
	}, removePart, logf)
}

// removePart removes a download file, if it is a regular file.
func removePart(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular() && os.Remove(p) == nil
}

// ownSocket is what sftper puts in its private directories: control
// sockets, ssh's temporary name for one while it makes it, and askpass's.
var ownSocket = regexp.MustCompile(`^(cm[1-9][0-9]*(\.[A-Za-z0-9]{16})?|askpass)$`)

// removeDir removes a private directory if it holds nothing but its owner
// file and sockets of sftper's user with the names sftper gives them, once
// any connection master still listening on a cm<N> socket there has
// agreed to exit (stopMaster, muxstop.go); if one will not, the directory
// stays, so that the master can still be reached. The
// owner file goes last, so that a removal cut short leaves a directory
// that a later sweep still recognises.
func removeDir(p string, logf func(string, ...any)) bool {
	fi, err := os.Lstat(p)
	if err != nil || !fi.IsDir() {
		return false
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return false
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !mine(fi) {
			return false
		}
		switch {
		case e.Name() == ownerFile && fi.Mode().IsRegular() && fi.Size() <= ownerMax:
		case ownSocket.MatchString(e.Name()) && fi.Mode().Type() == fs.ModeSocket:
		default:
			return false
		}
	}
	// A master still listening there outlived its sftper (no
	// parent-death signal: macOS): it is asked to exit first, and a
	// directory whose master will not go is left, socket and all, so
	// that it can still be reached.
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "cm") || strings.Contains(e.Name(), ".") {
			continue
		}
		err := stopMaster(filepath.Join(p, e.Name()), masterStopTimeout)
		switch {
		case err == nil:
			logf("stopped the connection master that a dead sftper left at %s", filepath.Join(p, e.Name()))
		case !errors.Is(err, errNoMaster):
			logf("left %s: its connection master did not stop: %v", p, err)
			return false
		}
	}
	for _, e := range ents {
		if e.Name() != ownerFile {
			os.Remove(filepath.Join(p, e.Name()))
		}
	}
	os.Remove(filepath.Join(p, ownerFile))
	return os.Remove(p) == nil
}

// masterStopTimeout bounds the exchange with one leftover master.
const masterStopTimeout = 2 * time.Second

// The GET download files, for package command.

// PartName names a GET's download file, beside its destination: see
// leftovers.go for the name's form and who may remove it.
func PartName() string { return partName() }

// PartNameMax is the longest name PartName gives.
const PartNameMax = partNameMax

// SweepParts removes the downloads of dead sftpers from dir, the first
// time it is called for dir in this run, in the background; Close of either
// Conn waits for the sweeps.
func SweepParts(dir string, logf func(string, ...any)) { sweepParts(dir, logf) }
