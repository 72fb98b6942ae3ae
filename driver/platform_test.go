package driver

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The mechanisms that differ between platforms (proc_*.go, exitwatch_*.go,
// askpass_*.go, pipes*.go, procattr_*.go), each tested through the
// functions every platform has, so that each test runs wherever the
// package is tested.

// startSleep starts a child that waits until it is killed.
func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

func TestWatchProc(t *testing.T) {
	cmd := startSleep(t)
	w, err := watchProc(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.Exited() {
		t.Fatal("a running process has exited")
	}
	select {
	case <-w.Gone():
		t.Fatal("Gone before the process exited")
	case <-time.After(100 * time.Millisecond):
	}
	cmd.Process.Kill()
	select {
	case <-w.Gone():
	case <-time.After(5 * time.Second):
		t.Fatal("Gone not closed 5 s after the process was killed")
	}
	// Exited asks the kernel itself: true once the process has gone,
	// whether or not it has been reaped yet.
	if !w.Exited() {
		t.Error("Exited is false after Gone")
	}
	cmd.Wait()
	if _, err := watchProc(cmd.Process.Pid); err == nil {
		t.Error("a reaped process can be watched")
	}
}

func TestWatchProcExitedWithoutGoroutine(t *testing.T) {
	cmd := startSleep(t)
	w, err := watchProc(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cmd.Process.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for !w.Exited() {
		if time.Now().After(deadline) {
			t.Fatal("Exited still false 5 s after the kill")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWatchExitStop(t *testing.T) {
	cmd := startSleep(t)
	called := make(chan struct{}, 1)
	stop, err := watchExit(cmd.Process.Pid, func() { called <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	stop()
	stop() // a second stop is harmless
	cmd.Process.Kill()
	cmd.Wait()
	select {
	case <-called:
		t.Error("gone was called after stop")
	case <-time.After(200 * time.Millisecond):
	}

	other := startSleep(t)
	stop, err = watchExit(other.Process.Pid, func() { called <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	other.Process.Kill()
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Error("gone not called 5 s after the process was killed")
	}
}

func TestChildren(t *testing.T) {
	// A single-threaded parent: Linux lists the children of each thread
	// apart (and children reads the main thread's), and sftp, whose
	// children sftper looks for, has one thread; this test binary has
	// many, and starts children from any of them.
	parent := exec.Command("sh", "-c", "sleep 60 & sleep 61 & wait")
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, kid := range children(parent.Process.Pid) {
			syscall.Kill(kid, syscall.SIGKILL)
		}
		parent.Process.Kill()
		parent.Wait()
	}()
	// A child of sh is named sh until it has run sleep: wait for both
	// to have, or give up and say what was seen.
	var kids []int
	var names []string
	deadline := time.Now().Add(5 * time.Second)
	for !(len(kids) == 2 && names[0] == "sleep" && names[1] == "sleep") {
		if time.Now().After(deadline) {
			t.Fatalf("children of sh: %v named %q after 5 s, want its two sleeps", kids, names)
		}
		time.Sleep(5 * time.Millisecond)
		kids = children(parent.Process.Pid)
		names = names[:0]
		for _, kid := range kids {
			names = append(names, processName(kid))
		}
	}
	if got := childOf(parent.Process.Pid, "sleep"); got != kids[0] && got != kids[1] {
		t.Errorf("childOf found %d, not one of %v", got, kids)
	}
	if got := childOf(parent.Process.Pid, "no-such-program"); got != 0 {
		t.Errorf("childOf found %d for a name no child has", got)
	}
	if got := processName(1 << 30); got != "" {
		t.Errorf("processName of no process is %q", got)
	}
	if got := children(1 << 30); len(got) != 0 {
		t.Errorf("children of no process: %v", got)
	}
}

func TestProcStart(t *testing.T) {
	a, b := startSleep(t), startSleep(t)
	sa, za, err := procStart(a.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := procStart(a.Process.Pid)
	if err != nil || again != sa {
		t.Errorf("start time read twice: %d then %d (%v)", sa, again, err)
	}
	me, _, err := procStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if me > sa {
		t.Errorf("this process started (%d) after its child (%d)", me, sa)
	}
	if za {
		t.Error("a running child is a zombie")
	}
	b.Process.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, z, _ := procStart(b.Process.Pid); z {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a killed, unreaped child is not a zombie after 5 s")
		}
		time.Sleep(time.Millisecond)
	}
	if _, _, err := procStart(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
	if tag, err := hostTag(); err != nil || len(tag) != 8 {
		t.Errorf("hostTag: %q, %v", tag, err)
	}
}

// processMoved grows when a process works: a read of a whole file and the
// CPU it takes move it on every platform's count.
func TestProcessMoved(t *testing.T) {
	before, err := processMoved(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.ReadFile(exe); err != nil {
			t.Fatal(err)
		}
		after, err := processMoved(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processMoved still %d after 5 s of reading", after)
		}
	}
	if _, err := processMoved(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func TestPeerUID(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	uid, err := peerUID(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	if uid != os.Getuid() {
		t.Errorf("peer uid %d, this process runs as %d", uid, os.Getuid())
	}
	if !sameUser(fds[0]) {
		t.Error("sameUser is false for this process's own socket")
	}
	if _, err := peerUID(int(os.Stdin.Fd())); err == nil && !isSocket(os.Stdin) {
		t.Error("peerUID of something that is not a socket gives no error")
	}
}

func isSocket(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// The askpass round trip over its socket: the helper's side asks, the
// server checks the peer and answers once.
func TestAskpassRoundTrip(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	a, err := startAskpass(NewSecret([]byte("s3cret"), "test"), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	var out bytes.Buffer
	if rc := Askpass(a.path, "alice@example's password: ", &out); rc != 0 {
		t.Fatalf("Askpass exit status %d", rc)
	}
	if out.String() != "s3cret\n" {
		t.Errorf("Askpass printed %q", out.String())
	}
	out.Reset()
	if rc := Askpass(a.path, "alice@example's password: ", &out); rc == 0 || out.Len() != 0 {
		t.Errorf("the same question again: exit status %d, printed %q", rc, out.String())
	}
	if fi, err := os.Stat(a.dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("askpass directory: %v, %v", fi, err)
	}
	fdFlags := func(fd int) int {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatal(err)
		}
		return flags
	}
	if fdFlags(int(a.ln.Fd()))&syscall.FD_CLOEXEC == 0 {
		t.Error("the listening socket is not close-on-exec")
	}
}

// childPipes: sftp's stdout and stderr are two open file descriptions of
// one pipe: what both write arrives in order, and making stderr
// non-blocking (as ssh does) leaves stdout blocking.
func TestChildPipes(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	p, err := newChildPipes()
	if err != nil {
		t.Fatal(err)
	}
	defer p.closeAll()
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
	if err := syscall.SetNonblock(int(p.errW.Fd()), true); err != nil {
		t.Fatal(err)
	}
	flags := func(f *os.File) int {
		fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fl
	}
	if flags(p.outW)&syscall.O_NONBLOCK != 0 {
		t.Error("stdout turned non-blocking with stderr: the two share a description")
	}
	for _, f := range []*os.File{p.outR, p.outW, p.errW, p.inR, p.inW} {
		if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil || fl&syscall.FD_CLOEXEC == 0 {
			t.Errorf("%s is not close-on-exec", f.Name())
		}
	}
	var want strings.Builder
	for i := 0; i < 100; i++ {
		w := p.outW
		if i%3 == 0 {
			w = p.errW
		}
		line := fmt.Sprintf("line %d on %s\n", i, w.Name())
		want.WriteString(line)
		if _, err := w.WriteString(line); err != nil {
			t.Fatal(err)
		}
	}
	if n := unread(p.outR); n != want.Len() {
		t.Errorf("unread says %d bytes wait, %d were written", n, want.Len())
	}
	p.outW.Close()
	p.errW.Close()
	p.restoreBlocking()
	got, err := io.ReadAll(p.outR)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("read %q, wrote %q", got, want.String())
	}

	// The input pipe: sftper's end non-blocking, the child's blocking.
	if flags(p.inR)&syscall.O_NONBLOCK != 0 {
		t.Error("the child's end of its input is non-blocking")
	}
}

// sessionAttr's child in a session of its own, and, where the platform
// has a parent-death signal, gone with its parent: this test runs itself
// as the parent, which starts the child and is then killed.
func TestSessionAttr(t *testing.T) {
	if os.Getenv("SFTPER_TEST_SESSION_PARENT") == "1" {
		cmd := exec.Command("sleep", "60")
		cmd.SysProcAttr = sessionAttr(syscall.SIGKILL)
		if err := cmd.Start(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(cmd.Process.Pid)
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	parent := exec.Command(os.Args[0], "-test.run=^TestSessionAttr$")
	parent.Env = append(os.Environ(), "SFTPER_TEST_SESSION_PARENT=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 32)
	n, _ := out.Read(line)
	pid, err := strconv.Atoi(strings.TrimSpace(string(line[:n])))
	if err != nil {
		parent.Process.Kill()
		t.Fatalf("the parent said %q", line[:n])
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("the child's session is %d (%v), not its own", sid, err)
	}
	parent.Process.Kill()
	parent.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, zombie, err := procStart(pid)
		gone := err != nil || zombie
		if gone == sessionAttrKills {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after its parent was killed the child is gone: %v; the platform's parent-death signal says %v", gone, sessionAttrKills)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
