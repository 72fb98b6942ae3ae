package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// measurement is one timed run.
type measurement struct {
	wall    time.Duration // process start to process exit (to the first result for a start-up workload)
	ownCPU  time.Duration // user+sys of the process itself
	treeCPU time.Duration // user+sys of the process and its waited-for descendants
	ownRSS  int64         // KiB: peak RSS (VmHWM, sampled) of the process itself
	treeRSS int64         // KiB: the highest sum, over the samples, of the RSS of the process and every process below it
	procs   string        // peak RSS per process, for the progress lines

	// marks are the moments, since the process started, at which the
	// bench read each complete result from the contender's output, for
	// contenders whose output shows where a result ends.
	marks []time.Duration
	// listings are the directory listings the contender returned, one
	// per list op, in op order, for the bench to check.
	listings [][]entry
	// perResult is the steady-state time per result of a sequential
	// workload: from the first result to the last, divided by the
	// number of round trips in between.
	perResult time.Duration
}

// entry is one directory entry as a contender reported it.
type entry struct {
	name string
	size int64
}

// consumer reads a contender's stdout to its end while the process runs,
// calling mark each time a complete result has arrived. It may write the
// next request in response (a sequential client does). An error means the
// output was not what the contender should have printed; the rest of the
// output is then drained by timeProcess so that the process is not
// blocked on a full pipe.
type consumer func(stdout io.Reader, mark func()) error

// timeProcess starts cmd and times it from start to exit. Meanwhile it
// samples the peak RSS of the process and its descendants and, if consume
// is not nil, hands it the process's stdout. At exit the process is left
// a zombie for a moment (waitid WNOWAIT) so that its own CPU time can be
// told apart from its children's in /proc/PID/stat; cmd.Wait then reaps
// it and gives the CPU time of the whole tree.
func timeProcess(cmd *exec.Cmd, consume consumer) (measurement, error) {
	var m measurement
	// If the bench dies, take the contender along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	var stdout io.ReadCloser
	if consume != nil {
		var err error
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return m, err
		}
	}
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

	consumed := make(chan error, 1)
	if consume != nil {
		go func() {
			// Only this goroutine appends to marks until consumed is
			// received from.
			err := consume(stdout, func() { m.marks = append(m.marks, time.Since(start)) })
			io.Copy(io.Discard, stdout)
			consumed <- err
		}()
	} else {
		consumed <- nil
	}

	stop := make(chan struct{})
	sampled := make(chan rssSamples)
	go func() { sampled <- sampleRSS(pid, stop) }()

	werr := waitExited(pid)
	m.wall = time.Since(start)
	close(stop)
	samples := <-sampled
	m.treeRSS = samples.treePeak
	// Per program name: the highest peak, and how many processes ran it
	// (batch mode runs many sftp).
	type prog struct {
		n   int
		hwm int64
	}
	progs := map[string]*prog{}
	for p, s := range samples.procs {
		if p == pid {
			m.ownRSS = s.hwm
		}
		if progs[s.name] == nil {
			progs[s.name] = &prog{}
		}
		progs[s.name].n++
		progs[s.name].hwm = max(progs[s.name].hwm, s.hwm)
	}
	var names []string
	for name, p := range progs {
		if p.n == 1 {
			names = append(names, fmt.Sprintf("%s %.1f", name, mib(p.hwm)))
		} else {
			names = append(names, fmt.Sprintf("%s %.1f (%d of them, highest)", name, mib(p.hwm), p.n))
		}
	}
	slices.Sort(names)
	m.procs = strings.Join(names, ", ")
	var serr error
	if werr == nil {
		m.ownCPU, serr = ownCPU(pid)
	}
	// The pipe is at its end once the process and any child still
	// holding it are gone; cmd.Wait would close it under the reader.
	cerr := <-consumed
	err = cmd.Wait()
	if ps := cmd.ProcessState; ps != nil {
		// ru_utime and ru_stime of wait4 cover the process and every
		// descendant it (or they) waited for. Its ru_maxrss is not used:
		// on Linux it is at least the bench's own peak RSS.
		m.treeCPU = ps.UserTime() + ps.SystemTime()
	}
	return m, firstErr(err, werr, serr, cerr)
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

// rssSamples is what sampleRSS saw of a process tree.
type rssSamples struct {
	procs    map[int]*rssSample
	treePeak int64 // KiB, the highest sum of VmRSS over the processes alive at one sample
}

// sampleRSS polls the memory of root and of every process below it until
// stop. Per process it keeps the peak RSS (VmHWM), in KiB. VmHWM belongs
// to the program image and starts afresh at exec, unlike ru_maxrss, which
// on Linux inherits the peak of the process that forked (see README.md).
// VmHWM only grows, so a late sample is a process's peak so far; a peak
// reached in the last interval before exit, or a process that lives less
// than one interval, can be missed. For the tree it keeps the highest sum
// of the current RSS (VmRSS) of the processes alive at the same moment,
// not the sum of their peaks: in batch mode sftper runs one short sftp
// after another, whose peaks never coexist.
func sampleRSS(root int, stop <-chan struct{}) rssSamples {
	const interval = 50 * time.Millisecond
	out := rssSamples{procs: map[int]*rssSample{}}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var sum int64
		for _, pid := range append([]int{root}, descendants(root)...) {
			name, hwm, rss, ok := readMem(pid)
			if !ok {
				continue // gone, or a zombie without an address space
			}
			s := out.procs[pid]
			if s == nil {
				s = &rssSample{}
				out.procs[pid] = s
			}
			// Between fork and exec a child still shows its parent's
			// image; the name then is the parent's, and is replaced.
			s.name = name
			s.hwm = max(s.hwm, hwm)
			sum += rss
		}
		out.treePeak = max(out.treePeak, sum)
		select {
		case <-stop:
			return out
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

// readMem reads a process's name, VmHWM and VmRSS (KiB) from
// /proc/PID/status.
func readMem(pid int) (name string, hwm, rss int64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", 0, 0, false
	}
	found := 0
	for l := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(l, ":")
		v = strings.TrimSpace(v)
		var dst *int64
		switch k {
		case "Name":
			name = v
			continue
		case "VmHWM":
			dst = &hwm
		case "VmRSS":
			dst = &rss
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
		if err != nil {
			return "", 0, 0, false
		}
		*dst = n
		if found++; found == 2 {
			return name, hwm, rss, true
		}
	}
	return "", 0, 0, false
}
