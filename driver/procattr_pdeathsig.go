//go:build linux || freebsd

package driver

import "syscall"

// sessionAttr starts a child in a session of its own that the kernel
// sends sig when sftper dies (Pdeathsig: prctl PR_SET_PDEATHSIG on Linux,
// procctl PROC_PDEATHSIG_CTL on FreeBSD). Where the platform has no such
// signal, see procattr_darwin.go.
func sessionAttr(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: sig}
}

// sessionAttrKills says whether sessionAttr's children get their signal
// when sftper dies.
const sessionAttrKills = true
