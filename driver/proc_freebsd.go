package driver

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"golang.org/x/sys/unix"
)

// What sftper reads of other processes, on FreeBSD: sysctl kern.proc (the
// struct kinfo_proc that ps and procstat read). The functions and their
// meanings are those of proc_linux.go.
//
// golang.org/x/sys has no kinfo_proc for FreeBSD, so the fields are read
// at their offsets in <sys/user.h>'s layout for 64-bit platforms, which
// FreeBSD keeps stable across releases (new fields take spare space;
// ki_structsize says which layout a record has). A record of another size
// is refused rather than guessed at.
const (
	kinfoSize    = 1088 // KINFO_PROC_SIZE on amd64 and arm64
	kiPid        = 72   // pid_t ki_pid
	kiPpid       = 76   // pid_t ki_ppid
	kiRuntime    = 328  // uint64_t ki_runtime: CPU time, microseconds
	kiStartSec   = 336  // struct timeval ki_start
	kiStartUsec  = 344
	kiStat       = 388 // char ki_stat
	kiComm       = 447 // char ki_comm[COMMLEN + 1]
	kiCommLength = 20
	sZomb        = 5 // SZOMB of <sys/proc.h>: exited, not yet reaped
)

// errNoProcess is the error for a pid that names no process.
var errNoProcess = fmt.Errorf("no such process: %w", fs.ErrNotExist)

// kinfoRecords splits a sysctl kern.proc answer into its records.
func kinfoRecords(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("kern.proc: a truncated record")
		}
		size := int(binary.LittleEndian.Uint32(b))
		if size != kinfoSize || len(b) < size {
			return nil, fmt.Errorf("kern.proc: a record of %d bytes, not the %d of the layout sftper knows", size, kinfoSize)
		}
		out = append(out, b[:size])
		b = b[size:]
	}
	return out, nil
}

func field32(r []byte, off int) int { return int(int32(binary.LittleEndian.Uint32(r[off:]))) }

// kinfo reads process pid's record.
func kinfo(pid int) ([]byte, error) {
	b, err := unix.SysctlRaw("kern.proc.pid", pid)
	if errors.Is(err, unix.ESRCH) {
		return nil, errNoProcess
	}
	if err != nil {
		return nil, fmt.Errorf("sysctl kern.proc.pid.%d: %w", pid, err)
	}
	recs, err := kinfoRecords(b)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || field32(recs[0], kiPid) != pid {
		return nil, errNoProcess
	}
	return recs[0], nil
}

// procStart reads process pid's start time (microseconds since the epoch)
// and whether it is a zombie.
func procStart(pid int) (start uint64, zombie bool, err error) {
	r, err := kinfo(pid)
	if err != nil {
		return 0, false, err
	}
	sec := binary.LittleEndian.Uint64(r[kiStartSec:])
	usec := binary.LittleEndian.Uint64(r[kiStartUsec:])
	return sec*1e6 + usec, r[kiStat] == sZomb, nil
}

// hostTag names where process numbers mean what they say: this boot
// (kern.boottime) of this machine (kern.hostuuid). In a jail the
// processes outside it cannot be seen, so a live sftper there would look
// dead: a jailed sftper therefore has no tag, and sweeps nothing.
func hostTag() (string, error) {
	if jailed, err := unix.SysctlUint32("security.jail.jailed"); err != nil || jailed != 0 {
		return "", errors.New("in a jail (or cannot tell): processes outside it cannot be seen")
	}
	boot, err := unix.SysctlTimeval("kern.boottime")
	if err != nil {
		return "", fmt.Errorf("sysctl kern.boottime: %w", err)
	}
	uuid, err := unix.Sysctl("kern.hostuuid")
	if err != nil {
		return "", fmt.Errorf("sysctl kern.hostuuid: %w", err)
	}
	sum := sha256.Sum256([]byte(strconv.FormatInt(int64(boot.Sec), 10) + "." +
		strconv.FormatInt(int64(boot.Usec), 10) + "\n" + uuid))
	return hex.EncodeToString(sum[:4]), nil
}

// children returns the pids of pid's children.
func children(pid int) []int {
	b, err := unix.SysctlRaw("kern.proc.proc")
	if err != nil {
		return nil
	}
	recs, err := kinfoRecords(b)
	if err != nil {
		return nil
	}
	var out []int
	for _, r := range recs {
		if field32(r, kiPpid) == pid {
			out = append(out, field32(r, kiPid))
		}
	}
	return out
}

// processName is process pid's command name, or "" if it is gone.
func processName(pid int) string {
	r, err := kinfo(pid)
	if err != nil {
		return ""
	}
	comm := r[kiComm : kiComm+kiCommLength]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	return string(comm)
}

// processMoved is a count that grows whenever process pid does its work.
// FreeBSD keeps no per-process count of bytes read and written through
// pipes and sockets, so the count is the process's CPU time (ki_runtime,
// microseconds): sftp uses the CPU for every packet it passes and none
// while it waits for an answer, so a command that makes no progress
// leaves it still.
func processMoved(pid int) (uint64, error) {
	r, err := kinfo(pid)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(r[kiRuntime:]), nil
}
