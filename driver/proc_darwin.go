package driver

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// What sftper reads of other processes, on macOS: sysctl kern.proc (the
// kinfo_proc that ps reads) and proc_info's rusage (what top reads). The
// functions and their meanings are those of proc_linux.go.

// errNoProcess is the error for a pid that names no process.
var errNoProcess = fmt.Errorf("no such process: %w", fs.ErrNotExist)

// kinfo reads process pid's kinfo_proc.
func kinfo(pid int) (*unix.KinfoProc, error) {
	procs, err := unix.SysctlKinfoProcSlice("kern.proc.pid", pid)
	if err != nil {
		return nil, fmt.Errorf("sysctl kern.proc.pid.%d: %w", pid, err)
	}
	if len(procs) != 1 || int(procs[0].Proc.P_pid) != pid {
		return nil, errNoProcess
	}
	return &procs[0], nil
}

// sZomb is SZOMB of <sys/proc.h>: exited, not yet reaped.
const sZomb = 5

// procStart reads process pid's start time (microseconds since the epoch)
// and whether it is a zombie.
func procStart(pid int) (start uint64, zombie bool, err error) {
	kp, err := kinfo(pid)
	if err != nil {
		return 0, false, err
	}
	t := kp.Proc.P_starttime
	return uint64(t.Sec)*1e6 + uint64(t.Usec), kp.Proc.P_stat == sZomb, nil
}

// hostTag names where process numbers mean what they say: this boot
// (kern.boottime) of this machine (kern.uuid). macOS has no pid
// namespaces.
func hostTag() (string, error) {
	boot, err := unix.SysctlTimeval("kern.boottime")
	if err != nil {
		return "", fmt.Errorf("sysctl kern.boottime: %w", err)
	}
	uuid, err := unix.Sysctl("kern.uuid")
	if err != nil {
		return "", fmt.Errorf("sysctl kern.uuid: %w", err)
	}
	sum := sha256.Sum256([]byte(strconv.FormatInt(int64(boot.Sec), 10) + "." +
		strconv.FormatInt(int64(boot.Usec), 10) + "\n" + uuid))
	return hex.EncodeToString(sum[:4]), nil
}

// children returns the pids of pid's children.
func children(pid int) []int {
	procs, err := unix.SysctlKinfoProcSlice("kern.proc.all")
	if err != nil {
		return nil
	}
	var out []int
	for i := range procs {
		if int(procs[i].Eproc.Ppid) == pid && procs[i].Proc.P_pid != 0 {
			out = append(out, int(procs[i].Proc.P_pid))
		}
	}
	return out
}

// processName is process pid's command name, or "" if it is gone.
func processName(pid int) string {
	kp, err := kinfo(pid)
	if err != nil {
		return ""
	}
	return unix.ByteSliceToString(kp.Proc.P_comm[:])
}

// proc_info(2)'s call and flavour for proc_pid_rusage, and where the CPU
// times sit in struct rusage_info_v0 (after the 16-byte ri_uuid).
const (
	procInfoCallPidRusage = 9
	rusageInfoV0          = 0
	rusageInfoV0Size      = 96
)

// processMoved is a count that grows whenever process pid does its work.
// macOS keeps no per-process count of bytes read and written through
// pipes and sockets, so the count is the process's CPU time (user plus
// system, in the kernel's absolute-time units, from proc_pid_rusage):
// sftp uses the CPU for every packet it passes and none while it waits
// for an answer, so a command that makes no progress leaves it still.
func processMoved(pid int) (uint64, error) {
	var buf [rusageInfoV0Size]byte
	_, _, errno := syscall.Syscall6(unix.SYS_PROC_INFO, procInfoCallPidRusage, uintptr(pid),
		rusageInfoV0, 0, uintptr(unsafe.Pointer(&buf[0])), 0)
	switch {
	case errno == syscall.ESRCH:
		return 0, errNoProcess
	case errno != 0:
		return 0, fmt.Errorf("proc_pid_rusage(%d): %w", pid, errno)
	}
	user := binary.LittleEndian.Uint64(buf[16:])
	system := binary.LittleEndian.Uint64(buf[24:])
	return user + system, nil
}
