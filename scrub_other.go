//go:build !linux

package main

import (
	"errors"
	"fmt"
	"runtime"
)

// The password in the environment, where there is no /proc/self/mem.
//
// macOS and FreeBSD show a process's environment to its own user and to
// root as execve laid it out (ps -E, procstat -e), and give a program no
// way to overwrite that block without finding its address in memory that
// the runtime does not expose; scrubEnv therefore refuses, sftper says so
// on stderr at start, and the README says to use --password-file there.

// environShown says where others see process pid's environment.
func environShown(pid int) string {
	if runtime.GOOS == "darwin" {
		return fmt.Sprintf("ps -E -p %d", pid)
	}
	return fmt.Sprintf("procstat -e %d", pid)
}

// scrubEnv cannot overwrite the original environment here.
func scrubEnv(name, value string) error {
	return errors.New("only Linux lets sftper overwrite it; --password-file keeps a password out of the environment")
}
