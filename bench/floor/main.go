// Command floor measures the least CPU a program like sftper can spend on
// one request of a client that waits for each result, on this machine: a
// Go relay set up as sftper is (one thread, GOMAXPROCS 1; standard input
// read through Go's poller; a goroutine reading requests and handing
// them on) that passes each line to a child process (cat, standing in for
// sftp) and its answer back, doing nothing else. Its CPU per round trip
// is the cost of the wake-ups and system calls alone, which sftper cannot
// go below; the bench's "one at a time" rows are judged against 40 µs,
// and this says what that target means here.
//
// Usage: cd bench && go run ./floor [-n 3000]
//
// It prints the wall time and the relay's own CPU (user+sys, from
// /proc/PID/stat, 10 ms ticks) per round trip.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 3000, "round trips")
	flag.Parse()
	if flag.Arg(0) == "relay" {
		relay()
		return
	}
	self, err := os.Executable()
	check(err)
	cmd := exec.Command(self, "relay")
	w, err := cmd.StdinPipe()
	check(err)
	r, err := cmd.StdoutPipe()
	check(err)
	check(cmd.Start())
	br := bufio.NewReader(r)
	// One round trip first, so that the relay and its cat are running.
	fmt.Fprintln(w, "start")
	_, err = br.ReadString('\n')
	check(err)
	c0 := cpu(cmd.Process.Pid)
	t0 := time.Now()
	for i := range *n {
		fmt.Fprintf(w, "line %d\n", i)
		if _, err := br.ReadString('\n'); err != nil {
			check(err)
		}
	}
	wall := time.Since(t0)
	used := cpu(cmd.Process.Pid) - c0
	fmt.Printf("%d round trips: %.1f µs each, the relay's own CPU %.1f µs each\n",
		*n, float64(wall.Microseconds())/float64(*n), float64(used.Microseconds())/float64(*n))
	w.Close()
	cmd.Wait()
}

// relay is the child: sftper's shape with nothing in it.
func relay() {
	runtime.GOMAXPROCS(1)
	fd, err := syscall.Dup(0)
	check(err)
	check(syscall.SetNonblock(fd, true))
	in := bufio.NewReader(os.NewFile(uintptr(fd), "stdin"))
	cat := exec.Command("cat")
	w, err := cat.StdinPipe()
	check(err)
	r, err := cat.StdoutPipe()
	check(err)
	check(cat.Start())
	out := bufio.NewReader(r)
	lines := make(chan string)
	go func() {
		defer close(lines)
		for {
			l, err := in.ReadString('\n')
			if err != nil {
				return
			}
			lines <- l
		}
	}()
	for l := range lines {
		w.Write([]byte(l))
		reply, err := out.ReadString('\n')
		check(err)
		os.Stdout.WriteString(reply)
	}
}

// cpu is a process's user+sys time from /proc/PID/stat.
func cpu(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	check(err)
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	check(err1)
	check(err2)
	return time.Duration(u+s) * 10 * time.Millisecond
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}
