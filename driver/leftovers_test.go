package driver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
	if o, ok := parseOwned("sftper-1234-5678-0a1b2c3d-01234567", dirPrefix, "", dirRandom); !ok || o != (owner{1234, 5678, "0a1b2c3d"}) {
		t.Errorf("directory name: %v, %v", o, ok)
	}
	for _, name := range []string{"sftper-1234567890", "sftper-integration-1", "sftper-stderr-12", "sftper-1234-5678-0a1b2c3d-0123456789abcdef"} {
		if o, ok := parseOwned(name, dirPrefix, "", dirRandom); ok {
			t.Errorf("parseOwned(%q) = %v, want no match", name, o)
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
	p := partPath("/some/dir")
	if filepath.Dir(p) != "/some/dir" {
		t.Errorf("partPath put it in %s", filepath.Dir(p))
	}
	if o, ok := parseOwned(filepath.Base(p), partPrefix, partSuffix, partRandom); !ok || o != me {
		t.Errorf("partPath %q parses as %v, %v; want %v", p, o, ok, me)
	}
	t.Setenv("TMPDIR", t.TempDir())
	d, err := makeOwnDir(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := parseOwned(filepath.Base(d), dirPrefix, "", dirRandom); !ok || o != me {
		t.Errorf("makeOwnDir %q parses as %v, %v; want %v", d, o, ok, me)
	}
	if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("makeOwnDir: %v, %v", fi, err)
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
	start, _, err := procStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	zombie := owner{pid: cmd.Process.Pid, start: start, host: me.host}
	var ws syscall.WaitStatus
	syscall.Wait4(cmd.Process.Pid, &ws, syscall.WNOWAIT|syscall.WEXITED, nil)
	for {
		if _, state, _ := procStat(zombie.pid); state == 'Z' {
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
	if start, _, err := procStat(1); err == nil && !alive(owner{pid: 1, start: start}) {
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
	for _, d := range []string{mk("empty"), mk("sockets", "cm1", "cm12", "askpass", "cm3.AbCdEfGh01234567")} {
		if !removeDir(d) {
			t.Errorf("%s not removed", d)
		}
	}
	other := mk("other", "cm1", "ssh-agent")
	notSocket := mk("plain")
	os.WriteFile(filepath.Join(notSocket, "cm1"), nil, 0o600)
	badTemp := mk("badtemp", "cm1.short")
	for _, d := range []string{other, notSocket, badTemp} {
		if removeDir(d) {
			t.Errorf("%s removed", d)
		}
		if ents, _ := os.ReadDir(d); len(ents) == 0 {
			t.Errorf("%s emptied", d)
		}
	}
	f := filepath.Join(base, "file")
	os.WriteFile(f, nil, 0o600)
	if removeDir(f) {
		t.Error("a file removed as a directory")
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
				sweep(dir, partPrefix, partSuffix, partRandom, removePart, discard.Printf)
			}
		})
	}
	b.Run("already swept", func(b *testing.B) {
		dir := b.TempDir()
		sweepParts(dir, discard.Printf)
		for b.Loop() {
			sweepParts(dir, discard.Printf)
			partPath(dir)
		}
	})
}
