//go:build darwin || freebsd

package driver

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// xucredVersion is XUCRED_VERSION of <sys/ucred.h>, the same on both.
const xucredVersion = 0

// peerUID is the user of the process at the other end of Unix socket fd,
// as the kernel recorded it when that process connected (LOCAL_PEERCRED,
// what getpeereid(3) reads).
func peerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return -1, err
	}
	if cred.Version != xucredVersion {
		return -1, fmt.Errorf("LOCAL_PEERCRED: xucred version %d", cred.Version)
	}
	return int(cred.Uid), nil
}
