// Command bench times sftper against the OpenSSH sftp client on a
// throwaway sshd on 127.0.0.1, with every file on tmpfs when /dev/shm
// exists. See README.md for what it measures and how to read the table.
//
// Run it from this directory: go run . [-runs N] [-warmup N] [-smoke]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/sftper/sftper/integration/sshdtest"
)

// env is what contenders and workloads share during one bench run.
type env struct {
	srv    *sshdtest.Server
	work   string // our temporary directory (tmpfs when possible)
	local  string // local files, inputs and downloads
	sftper string // the sftper binary built from the repository
	sftp   string // the OpenSSH sftp client
}

// contender is one way of running a workload's ops in one fresh session,
// connection set-up included. run prepares its input untimed, then times
// exactly one process with timeProcess (an in-process library client will
// need a timer of its own), and checks what the process reported.
type contender struct {
	name string
	run  func(e *env, w *workload) (measurement, error)
}

// contenders in table order; the first is the baseline for the ratios.
var contenders = []contender{
	{"openssh sftp -b", runOpenSSH},
	{"sftper", runSftper},
}

// measurement is one timed run.
type measurement struct {
	wall    time.Duration // process start to process exit
	ownCPU  time.Duration // user+sys of the process itself
	treeCPU time.Duration // user+sys of the process and its waited-for descendants
	ownRSS  int64         // KiB: peak RSS (VmHWM, sampled) of the process itself
	treeRSS int64         // KiB: sum of the peak RSS of the process and of every process below it
	procs   string        // peak RSS per process, for the progress lines
}

func main() {
	runs := flag.Int("runs", 5, "timed rounds per workload")
	warmup := flag.Int("warmup", 1, "untimed rounds per workload before the timed ones")
	smoke := flag.Bool("smoke", false, "tiny sizes, 1 round, no warm-up: checks that everything works")
	root := flag.String("root", "..", "the sftper repository (its module root)")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *smoke {
		*runs, *warmup = 1, 0
	}
	if *runs < 1 || *warmup < 0 {
		fmt.Fprintln(os.Stderr, "bench: -runs must be at least 1 and -warmup at least 0")
		os.Exit(2)
	}
	if err := run(*root, *runs, *warmup, *smoke); err != nil {
		fmt.Fprintln(os.Stderr, "bench FAILED:", err)
		os.Exit(1)
	}
}

// cleanups run at the end, or on SIGINT/SIGTERM, last registered first.
var (
	cleanupMu sync.Mutex
	cleanups  []func()
	current   *exec.Cmd // the contender process running now, if any
)

func atCleanup(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

func runCleanups() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	if current != nil && current.Process != nil {
		// SIGTERM, not SIGKILL: sftper then stops its own sftp.
		current.Process.Signal(syscall.SIGTERM)
		time.Sleep(500 * time.Millisecond)
	}
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

func run(root string, runs, warmup int, smoke bool) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "bench: %v, cleaning up\n", s)
		runCleanups()
		os.Exit(128 + int(s.(syscall.Signal)))
	}()
	defer runCleanups()

	parent := os.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		parent = "/dev/shm"
	}
	work, err := os.MkdirTemp(parent, "sftper-bench-")
	if err != nil {
		return err
	}
	atCleanup(func() { os.RemoveAll(work) })
	// sshdtest puts the server's home below here; its user must get through.
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	e := &env{work: work, local: filepath.Join(work, "local")}
	if err := os.Mkdir(e.local, 0o755); err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "bench: building sftper")
	if e.sftper, err = buildSftper(root, work); err != nil {
		return err
	}
	if e.sftp, err = exec.LookPath("sftp"); err != nil {
		return err
	}
	e.srv, err = sshdtest.Start(sshdtest.Options{Parent: work})
	if err != nil {
		return err
	}
	atCleanup(e.srv.Cleanup)

	cipher, err := firstCipher(e.srv.SSHConfig)
	if err != nil {
		return err
	}
	sshVersion, _ := exec.Command("ssh", "-V").CombinedOutput()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Printf("sftper bench: %d timed round(s) per workload after %d warm-up round(s), contenders alternating within each round\n", runs, warmup)
	fmt.Printf("OpenSSH:  %s\n", strings.TrimSpace(string(sshVersion)))
	fmt.Printf("cipher:   %s (client's first preference, from ssh -G)\n", cipher)
	fmt.Printf("server:   sshd on 127.0.0.1:%d, login %s, files in %s (%s)\n", e.srv.Port, e.srv.User, work, fsType(work))
	fmt.Printf("machine:  %d CPUs, %s/%s, Linux %s, %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, strings.TrimSpace(string(kernel)), runtime.Version())

	ws := workloads(smoke)
	results := make([][][]measurement, len(ws)) // [workload][contender][run]
	for wi, w := range ws {
		fmt.Printf("workload: %-22s %s\n", w.name, w.about)
		res, err := runWorkload(e, w, runs, warmup)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		results[wi] = res
	}
	fmt.Println()
	printTable(ws, results)
	return nil
}

// runWorkload sets w up, runs every contender runs+warmup times, in an
// order that rotates by one every round, and tears w down.
func runWorkload(e *env, w *workload, runs, warmup int) (res [][]measurement, err error) {
	if err := w.setup(e); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	defer func() {
		if terr := w.teardown(e); terr != nil && err == nil {
			err = fmt.Errorf("teardown: %w", terr)
		}
	}()
	res = make([][]measurement, len(contenders))
	for round := range warmup + runs {
		label := fmt.Sprintf("round %d/%d", round-warmup+1, runs)
		if round < warmup {
			label = fmt.Sprintf("warm-up %d/%d", round+1, warmup)
		}
		for k := range contenders {
			ci := (round + k) % len(contenders)
			c := contenders[ci]
			if err := w.reset(e); err != nil {
				return nil, fmt.Errorf("reset: %w", err)
			}
			m, err := c.run(e, w)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			if err := w.verify(e); err != nil {
				return nil, fmt.Errorf("%s: verify: %w", c.name, err)
			}
			if err := w.clean(e); err != nil {
				return nil, fmt.Errorf("clean: %w", err)
			}
			fmt.Fprintf(os.Stderr, "bench: %-16s %-13s %-16s %6.3f s  cpu own %.2f tree %.2f s  rss MiB: %s\n",
				w.name, label, c.name, m.wall.Seconds(), m.ownCPU.Seconds(), m.treeCPU.Seconds(), m.procs)
			if round >= warmup {
				res[ci] = append(res[ci], m)
			}
		}
	}
	return res, nil
}

// runOpenSSH runs one `sftp -b BATCHFILE` process for the whole workload.
func runOpenSSH(e *env, w *workload) (measurement, error) {
	var b strings.Builder
	for _, o := range w.ops {
		switch o.kind {
		case opPut:
			fmt.Fprintf(&b, "put %s %s\n", batchQuote(o.local), batchQuote(o.remote))
		case opGet:
			fmt.Fprintf(&b, "get %s %s\n", batchQuote(o.remote), batchQuote(o.local))
		}
	}
	batch := filepath.Join(e.work, "batch.sftp")
	if err := os.WriteFile(batch, []byte(b.String()), 0o644); err != nil {
		return measurement{}, err
	}
	defer os.Remove(batch)
	cmd := exec.Command(e.sftp, "-F", e.srv.SSHConfig, "-b", batch, sshdtest.Alias)
	cmd.Dir = e.local
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	m, err := timeProcess(cmd)
	if err != nil {
		return m, fmt.Errorf("%v; output ends:\n%s", err, tail(out.Bytes()))
	}
	return m, nil
}

// safePath is what batchQuote lets through: the bench makes all its paths
// itself, so it never needs sftp's full quoting rules.
var safePath = regexp.MustCompile(`^[A-Za-z0-9/._+-]+$`)

func batchQuote(p string) string {
	if !safePath.MatchString(p) {
		panic(fmt.Sprintf("bench: path %q needs quoting rules the bench does not implement", p))
	}
	return `"` + p + `"`
}

// request is one sftper request; result the part of its answer we check.
type request struct {
	Command string         `json:"command"`
	Args    map[string]any `json:"args"`
	ID      int            `json:"id"`
}

type result struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	ID      int    `json:"id"`
}

// runSftper runs one sftper process for the whole workload: every request
// written to its stdin at once, stdin closed, every result read.
func runSftper(e *env, w *workload) (measurement, error) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for i, o := range w.ops {
		req := request{ID: i}
		switch o.kind {
		case opPut:
			req.Command, req.Args = "PUT", map[string]any{"source": o.local, "dest": o.remote}
		case opGet:
			req.Command, req.Args = "GET", map[string]any{"source": o.remote, "dest": o.local}
		}
		if err := enc.Encode(req); err != nil {
			return measurement{}, err
		}
	}
	cmd := exec.Command(e.sftper, "-F", e.srv.SSHConfig, sshdtest.Alias)
	cmd.Dir = e.local
	cmd.Stdin = bytes.NewReader(in.Bytes())
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	m, err := timeProcess(cmd)
	if err != nil {
		return m, fmt.Errorf("%v; stderr ends:\n%s", err, tail(stderr.Bytes()))
	}
	lines := bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != len(w.ops) {
		return m, fmt.Errorf("%d results for %d requests; stderr ends:\n%s", len(lines), len(w.ops), tail(stderr.Bytes()))
	}
	for i, l := range lines {
		var r result
		if err := json.Unmarshal(l, &r); err != nil {
			return m, fmt.Errorf("result %d: %v: %q", i, err, l)
		}
		if r.Status != "ok" || r.ID != i {
			return m, fmt.Errorf("result %d is not ok for request %d: %s", i, i, l)
		}
	}
	return m, nil
}

// timeProcess starts cmd and times it from start to exit. Meanwhile it
// samples the peak RSS of the process and its descendants. At exit the
// process is left a zombie for a moment (waitid WNOWAIT) so that its own
// CPU time can be told apart from its children's in /proc/PID/stat;
// cmd.Wait then reaps it and gives the CPU time of the whole tree.
func timeProcess(cmd *exec.Cmd) (measurement, error) {
	var m measurement
	// If the bench dies, take the contender along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cleanupMu.Lock()
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		current = cmd
	}
	cleanupMu.Unlock()
	if err != nil {
		return m, err
	}
	defer func() {
		cleanupMu.Lock()
		current = nil
		cleanupMu.Unlock()
	}()
	pid := cmd.Process.Pid

	stop := make(chan struct{})
	sampled := make(chan map[int]*rssSample)
	go func() { sampled <- sampleRSS(pid, stop) }()

	werr := waitExited(pid)
	m.wall = time.Since(start)
	close(stop)
	var names []string
	for p, s := range <-sampled {
		m.treeRSS += s.hwm
		if p == pid {
			m.ownRSS = s.hwm
		}
		names = append(names, fmt.Sprintf("%s %.1f", s.name, mib(s.hwm)))
	}
	slices.Sort(names)
	m.procs = strings.Join(names, ", ")
	var serr error
	if werr == nil {
		m.ownCPU, serr = ownCPU(pid)
	}
	err = cmd.Wait()
	if ps := cmd.ProcessState; ps != nil {
		// ru_utime and ru_stime of wait4 cover the process and every
		// descendant it (or they) waited for. Its ru_maxrss is not used:
		// on Linux it is at least the bench's own peak RSS.
		m.treeCPU = ps.UserTime() + ps.SystemTime()
	}
	return m, firstErr(err, werr, serr)
}

// waitExited blocks until pid has exited, without reaping it.
func waitExited(pid int) error {
	const (
		pPID    = 1         // P_PID
		wExited = 0x4       // WEXITED
		wNoWait = 0x1000000 // WNOWAIT
	)
	var info [128]byte // siginfo_t, unread
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), wExited|wNoWait, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return fmt.Errorf("waitid %d: %w", pid, errno)
		}
	}
}

// ownCPU reads utime+stime of an exited, unreaped process from
// /proc/PID/stat: its own time, all threads, without its children's
// (cutime, cstime).
func ownCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold anything: skip past it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	const userHZ = 100 // USER_HZ, the clock-tick unit of /proc on Linux
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// rssSample is what sampleRSS saw of one process.
type rssSample struct {
	name string
	hwm  int64 // KiB, the highest VmHWM read
}

// sampleRSS polls the peak RSS (VmHWM) of root and of every process below
// it until stop, and returns the peaks seen per pid, in KiB. VmHWM belongs
// to the program image and starts afresh at exec, unlike ru_maxrss, which
// on Linux inherits the peak of the process that forked (see README.md).
// VmHWM only grows, so a late sample is a process's peak so far; a peak
// reached in the last interval before exit, or a process that lives less
// than one interval, can be missed.
func sampleRSS(root int, stop <-chan struct{}) map[int]*rssSample {
	const interval = 50 * time.Millisecond
	seen := map[int]*rssSample{}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, pid := range append([]int{root}, descendants(root)...) {
			name, hwm, ok := readHWM(pid)
			if !ok {
				continue // gone, or a zombie without an address space
			}
			s := seen[pid]
			if s == nil {
				s = &rssSample{}
				seen[pid] = s
			}
			// Between fork and exec a child still shows its parent's
			// image; the name then is the parent's, and is replaced.
			s.name = name
			s.hwm = max(s.hwm, hwm)
		}
		select {
		case <-stop:
			return seen
		case <-t.C:
		}
	}
}

// descendants lists the processes below pid. Each thread has its own
// list of children (a Go program forks from any thread), so all are read.
func descendants(pid int) []int {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
				out = append(out, descendants(c)...)
			}
		}
	}
	return out
}

// readHWM reads a process's name and VmHWM (KiB) from /proc/PID/status.
func readHWM(pid int) (name string, hwm int64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", 0, false
	}
	for l := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(l, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			name = v
		case "VmHWM":
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
			if err != nil {
				return "", 0, false
			}
			return name, n, true
		}
	}
	return "", 0, false
}

// buildSftper builds the repository's sftper into dir.
func buildSftper(root, dir string) (string, error) {
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("-root %s: %w", root, err)
	}
	if !bytes.HasPrefix(gomod, []byte("module github.com/sftper/sftper\n")) {
		return "", fmt.Errorf("-root %s is not the sftper module", root)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sftper")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// firstCipher is the first cipher ssh would offer for the alias.
func firstCipher(config string) (string, error) {
	out, err := exec.Command("ssh", "-G", "-F", config, sshdtest.Alias).Output()
	if err != nil {
		return "", fmt.Errorf("ssh -G: %w", err)
	}
	for l := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(l, "ciphers "); ok {
			first, _, _ := strings.Cut(strings.TrimSpace(v), ",")
			return first, nil
		}
	}
	return "", errors.New("ssh -G printed no ciphers line")
}

// fsType names the file system dir is on, as far as /proc/mounts says.
func fsType(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "unknown fs"
	}
	best, typ := "", "unknown fs"
	for l := range strings.Lines(string(b)) {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		if (dir == f[1] || strings.HasPrefix(dir, strings.TrimSuffix(f[1], "/")+"/")) && len(f[1]) > len(best) {
			best, typ = f[1], f[2]
		}
	}
	return typ
}

func tail(b []byte) string {
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func printTable(ws []*workload, results [][][]measurement) {
	wn, cn := len("workload"), len("contender")
	for _, w := range ws {
		wn = max(wn, len(w.name))
	}
	for _, c := range contenders {
		cn = max(cn, len(c.name))
	}
	row := func(cells ...string) {
		fmt.Printf("%-*s  %-*s", wn, cells[0], cn, cells[1])
		for i, c := range cells[2:] {
			fmt.Printf("  %*s", []int{8, 11, 7, 9, 10, 11, 12}[i], c)
		}
		fmt.Println()
	}
	row("workload", "contender", "median s", "min-max s", "vs sftp", "CPU own s", "CPU tree s", "RSS own MiB", "RSS tree MiB")
	for wi, w := range ws {
		base := median(walls(results[wi][0]))
		for ci, c := range contenders {
			ms := results[wi][ci]
			ws := walls(ms)
			var own, tree []time.Duration
			var ownRSS, treeRSS int64
			for _, m := range ms {
				own = append(own, m.ownCPU)
				tree = append(tree, m.treeCPU)
				ownRSS = max(ownRSS, m.ownRSS)
				treeRSS = max(treeRSS, m.treeRSS)
			}
			med := median(ws)
			row(w.name, c.name,
				fmt.Sprintf("%.3f", med.Seconds()),
				fmt.Sprintf("%.3f-%.3f", slices.Min(ws).Seconds(), slices.Max(ws).Seconds()),
				fmt.Sprintf("%.2fx", med.Seconds()/base.Seconds()),
				fmt.Sprintf("%.2f", median(own).Seconds()),
				fmt.Sprintf("%.2f", median(tree).Seconds()),
				fmt.Sprintf("%.1f", mib(ownRSS)),
				fmt.Sprintf("%.1f", mib(treeRSS)))
		}
	}
}

func walls(ms []measurement) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = m.wall
	}
	return out
}
