package driver

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// What sftper reads of other processes, on Linux: /proc.
//
// The same functions exist for each platform (proc_darwin.go,
// proc_freebsd.go), with the same meanings; what differs is where the
// kernel keeps the answers and, for processMoved, what it counts.

// procStart reads process pid's start time (field 22 of /proc/PID/stat,
// clock ticks after boot) and whether it is a zombie (state Z or X). A
// process that does not exist is an error wrapping fs.ErrNotExist.
func procStart(pid int) (start uint64, zombie bool, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	// The command name, field 2, is in parentheses and may hold anything.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:])) // from field 3
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, false, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	start, err = strconv.ParseUint(f[22-3], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("/proc/%d/stat: start time: %v", pid, err)
	}
	return start, f[0] == "Z" || f[0] == "X", nil
}

// hostTag names where process numbers mean what they say: this boot of
// this machine, and this pid namespace. It is an error when /proc is not
// this pid namespace's (a container given the host's /proc would read
// other processes under these numbers and take live sftpers for dead
// ones).
func hostTag() (string, error) {
	pid := os.Getpid()
	if me, err := os.Readlink("/proc/self"); err != nil || me != strconv.Itoa(pid) {
		return "", fmt.Errorf("/proc is not this process's (/proc/self is %q, pid %d)", me, pid)
	}
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

// children returns the pids of pid's children (its main thread's).
func children(pid int) []int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if kid, err := strconv.Atoi(f); err == nil {
			out = append(out, kid)
		}
	}
	return out
}

// processName is process pid's command name, or "" if it is gone.
func processName(pid int) string {
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(comm))
}

// processMoved is a count that grows whenever process pid does its work:
// on Linux the bytes of all its reads and writes (rchar plus wchar of
// /proc/PID/io), which move with every byte sftp passes between ssh, the
// local file and sftper, and only then. A process that does not exist is
// an error wrapping fs.ErrNotExist.
func processMoved(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0, err
	}
	var total uint64
	found := 0
	for _, ln := range bytes.Split(b, []byte("\n")) {
		k, v, ok := bytes.Cut(ln, []byte(": "))
		if !ok || (string(k) != "rchar" && string(k) != "wchar") {
			continue
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/io: %q: %v", pid, ln, err)
		}
		total += n
		found++
	}
	if found != 2 {
		return 0, fmt.Errorf("/proc/%d/io has no rchar and wchar", pid)
	}
	return total, nil
}
