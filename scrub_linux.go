package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The password in the environment.
//
// Unsetting SFTPER_PASSWORD keeps it from every child, but not from
// /proc/PID/environ: the kernel shows there the environment block that
// execve laid out at the top of the stack (between env_start and env_end
// in /proc/PID/stat), which nothing ever changes, not what the process
// now holds. Go's runtime copied the environment into strings of its own
// at start (runtime.goenvs), so the block is no longer read by anything:
// scrubEnv writes zero bytes over the value there, through /proc/self/mem,
// and /proc/PID/environ shows "SFTPER_PASSWORD=" followed by as many zero
// bytes. What is left (the Go heap still holds the copy, and whoever may
// ptrace sftper can read all of its memory) is in README.md.

// environShown says where others see process pid's environment.
func environShown(pid int) string { return fmt.Sprintf("/proc/%d/environ", pid) }

// scrubEnv overwrites with zero bytes the value of every name=... entry in
// the original environment block. The first entry must hold exactly value
// (what the runtime read from that block), or nothing is written; every
// byte written lies inside the block and is checked, just before, to be
// the byte of the value that was found there. The error never shows the
// value.
func scrubEnv(name, value string) error {
	start, end, err := envBlock()
	if err != nil {
		return err
	}
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer mem.Close()
	block := make([]byte, end-start)
	if _, err := mem.ReadAt(block, int64(start)); err != nil {
		return fmt.Errorf("reading the environment block: %v", err)
	}
	spans := entryValues(block, name)
	if len(spans) == 0 {
		return fmt.Errorf("no %s in the environment block", name)
	}
	if first := spans[0]; string(block[first[0]:first[1]]) != value {
		return fmt.Errorf("the environment block's %s is not the value sftper read; left alone", name)
	}
	for _, sp := range spans {
		n := sp[1] - sp[0]
		at := int64(start) + int64(sp[0])
		now := make([]byte, n)
		if _, err := mem.ReadAt(now, at); err != nil {
			return fmt.Errorf("reading the environment block: %v", err)
		}
		if !bytes.Equal(now, block[sp[0]:sp[1]]) {
			return fmt.Errorf("the environment block changed while sftper read it; left alone")
		}
		if _, err := mem.WriteAt(make([]byte, n), at); err != nil {
			return fmt.Errorf("overwriting it: %v", err)
		}
	}
	return nil
}

// entryValues returns where, in an environment block (NUL-terminated
// name=value strings), the non-empty value of each entry called name lies.
func entryValues(block []byte, name string) [][2]int {
	prefix := []byte(name + "=")
	var spans [][2]int
	for off := 0; off < len(block); {
		n := bytes.IndexByte(block[off:], 0)
		if n < 0 {
			n = len(block) - off
		}
		if entry := block[off : off+n]; bytes.HasPrefix(entry, prefix) && len(entry) > len(prefix) {
			spans = append(spans, [2]int{off + len(prefix), off + n})
		}
		off += n + 1
	}
	return spans
}

// envBlock returns the addresses of the process's original environment
// block: env_start and env_end, fields 50 and 51 of /proc/self/stat
// (proc_pid_stat(5)).
func envBlock() (start, end uint64, err error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name, field 2, is in parentheses and may hold
	// anything, parentheses and spaces included: count after the last.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("cannot read /proc/self/stat")
	}
	fields := strings.Fields(string(b[i+1:])) // field 3 onwards
	const envStart, envEnd = 50, 51
	if len(fields) < envEnd-2 {
		return 0, 0, errors.New("/proc/self/stat has no env_start and env_end")
	}
	start, err1 := strconv.ParseUint(fields[envStart-3], 10, 64)
	end, err2 := strconv.ParseUint(fields[envEnd-3], 10, 64)
	if err1 != nil || err2 != nil || start == 0 || end <= start || end-start > 1<<30 {
		return 0, 0, errors.New("/proc/self/stat gives no usable env_start and env_end")
	}
	return start, end, nil
}
