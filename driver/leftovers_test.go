package driver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseOwned(t *testing.T) {
	good := map[string]owner{
		".sftper-1234-5678-0a1b2c3d-0123456789abcdef.part":                    {1234, 5678, "0a1b2c3d"},
		".sftper-1-0-ffffffff-ffffffffffffffff.part":                          {1, 0, "ffffffff"},
		".sftper-4194304-18446744073709551615-00000000-0000000000000000.part": {4194304, 1<<64 - 1, "00000000"},
	}
	for name, want := range good {
		got, ok := parseOwned(name, partPrefix, partSuffix, partRandom)
		if !ok || got != want {
			t.Errorf("parseOwned(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{
		".sftper-x.part",
		".sftper-0123456789abcdef.part", // an older sftper's name
		".sftper-1234-5678-0a1b2c3d-0123456789abcdef.part.x",
		"x.sftper-1234-5678-0a1b2c3d-0123456789abcdef.part",
		".sftper-01234-5678-0a1b2c3d-0123456789abcdef.part", // leading zero
		".sftper-1234-05678-0a1b2c3d-0123456789abcdef.part",
		".sftper-0-5678-0a1b2c3d-0123456789abcdef.part",       // pid 0
		".sftper-4194305-5678-0a1b2c3d-0123456789abcdef.part", // over PID_MAX_LIMIT
		".sftper--1-5678-0a1b2c3d-0123456789abcdef.part",
		".sftper-+1-5678-0a1b2c3d-0123456789abcdef.part",
		".sftper-1234-5678-0A1B2C3D-0123456789abcdef.part", // upper case
		".sftper-1234-5678-0a1b2c3-0123456789abcdef.part",  // short host
		".sftper-1234-5678-0a1b2c3d-0123456789abcde.part",  // short random
		".sftper-1234-5678-0a1b2c3d-0123456789abcdefg.part",
		".sftper-1234-5678-0a1b2c3d-0123456789abcdef-1.part",
		".sftper-1234-99999999999999999999-0a1b2c3d-0123456789abcdef.part", // overflows
		".sftper-1234-5678-0a1b2c3d-0123456789abcdef",
		"sftper-1234-5678-0a1b2c3d-0123456789abcdef.part",
	} {
		if o, ok := parseOwned(name, partPrefix, partSuffix, partRandom); ok {
			t.Errorf("parseOwned(%q) = %v, want no match", name, o)
		}
	}
}

func TestParseOwnerLine(t *testing.T) {
	good := map[string]owner{
		"1234 5678 0a1b2c3d\n":                    {1234, 5678, "0a1b2c3d"},
		"1 0 ffffffff\n":                          {1, 0, "ffffffff"},
		"4194304 18446744073709551615 00000000\n": {4194304, 1<<64 - 1, "00000000"},
	}
	for line, want := range good {
		got, ok := parseOwnerLine([]byte(line))
		if !ok || got != want {
			t.Errorf("parseOwnerLine(%q) = %v, %v; want %v", line, got, ok, want)
		}
	}
	for _, line := range []string{
		"",
		"\n",
		"1234 5678 0a1b2c3d",     // no newline yet: being written
		"1234 5678 0a1b2c3",      // a part of it
		"1234 5678 0a1b2c3d\n\n", // two lines
		"1234 5678 0a1b2c3d\nx",
		"1234  5678 0a1b2c3d\n",
		" 1234 5678 0a1b2c3d\n",
		"1234 5678 0a1b2c3d \n",
		"1234\t5678 0a1b2c3d\n",
		"1234 5678 0a1b2c3d\r\n",
		"1234-5678-0a1b2c3d\n",
		"01234 5678 0a1b2c3d\n",
		"0 5678 0a1b2c3d\n",
		"4194305 5678 0a1b2c3d\n",
		"-1 5678 0a1b2c3d\n",
		"1234 5678 0A1B2C3D\n",
		"1234 5678 0a1b2c3d 0123\n",
		"1234 99999999999999999999 0a1b2c3d\n",
		"1234 5678 0a1b2c3d\n" + strings.Repeat(" ", ownerMax),
	} {
		if o, ok := parseOwnerLine([]byte(line)); ok {
			t.Errorf("parseOwnerLine(%q) = %v, want no match", line, o)
		}
	}
}

func TestParseDirName(t *testing.T) {
	for _, name := range []string{"sftper-0123456789", "sftper-abcdef0123"} {
		if !dirName.MatchString(name) {
			t.Errorf("%q is not a directory name", name)
		}
	}
	for _, name := range []string{
		"sftper-", "sftper-012345678", "sftper-0123456789a", "sftper-ABCDEF0123", "sftper-ghijklmnop",
		"sftper-integration-1", "sftper-stderr-12", "sftper-demo-123", "xsftper-0123456789", "sftper-0123456789/",
		"sftper-1234-5678-0a1b2c3d-01234567", ".sftper-0123456789",
	} {
		if dirName.MatchString(name) {
			t.Errorf("%q is a directory name", name)
		}
	}
}

// Names made are names parsed, with this process as owner.
func TestOwnNames(t *testing.T) {
	me, err := self()
	if err != nil {
		t.Fatal(err)
	}
	if me.pid != os.Getpid() || len(me.host) != 8 {
		t.Fatalf("self = %v", me)
	}
	p := partName()
	if o, ok := parseOwned(p, partPrefix, partSuffix, partRandom); !ok || o != me {
		t.Errorf("partName %q parses as %v, %v; want %v", p, o, ok, me)
	}
	if len(p) > partNameMax {
		t.Errorf("partName %q is %d bytes, over partNameMax %d", p, len(p), partNameMax)
	}
	longest := owner{pid: 4194304, start: ^uint64(0), host: me.host}
	if n := len(partPrefix + longest.String() + "-" + randomHex(partRandom) + partSuffix); n != partNameMax {
		t.Errorf("the longest name is %d bytes, partNameMax %d", n, partNameMax)
	}
	t.Setenv("TMPDIR", t.TempDir())
	d, err := makeOwnDir(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if base := filepath.Base(d); !dirName.MatchString(base) || len(base) != len("sftper-")+10 {
		t.Errorf("makeOwnDir made %q", d)
	}
	if o, ok := readOwner(d); !ok || o != me {
		t.Errorf("the owner file of %q reads as %v, %v; want %v", d, o, ok, me)
	}
	if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("makeOwnDir: %v, %v", fi, err)
	}
	if fi, err := os.Lstat(filepath.Join(d, ownerFile)); err != nil || fi.Mode() != 0o600 {
		t.Errorf("owner file: %v, %v", fi, err)
	}
	if ents, _ := os.ReadDir(d); len(ents) != 1 {
		t.Errorf("makeOwnDir's directory holds %v", ents)
	}
}

// TestOwnDirLength: the longest $TMPDIR whose private directory still
// takes a control socket path (decideSharing's check) is 64 bytes.
func TestOwnDirLength(t *testing.T) {
	base := t.TempDir()
	for _, n := range []int{64, 65} {
		tmp := base + "/" + strings.Repeat("t", n-len(base)-1)
		if len(tmp) != n {
			t.Skipf("the test's temporary directory %s is too long", base)
		}
		if err := os.Mkdir(tmp, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Setenv("TMPDIR", tmp)
		d, err := makeOwnDir(t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		if fits := socketPath.MatchString(filepath.Join(d, "cm0000")); fits != (n <= 64) {
			t.Errorf("TMPDIR of %d bytes: socket path fits: %v", n, fits)
		}
	}
}

func TestAlive(t *testing.T) {
	me, err := self()
	if err != nil {
		t.Fatal(err)
	}
	if !alive(me) {
		t.Error("this process is not alive")
	}
	reused := me
	reused.start++
	if alive(reused) {
		t.Error("this pid with another start time is alive")
	}
	// A child that has exited but is not reaped yet: a zombie, dead.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start, _, err := procStart(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	zombie := owner{pid: cmd.Process.Pid, start: start, host: me.host}
	var ws syscall.WaitStatus
	syscall.Wait4(cmd.Process.Pid, &ws, syscall.WNOWAIT|syscall.WEXITED, nil)
	for {
		if _, z, _ := procStart(zombie.pid); z {
			break
		}
	}
	if alive(zombie) {
		t.Error("a zombie is alive")
	}
	cmd.Wait()
	if alive(zombie) {
		t.Error("a reaped process is alive")
	}
	// pid 1 of this namespace, with its start time.
	if start, _, err := procStart(1); err == nil && !alive(owner{pid: 1, start: start}) {
		t.Error("pid 1 is not alive")
	}
}

// TestSweep: what a sweep removes and what it leaves.
func TestSweep(t *testing.T) {
	me, err := self()
	if err != nil {
		t.Fatal(err)
	}
	dead := me
	dead.start++
	dir := t.TempDir()
	name := func(o owner, host string) string {
		o.host = host
		return partPrefix + o.String() + "-" + randomHex(partRandom) + partSuffix
	}
	gone := name(dead, me.host)
	kept := []string{name(me, me.host), name(dead, "0badc0de"), ".sftper-x.part", ".sftper-" + randomHex(16) + ".part"}
	for _, n := range append(kept, gone) {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	notFile := name(dead, me.host)
	os.Mkdir(filepath.Join(dir, notFile), 0o700)
	link := name(dead, me.host)
	os.Symlink(filepath.Join(dir, gone), filepath.Join(dir, link))
	kept = append(kept, notFile, link)
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }
	sweepParts(dir, logf)
	sweeps.Wait() // it runs in the background
	if _, err := os.Lstat(filepath.Join(dir, gone)); err == nil {
		t.Errorf("%s is still there", gone)
	}
	for _, n := range kept {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if len(logged) != 1 || !strings.Contains(logged[0], gone) {
		t.Errorf("logged %q", logged)
	}
	// Once per directory.
	again := name(dead, me.host)
	os.WriteFile(filepath.Join(dir, again), nil, 0o600)
	sweepParts(dir, logf)
	sweeps.Wait()
	if _, err := os.Lstat(filepath.Join(dir, again)); err != nil {
		t.Errorf("a second sweep of the same directory: %v", err)
	}
}

// TestRemoveDir: only a directory of sftper's sockets goes.
func TestRemoveDir(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, sockets ...string) string {
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, s := range sockets {
			fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: filepath.Join(d, s)}); err != nil {
				t.Fatal(err)
			}
			syscall.Close(fd)
		}
		return d
	}
	withOwner := mk("owned", "cm1", "askpass")
	os.WriteFile(filepath.Join(withOwner, ownerFile), []byte("1234 5678 0a1b2c3d\n"), 0o600)
	for _, d := range []string{mk("empty"), mk("sockets", "cm1", "cm12", "askpass", "cm3.AbCdEfGh01234567"), withOwner} {
		if !removeDir(d, t.Logf) {
			t.Errorf("%s not removed", d)
		}
	}
	other := mk("other", "cm1", "ssh-agent")
	notSocket := mk("plain")
	os.WriteFile(filepath.Join(notSocket, "cm1"), nil, 0o600)
	badTemp := mk("badtemp", "cm1.short")
	ownerSocket := mk("ownersocket", ownerFile)
	ownerDir := mk("ownerdir")
	os.Mkdir(filepath.Join(ownerDir, ownerFile), 0o700)
	bigOwner := mk("bigowner")
	os.WriteFile(filepath.Join(bigOwner, ownerFile), make([]byte, ownerMax+1), 0o600)
	for _, d := range []string{other, notSocket, badTemp, ownerSocket, ownerDir, bigOwner} {
		if removeDir(d, t.Logf) {
			t.Errorf("%s removed", d)
		}
		if ents, _ := os.ReadDir(d); len(ents) == 0 {
			t.Errorf("%s emptied", d)
		}
	}
	f := filepath.Join(base, "file")
	os.WriteFile(f, nil, 0o600)
	if removeDir(f, t.Logf) {
		t.Error("a file removed as a directory")
	}
}

// TestSweepDirs: which private directories a sweep of $TMPDIR removes.
func TestSweepDirs(t *testing.T) {
	me, err := self()
	if err != nil {
		t.Fatal(err)
	}
	dead := me
	dead.start++
	elsewhere := dead
	elsewhere.host = "0badc0de"
	tmp := t.TempDir()
	mk := func(name string, owner []byte, sockets ...string) string {
		if name == "" {
			name = dirPrefix + randomHex(dirRandom)
		}
		d := filepath.Join(tmp, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != nil {
			if err := os.WriteFile(filepath.Join(d, ownerFile), owner, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range sockets {
			fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: filepath.Join(d, s)}); err != nil {
				t.Fatal(err)
			}
			syscall.Close(fd)
		}
		return name
	}
	gone := []string{
		mk("", []byte(dead.line()), "cm1", "askpass"),
		mk("", []byte(dead.line())),
	}
	symlinked := mk("", nil, "cm1")
	os.WriteFile(filepath.Join(tmp, "owner-elsewhere"), []byte(dead.line()), 0o600)
	os.Symlink(filepath.Join(tmp, "owner-elsewhere"), filepath.Join(tmp, symlinked, ownerFile))
	fifo := mk("", nil)
	syscall.Mkfifo(filepath.Join(tmp, fifo, ownerFile), 0o600)
	linkDir := dirPrefix + randomHex(dirRandom)
	os.Symlink(filepath.Join(tmp, gone[0]), filepath.Join(tmp, linkDir))
	kept := []string{
		mk("", nil, "cm1"), // no owner file: being made, or not sftper's
		mk("", []byte{}),   // owner file not written yet
		mk("", []byte(strings.TrimSuffix(dead.line(), "\n"))), // nor all of it
		mk("", []byte(me.line()), "cm1"),                      // a live sftper
		mk("", []byte(elsewhere.line())),                      // another machine
		mk("", []byte(dead.line()), "cm1", "notes"),           // what else is in it
		mk("", []byte(dead.line()+dead.line())),
		mk("sftper-"+randomHex(8), []byte(dead.line())),
		mk("sftper-"+randomHex(12), []byte(dead.line())),
		mk("sftper-x", []byte(dead.line())),
		mk(dirPrefix+dead.String()+"-"+randomHex(8), nil), // named for its owner, as briefly before
		symlinked, fifo, linkDir,
	}
	var logged []string
	sweepDirs(tmp, func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) })
	for _, n := range gone {
		if _, err := os.Lstat(filepath.Join(tmp, n)); err == nil {
			t.Errorf("%s is still there", n)
		}
	}
	for _, n := range kept {
		if _, err := os.Lstat(filepath.Join(tmp, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if len(logged) != len(gone) {
		t.Errorf("logged %q", logged)
	}
}

// BenchmarkSweepParts: the one sweep of a directory of 1,000 files, none
// of them a leftover (-benchtime: sweeps a fresh set each time).
func BenchmarkSweepParts(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		dir := b.TempDir()
		for i := range n {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d", i)), nil, 0o600)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				sweepPartsNow(dir, discard.Printf)
			}
		})
	}
	b.Run("already swept", func(b *testing.B) {
		dir := b.TempDir()
		sweepParts(dir, discard.Printf)
		for b.Loop() {
			sweepParts(dir, discard.Printf)
			partName()
		}
	})
}

// A dead sftper's directory whose master still runs (macOS, which has no
// Pdeathsig, leaves one after a kill -9): the sweep asks the real master
// to exit and then removes the directory; a master that refuses keeps its
// directory.
func TestSweepStopsLeftoverMaster(t *testing.T) {
	me, err := self()
	if err != nil {
		t.Fatal(err)
	}
	dead := me
	dead.start++
	srv := startSSHD(t)
	tmp := t.TempDir()
	leftover := func(env []string, opts ...string) (string, *realMaster) {
		d := filepath.Join(tmp, dirPrefix+randomHex(dirRandom))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := writeOwner(d, dead); err != nil {
			t.Fatal(err)
		}
		return d, startRealMaster(t, srv, filepath.Join(d, "cm1"), env, opts...)
	}
	stops, stopping := leftover(nil, "-o", "ControlMaster=yes")
	refuses, refusing := leftover([]string{"SSH_ASKPASS=/bin/false", "SSH_ASKPASS_REQUIRE=force"}, "-o", "ControlMaster=ask")
	var logged []string
	sweepDirs(tmp, func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) })
	select {
	case <-stopping.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the leftover master still runs 5 s after the sweep")
	}
	if _, err := os.Lstat(stops); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stopped master's directory: %v, want it removed", err)
	}
	select {
	case <-refusing.exited:
		t.Error("the master that refused to exit exited")
	default:
	}
	if _, err := os.Lstat(filepath.Join(refuses, "cm1")); err != nil {
		t.Errorf("the refusing master's socket: %v, want it kept", err)
	}
	all := strings.Join(logged, "\n")
	if !strings.Contains(all, "stopped the connection master") || !strings.Contains(all, "did not stop") {
		t.Errorf("the sweep logged:\n%s", all)
	}
}
