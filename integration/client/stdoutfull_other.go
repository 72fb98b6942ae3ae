//go:build !linux

package client

import "errors"

// StdoutFull reports whether the pipe from sftper's stdout holds all it can.
// Only Linux says how large a pipe is (F_GETPIPE_SZ); the integration
// suite runs on Linux.
func (p *Proc) StdoutFull() (bool, error) {
	return false, errors.New("StdoutFull: only Linux tells a pipe's size")
}
