package driver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// What a dead sftper leaves behind.
//
// sftper removes its own temporary files on every way out but one: when
// it is killed (SIGKILL, the OOM killer, a crash), a GET's download file
// (.sftper-*.part beside its destination) and batch mode's private
// directories under $TMPDIR (the control socket's, askpass's) stay. Their
// names therefore say who made them:
//
//	.sftper-PID-START-HOST-RANDOM16.part   a GET's download
//	sftper-PID-START-HOST-RANDOM8          a private directory
//
// PID and START (field 22 of /proc/PID/stat, clock ticks after boot) name
// the sftper process; pid reuse cannot fool the pair. HOST is 8 hex digits
// of a hash of this boot's boot_id and this pid namespace: a process
// number means something only there, so an entry made on another machine
// (a shared network directory), before a reboot or in another container is
// never provably dead, and is left alone. RANDOM keeps the names
// unguessable.
//
// A later sftper removes an entry only when all of this holds: its name
// has exactly that form, with this machine's HOST; it belongs to the
// user sftper runs as; it is a regular file (a download) or a directory
// holding nothing but sockets sftper puts there (cm<N>, ssh's temporary
// cm<N>.XXXXXXXXXXXXXXXX, askpass); and no process has that pid with that
// start time, or only a zombie. Nothing can still be writing a dead
// sftper's download: sftp children die with sftper (Pdeathsig, in spawn),
// and so does the master.
//
// When: the first time a GET writes into a directory, that directory is
// swept, once per directory per run (sweepParts); the first time batch
// mode makes a private directory, $TMPDIR is swept, once per run
// (makeOwnDir). A sweep is one read of the directory's names; only names
// of that form cost more (an lstat, a read of /proc/PID/stat).

const (
	partPrefix, partSuffix = ".sftper-", ".part"
	partRandom             = 16 // hex digits
	dirPrefix              = "sftper-"
	dirRandom              = 8
)

// owner is the sftper process that made an entry.
type owner struct {
	pid   int
	start uint64 // clock ticks after boot
	host  string // 8 hex digits: this boot, this pid namespace
}

func (o owner) String() string { return fmt.Sprintf("%d-%d-%s", o.pid, o.start, o.host) }

// self is this sftper as an owner; an error means that it cannot tell,
// and then its entries are named so that no sweep ever touches them, and
// it sweeps nothing.
var self = sync.OnceValues(func() (owner, error) {
	pid := os.Getpid()
	start, _, err := procStat(pid)
	if err != nil {
		return owner{}, err
	}
	host, err := hostTag()
	if err != nil {
		return owner{}, err
	}
	return owner{pid: pid, start: start, host: host}, nil
})

// hostTag names where process numbers mean what they say: this boot of
// this machine, and this pid namespace.
func hostTag() (string, error) {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(string(boot)) + "\n" + ns))
	return hex.EncodeToString(sum[:4]), nil
}

// procStat reads the state (field 3) and start time (field 22) of process
// pid from /proc/PID/stat.
func procStat(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name, field 2, is in parentheses and may hold anything.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:])) // from field 3
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	start, err = strconv.ParseUint(f[22-3], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: start time: %v", pid, err)
	}
	return start, f[0][0], nil
}

// alive reports whether o may still be running: a process with o's pid
// and start time exists and is not a zombie. When that cannot be told
// (/proc/PID/stat unreadable for a reason other than absence), it says
// yes.
func alive(o owner) bool {
	start, state, err := procStat(o.pid)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return false
	}
	if err != nil {
		return true
	}
	return start == o.start && state != 'Z' && state != 'X'
}

var (
	decimal = regexp.MustCompile(`^(0|[1-9][0-9]{0,19})$`)
	hexTag  = regexp.MustCompile(`^[0-9a-f]+$`)
)

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
	if len(f) != 4 || !decimal.MatchString(f[0]) || !decimal.MatchString(f[1]) ||
		len(f[2]) != 8 || !hexTag.MatchString(f[2]) || len(f[3]) != random || !hexTag.MatchString(f[3]) {
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

func randomHex(digits int) string {
	b := make([]byte, digits/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// partPath names a GET's download file in dir.
func partPath(dir string) string {
	r := randomHex(partRandom)
	if me, err := self(); err == nil {
		return filepath.Join(dir, partPrefix+me.String()+"-"+r+partSuffix)
	}
	return filepath.Join(dir, partPrefix+r+partSuffix) // no owner: never swept
}

// swept is the set of directories whose leftover downloads this run has
// removed.
var swept struct {
	sync.Mutex
	dirs map[string]bool
}

// sweepParts removes from dir the downloads of dead sftpers, the first
// time it is called for dir.
func sweepParts(dir string, logf func(string, ...any)) {
	swept.Lock()
	done := swept.dirs[dir]
	if !done {
		if swept.dirs == nil {
			swept.dirs = map[string]bool{}
		}
		swept.dirs[dir] = true
	}
	swept.Unlock()
	if !done {
		sweep(dir, partPrefix, partSuffix, partRandom, removePart, logf)
	}
}

var sweptTemp sync.Once

// makeOwnDir makes a private directory (0700) in $TMPDIR, named for its
// owner, after removing, the first time in this run, those of dead
// sftpers.
func makeOwnDir(logf func(string, ...any)) (string, error) {
	me, err := self()
	if err != nil {
		return os.MkdirTemp("", dirPrefix) // no owner: never swept
	}
	tmp := os.TempDir()
	sweptTemp.Do(func() { sweep(tmp, dirPrefix, "", dirRandom, removeDir, logf) })
	for try := 0; ; try++ {
		dir := filepath.Join(tmp, dirPrefix+me.String()+"-"+randomHex(dirRandom))
		err := os.Mkdir(dir, 0o700)
		if err == nil || !errors.Is(err, fs.ErrExist) || try == 100 {
			return dir, err
		}
	}
}

// sweep removes, with remove, the entries of dir whose names say that a
// dead sftper of this machine made them and that belong to sftper's user.
// remove checks what the entry is and reports whether it removed it.
func sweep(dir, prefix, suffix string, random int, remove func(path string) bool, logf func(string, ...any)) {
	me, err := self()
	if err != nil {
		return
	}
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	type found struct {
		name string
		o    owner
	}
	var candidates []found
	for {
		names, err := f.Readdirnames(1024)
		for _, name := range names {
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			if o, ok := parseOwned(name, prefix, suffix, random); ok && o.host == me.host && o != me {
				candidates = append(candidates, found{name, o})
			}
		}
		if err != nil {
			break
		}
	}
	f.Close()
	for _, c := range candidates {
		p := filepath.Join(dir, c.name)
		fi, err := os.Lstat(p)
		if err != nil || !mine(fi) || alive(c.o) {
			continue
		}
		if remove(p) {
			logf("removed %s, left by sftper process %d, which is no longer running", p, c.o.pid)
		}
	}
}

// mine reports whether fi belongs to the user sftper runs as.
func mine(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// removePart removes a download file, if it is a regular file.
func removePart(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular() && os.Remove(p) == nil
}

// ownSocket is what sftper puts in its private directories: control
// sockets, ssh's temporary name for one while it makes it, and askpass's.
var ownSocket = regexp.MustCompile(`^(cm[1-9][0-9]*(\.[A-Za-z0-9]{16})?|askpass)$`)

// removeDir removes a private directory if it holds nothing but sockets
// of sftper's user with the names sftper gives them.
func removeDir(p string) bool {
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
		if err != nil || !ownSocket.MatchString(e.Name()) || fi.Mode().Type() != fs.ModeSocket || !mine(fi) {
			return false
		}
	}
	for _, e := range ents {
		os.Remove(filepath.Join(p, e.Name()))
	}
	return os.Remove(p) == nil
}

// logOf is where c logs.
func logOf(c Conn) func(string, ...any) {
	switch c := c.(type) {
	case *Session:
		return c.cfg.Log.Printf
	case *Scripts:
		return c.cfg.Log.Printf
	}
	return discard.Printf
}
