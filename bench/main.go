// Command bench times sftper against the OpenSSH sftp client, scp,
// paramiko and pkg/sftp on a throwaway sshd on 127.0.0.1, with every
// file on tmpfs when /dev/shm exists. See README.md for what it measures
// and how to read the table.
//
// Run it from this directory: go run . [-runs N] [-warmup N] [-smoke]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sftper/sftper/integration/sshdtest"
)

// env is what contenders and workloads share during one bench run.
type env struct {
	srv    *sshdtest.Server
	work   string // our temporary directory (tmpfs when possible)
	local  string // local files, inputs and downloads
	sftper string // the sftper binary built from the repository
	base   string // the sftper binary built from -base, if given
	sftp   string // the OpenSSH sftp client
	scp    string // the OpenSSH scp client

	batchMode      bool   // this sftper knows --mode (batch)
	sessions       bool   // this sftper knows --sessions
	baseBatchMode  bool   // so does the base sftper
	python         string // the python3 that has Debian's python3-paramiko
	paramikoScript string // paramiko_client.py
	sftperScript   string // sftper_client.py, the Python client's contenders
	pkgsftp        string // the pkg/sftp client, built from ./pkgsftp
}

// options are the command line's.
type options struct {
	runs, warmup int
	smoke        bool
	root         string
	base         string // another checkout of sftper to run side by side
	sizes        sizes
	only         map[int]bool    // workload numbers to run; nil: all
	contenders   map[string]bool // contender keys to run; nil: all
}

func main() {
	var o options
	bigMiB, rttMiB := 0, 0
	only, cs, rtts := "", "", ""
	flag.IntVar(&o.runs, "runs", 5, "timed rounds per workload")
	flag.IntVar(&o.warmup, "warmup", 1, "untimed rounds per workload before the timed ones")
	flag.BoolVar(&o.smoke, "smoke", false, "tiny sizes, 1 round, no warm-up: checks that everything works")
	flag.StringVar(&o.root, "root", "..", "the sftper repository (its module root)")
	flag.StringVar(&o.base, "base", "", "another checkout of sftper (e.g. a git worktree of the commit before a change) to run as the contenders base and base-batch")
	flag.IntVar(&bigMiB, "big-mib", 1024, "MiB in the one-file PUT and GET (workloads 1 and 2)")
	flag.IntVar(&o.sizes.files, "files", 1000, "files in the many-file PUTs and GETs (workloads 3 and 4)")
	flag.IntVar(&o.sizes.entries, "entries", 10000, "entries in the large directory (workload 5)")
	flag.IntVar(&o.sizes.trips, "trips", 1000, "round trips in workload 7")
	flag.IntVar(&o.sizes.tree.files, "tree-files", 2000, "files in the tree of the recursive PUT and GET (workloads 8 and 9)")
	flag.IntVar(&o.sizes.tree.dirs, "tree-dirs", 200, "directories below the tree's root in workloads 8 and 9")
	flag.StringVar(&rtts, "rtt", "20,100", "comma-separated round-trip times in ms for the workloads through the delay proxy (10 on, four per round trip); \"\" for none")
	flag.IntVar(&o.sizes.rttFiles, "rtt-files", 1000, "files in the many-file PUTs and GETs through the delay proxy")
	flag.IntVar(&rttMiB, "rtt-mib", 256, "MiB in the one-file PUT and GET through the delay proxy")
	flag.StringVar(&only, "only", "", "comma-separated workload numbers or ranges to run, e.g. 1,2,5 or 10-13 (default all)")
	flag.StringVar(&cs, "contenders", "", "comma-separated contenders to run: sftp,sftper,batch,noatomic,sessions4,sessions8,scp,paramiko,pkgsftp,pyloop,pymany,seq,seqnoatomic,sftperR256 (default all; sftp, the baseline, always runs)")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	o.sizes.big, o.sizes.small, o.sizes.tiny = int64(bigMiB)<<20, 4096, 5
	o.sizes.rttBig = int64(rttMiB) << 20
	bad := false
	for _, s := range strings.Split(rtts, ",") {
		if s == "" && rtts == "" {
			break
		}
		ms, err := strconv.ParseFloat(s, 64)
		d := time.Duration(ms * float64(time.Millisecond))
		bad = bad || err != nil || d <= 0 || slices.Contains(o.sizes.rtts, d)
		o.sizes.rtts = append(o.sizes.rtts, d)
	}
	if o.smoke {
		o.runs, o.warmup = 1, 0
		o.sizes = sizes{big: 1 << 20, files: 20, small: 4096, entries: 200, trips: 20, tiny: 5, tree: treeShape{files: 40, dirs: 6},
			rtts: []time.Duration{5 * time.Millisecond}, rttFiles: 5, rttBig: 1 << 20}
	}
	bad = bad || o.runs < 1 || o.warmup < 0 || o.sizes.big < 1 || o.sizes.files < 1 || o.sizes.entries < 1 || o.sizes.trips < 2 || o.sizes.tree.files < 1 || o.sizes.tree.dirs < 0 ||
		o.sizes.rttFiles < 1 || o.sizes.rttBig < 1
	last := 9 + 4*len(o.sizes.rtts) // the highest workload number
	if only != "" {
		o.only = map[int]bool{}
		for _, s := range strings.Split(only, ",") {
			a, b, isRange := strings.Cut(s, "-")
			from, err1 := strconv.Atoi(a)
			to, err2 := from, error(nil)
			if isRange {
				to, err2 = strconv.Atoi(b)
			}
			bad = bad || err1 != nil || err2 != nil || from < 1 || to > last || from > to
			for n := from; n <= to && n <= last; n++ {
				o.only[n] = true
			}
		}
	}
	if cs != "" {
		o.contenders = map[string]bool{"sftp": true}
		for _, s := range strings.Split(cs, ",") {
			bad = bad || !slices.Contains([]string{"sftp", "sftper", "batch", "noatomic", "sessions4", "sessions8", "base", "base-batch", "scp", "paramiko", "pkgsftp", "pyloop", "pymany", "seq", "seqnoatomic", "sftperR256"}, s)
			o.contenders[s] = true
		}
	}
	if bad {
		fmt.Fprintf(os.Stderr, "bench: bad flag value: -runs and the sizes must be at least 1 (-trips 2, -tree-dirs 0), -warmup at least 0, -rtt distinct numbers of ms above 0, -only numbers or ranges from 1 to %d, -contenders known names\n", last)
		os.Exit(2)
	}
	if err := run(o); err != nil {
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

func run(o options) error {
	sigs := make(chan os.Signal, 1)
	// SIGPIPE too: `go run . | head` must not leave sshd's directory behind.
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
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
	if err := checkSpace(work, o); err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "bench: building sftper and the pkg/sftp client")
	if e.sftper, err = buildSftper(o.root, filepath.Join(work, "sftper")); err != nil {
		return err
	}
	if o.base != "" {
		if e.base, err = buildSftper(o.base, filepath.Join(work, "sftper-base")); err != nil {
			return err
		}
		if e.baseBatchMode, err = helpMentions(e.base, "--mode"); err != nil {
			return err
		}
	}
	if e.pkgsftp, err = buildPkgSFTP(work); err != nil {
		return err
	}
	if e.batchMode, err = helpMentions(e.sftper, "--mode"); err != nil {
		return err
	}
	if e.sessions, err = helpMentions(e.sftper, "--sessions"); err != nil {
		return err
	}
	for _, p := range []struct {
		dst  *string
		name string
	}{{&e.sftp, "sftp"}, {&e.scp, "scp"}} {
		if *p.dst, err = exec.LookPath(p.name); err != nil {
			return err
		}
	}
	if e.python, e.paramikoScript, err = findParamiko(); err != nil {
		return err
	}
	if e.sftperScript, err = filepath.Abs("sftper_client.py"); err != nil {
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
	probe, err := probeParamiko(e)
	if err != nil {
		return err
	}
	sftperVersion, _ := exec.Command(e.sftper, "--version").Output()
	sshVersion, _ := exec.Command("ssh", "-V").CombinedOutput()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Printf("sftper bench: %d timed round(s) per workload after %d warm-up round(s), contenders rotating within each round\n", o.runs, o.warmup)
	fmt.Printf("date:     %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("sftper:   %s, built from %s (%s)\n", strings.TrimSpace(string(sftperVersion)), o.root, describe(o.root))
	if o.base != "" {
		baseVersion, _ := exec.Command(e.base, "--version").Output()
		fmt.Printf("base:     %s, built from %s (%s)\n", strings.TrimSpace(string(baseVersion)), o.base, describe(o.base))
	}
	fmt.Printf("OpenSSH:  %s\n", strings.TrimSpace(string(sshVersion)))
	fmt.Printf("cipher:   %s for sftp, sftper, scp and pkg/sftp (all through ssh; the client's first preference, from ssh -G)\n", cipher)
	fmt.Printf("paramiko: %s\n", probe)
	fmt.Printf("server:   sshd on 127.0.0.1:%d, login %s, files in %s (%s)\n", e.srv.Port, e.srv.User, work, fsType(work))
	fmt.Printf("machine:  %d CPUs, %s/%s, Linux %s, %s, load average %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH,
		strings.TrimSpace(string(kernel)), runtime.Version(), loadAverage())

	var cs []*contender
	for _, c := range newContenders(e) {
		if o.contenders == nil || o.contenders[c.key] {
			cs = append(cs, c)
		}
	}
	var ws []*workload
	for _, w := range workloads(o.sizes) {
		if o.only == nil || o.only[w.num] {
			ws = append(ws, w)
		}
	}
	var viaProxy []string
	for _, w := range ws {
		if w.rtt > 0 {
			viaProxy = append(viaProxy, strconv.Itoa(w.num))
		}
	}
	if len(viaProxy) > 0 {
		fmt.Printf("network:  workloads %s through a delay proxy in the bench (delayproxy.go) on 127.0.0.1 in front of sshd: each chunk held half the round trip each way, in order, no bandwidth limit of its own\n", strings.Join(viaProxy, ", "))
	}
	results := make([][][]measurement, len(ws)) // [workload][contender][run]
	for wi, w := range ws {
		fmt.Printf("workload: %d %-20s %s\n", w.num, w.name, w.about)
		res, err := runWorkload(e, w, cs, o.runs, o.warmup)
		if err != nil {
			return fmt.Errorf("workload %d, %s: %w", w.num, w.name, err)
		}
		results[wi] = res
	}
	fmt.Println()
	printTable(ws, cs, results)
	fmt.Println()
	if o.smoke {
		fmt.Println("(smoke sizes: the targets below are judged only to exercise the code; the numbers mean nothing)")
	}
	printTargets(ws, cs, results)
	fmt.Println()
	for _, c := range cs {
		if c.skip != "" {
			fmt.Printf("%s: %s\n", c.name, c.skip)
		}
		var reasons []string
		na := map[string][]string{} // reason -> workload numbers
		for _, w := range ws {
			if r := c.applies(w); r != "" {
				if na[r] == nil {
					reasons = append(reasons, r)
				}
				na[r] = append(na[r], strconv.Itoa(w.num))
			}
		}
		for _, r := range reasons {
			fmt.Printf("%s: does not apply to workload %s (%s)\n", c.name, strings.Join(na[r], ", "), r)
		}
	}
	fmt.Printf("load average at the end: %s\n", loadAverage())
	return nil
}

// runWorkload sets w up, runs every contender that applies runs+warmup
// times, in an order that rotates by one every round, and tears w down.
// The measurements are indexed like cs; skipped contenders have none.
func runWorkload(e *env, w *workload, cs []*contender, runs, warmup int) (res [][]measurement, err error) {
	if err := w.setup(e); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	defer func() {
		if terr := w.teardown(e); terr != nil && err == nil {
			err = fmt.Errorf("teardown: %w", terr)
		}
	}()
	var idx []int // the contenders that run
	for ci, c := range cs {
		if c.skip == "" && c.applies(w) == "" {
			idx = append(idx, ci)
		}
	}
	res = make([][]measurement, len(cs))
	for round := range warmup + runs {
		label := fmt.Sprintf("round %d/%d", round-warmup+1, runs)
		if round < warmup {
			label = fmt.Sprintf("warm-up %d/%d", round+1, warmup)
		}
		for k := range idx {
			ci := idx[(round+k)%len(idx)]
			c := cs[ci]
			if err := w.reset(e); err != nil {
				return nil, fmt.Errorf("reset: %w", err)
			}
			m, err := c.run(e, w)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			if err := checkResults(w, &m); err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			if err := w.verify(e); err != nil {
				return nil, fmt.Errorf("%s: verify: %w", c.name, err)
			}
			if err := w.clean(e); err != nil {
				return nil, fmt.Errorf("clean: %w", err)
			}
			extra := ""
			if w.sequential && len(w.ops) > 1 {
				extra = fmt.Sprintf(" (%.3f ms/trip)", float64(m.perResult.Microseconds())/1000)
			}
			fmt.Fprintf(os.Stderr, "bench: %d %-19s %-13s %-19s %7.3f s%s  cpu own %.2f tree %.2f s  rss MiB: %s\n",
				w.num, w.name, label, c.name, m.wall.Seconds(), extra, m.ownCPU.Seconds(), m.treeCPU.Seconds(), m.procs)
			if round >= warmup {
				res[ci] = append(res[ci], m)
			}
		}
	}
	return res, nil
}

// checkResults checks what a contender reported beyond the files on disk
// (listings) and derives the times that depend on when results arrived.
func checkResults(w *workload, m *measurement) error {
	lists := 0
	for _, o := range w.ops {
		if o.kind == opList {
			lists++
		}
	}
	if len(m.listings) != lists {
		return fmt.Errorf("%d listings for %d LISTDIRs", len(m.listings), lists)
	}
	for i, l := range m.listings {
		if err := checkListing(l, w.listing); err != nil {
			return fmt.Errorf("listing %d: %w", i, err)
		}
	}
	if w.toFirst {
		if len(m.marks) == 0 {
			return errors.New("no result seen")
		}
		m.wall = m.marks[0]
	}
	if w.sequential && len(w.ops) > 1 {
		if len(m.marks) != len(w.ops) {
			return fmt.Errorf("%d results seen for %d requests", len(m.marks), len(w.ops))
		}
		m.perResult = (m.marks[len(m.marks)-1] - m.marks[0]) / time.Duration(len(m.marks)-1)
	}
	return nil
}

// checkSpace fails early when the workloads' files cannot fit: the
// one-file workloads hold a source and a copy at once.
func checkSpace(dir string, o options) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	free := int64(st.Bavail) * st.Bsize
	need := 2*max(o.sizes.big, o.sizes.rttBig) + 2*int64(max(o.sizes.files, o.sizes.rttFiles)*o.sizes.small) + 64<<20
	// A tree workload holds a source and a copy at once.
	need += 2 * planTree(o.sizes.tree, treeSeed).bytes()
	if free < need {
		return fmt.Errorf("%s has %d MiB free, the workloads need about %d MiB; use smaller -big-mib or make /dev/shm larger", dir, free>>20, need>>20)
	}
	return nil
}

// buildSftper builds the sftper of the checkout root as bin.
func buildSftper(root, bin string) (string, error) {
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("-root %s: %w", root, err)
	}
	if !bytes.HasPrefix(gomod, []byte("module github.com/sftper/sftper\n")) {
		return "", fmt.Errorf("-root %s is not the sftper module", root)
	}
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	// The root module builds on its own, whatever workspace the bench is in.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build sftper: %v\n%s", err, out)
	}
	return bin, nil
}

// buildPkgSFTP builds ./pkgsftp (the bench is run from its directory).
func buildPkgSFTP(dir string) (string, error) {
	bin := filepath.Join(dir, "pkgsftp")
	if out, err := exec.Command("go", "build", "-o", bin, "./pkgsftp").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./pkgsftp (run the bench from its directory): %v\n%s", err, out)
	}
	return bin, nil
}

// helpMentions tells whether this sftper has an option (--mode,
// --sessions), from its --help.
func helpMentions(sftper, option string) (bool, error) {
	out, err := exec.Command(sftper, "--help").CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("sftper --help: %v\n%s", err, out)
	}
	return bytes.Contains(out, []byte(option)), nil
}

// findParamiko finds a python3 that imports paramiko, Debian's first
// (python3-paramiko installs into /usr/bin/python3's path, which another
// python3 earlier in PATH would not see), and the client script.
func findParamiko() (python, script string, err error) {
	if script, err = filepath.Abs("paramiko_client.py"); err != nil {
		return "", "", err
	}
	if _, err := os.Stat(script); err != nil {
		return "", "", fmt.Errorf("run the bench from its directory: %w", err)
	}
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if exec.Command(p, "-c", "import paramiko").Run() == nil {
			return p, script, nil
		}
	}
	return "", "", errors.New("no python3 that can import paramiko; install Debian's python3-paramiko (bash run.sh does)")
}

// probeParamiko connects once with the paramiko script and returns what
// it says of itself: its version and the algorithms it negotiated.
func probeParamiko(e *env) (string, error) {
	out, err := exec.Command(e.python, e.paramikoScript, e.srv.SSHConfig, sshdtest.Alias, "--probe").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("paramiko probe: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
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

// describe names the commit root is at, and whether its tracked files
// have changed since.
func describe(root string) string {
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=commit %h, %cd", "--date=short").Output()
	if err != nil {
		return "not a git checkout"
	}
	d := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		d += ", with uncommitted changes"
	}
	return d
}

// loadAverage is the first three fields of /proc/loadavg: how busy the
// machine was, as a hint of how much to trust the numbers.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
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

func printTable(ws []*workload, cs []*contender, results [][][]measurement) {
	wn, cn := len("workload"), len("contender")
	for _, w := range ws {
		wn = max(wn, len(w.name)+2)
	}
	for _, c := range cs {
		cn = max(cn, len(c.name))
	}
	row := func(cells ...string) {
		fmt.Printf("%-*s  %-*s", wn, cells[0], cn, cells[1])
		for i, c := range cells[2:] {
			fmt.Printf("  %*s", []int{8, 13, 7, 14, 9, 10, 11, 12}[i], c)
		}
		fmt.Println()
	}
	row("workload", "contender", "median s", "min-max s", "vs sftp", "rate", "CPU own s", "CPU tree s", "RSS own MiB", "RSS tree MiB")
	for wi, w := range ws {
		var base time.Duration
		if len(results[wi][0]) > 0 {
			base = median(walls(results[wi][0]))
		}
		for ci, c := range cs {
			label := fmt.Sprintf("%d %s", w.num, w.name)
			ms := results[wi][ci]
			if len(ms) == 0 {
				if c.skip != "" && c.applies(w) == "" {
					row(label, c.name, "not run", "-", "-", "-", "-", "-", "-", "-")
				}
				continue
			}
			ws := walls(ms)
			var own, tree, per []time.Duration
			var ownRSS, treeRSS int64
			for _, m := range ms {
				own = append(own, m.ownCPU)
				tree = append(tree, m.treeCPU)
				per = append(per, m.perResult)
				ownRSS = max(ownRSS, m.ownRSS)
				treeRSS = max(treeRSS, m.treeRSS)
			}
			med := median(ws)
			ratio := "-"
			if base > 0 {
				ratio = fmt.Sprintf("%.2fx", med.Seconds()/base.Seconds())
			}
			row(label, c.name,
				fmt.Sprintf("%.3f", med.Seconds()),
				fmt.Sprintf("%.3f-%.3f", slices.Min(ws).Seconds(), slices.Max(ws).Seconds()),
				ratio,
				w.rate(med, median(per)),
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
