package driver

import "syscall"

// sessionAttr starts a child in a session of its own. macOS has no
// parent-death signal, so sig goes unused; what ends each child when
// sftper is killed there instead:
//   - a session's sftp (and its ssh): the terminal sftper holds the
//     master side of closes, and the kernel hangs up its session;
//   - a batch script's sftp and the attribute channel's ssh: their
//     standard input reaches its end, and each exits at its next read;
//   - batch mode's ControlMaster (ssh -N), which reads nothing: it stays,
//     idle, until the next sftper's sweep of $TMPDIR finds its dead
//     owner's directory and asks it to exit over its control socket
//     (leftovers.go).
func sessionAttr(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}

// sessionAttrKills says whether sessionAttr's children get their signal
// when sftper dies.
const sessionAttrKills = false
