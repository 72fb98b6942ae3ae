package sshdtest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TestUser is the unprivileged account that logs in when the harness runs
// as root. Root ignores file permissions, so a root login would make every
// "Permission denied" test meaningless.
const TestUser = "sftpertest"

// loginUser returns the account the server lets in, creating TestUser when
// running as root.
func loginUser() (name string, uid, gid int, err error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return "", 0, 0, err
		}
		return u.Username, os.Getuid(), os.Getgid(), nil
	}
	if err := ensureUser(TestUser); err != nil {
		return "", 0, 0, err
	}
	u, err := user.Lookup(TestUser)
	if err != nil {
		return "", 0, 0, err
	}
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		return "", 0, 0, err
	}
	gid, err = strconv.Atoi(u.Gid)
	if err != nil {
		return "", 0, 0, err
	}
	return u.Username, uid, gid, nil
}

// ensureUser creates a system account with no home directory and an
// unusable but unlocked password ("*"): sshd with UsePAM no refuses
// accounts whose password field starts with "!", even for key logins.
//
// Two test processes may call this at once. Two concurrent useradds were
// seen to leave the account with a uid different from the one the first
// one reported, so the whole check-and-create runs under an flock shared
// by all processes on the machine. useradd and usermod also fail while
// something else (an admin, a package script) holds /etc/passwd, so they
// are retried; useradd's "already exists" (exit 9) is success.
func ensureUser(name string) error {
	lockDir := "/run"
	if _, err := os.Stat(lockDir); err != nil {
		lockDir = os.TempDir()
	}
	unlock, err := lockFile(filepath.Join(lockDir, "sshdtest-useradd.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := user.Lookup(name); err != nil {
		err := retryLocked(func() (int, string, error) {
			return run("useradd", "--system", "--no-create-home",
				"--home-dir", "/nonexistent", "--shell", "/bin/sh",
				"--password", "*", name)
		}, 9)
		if err != nil {
			return fmt.Errorf("creating user %s: %w", name, err)
		}
	}
	locked, err := shadowLocked(name)
	if err != nil {
		return err
	}
	if locked {
		err := retryLocked(func() (int, string, error) {
			return run("usermod", "--password", "*", name)
		}, -1)
		if err != nil {
			return fmt.Errorf("unlocking user %s: %w", name, err)
		}
	}
	return nil
}

// lockFile takes an exclusive flock on path, creating it, and returns the
// function that releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// retryLocked runs f until it exits 0 or okCode, for up to 10 seconds.
func retryLocked(f func() (code int, out string, err error), okCode int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out, err := f()
		if err == nil && (code == 0 || code == okCode) {
			return nil
		}
		if err != nil && code < 0 {
			return err // could not run the program at all
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("exit status %d: %s", code, strings.TrimSpace(out))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// run runs a program and returns its exit code (-1 if it could not start)
// and its combined output.
func run(prog string, args ...string) (int, string, error) {
	out, err := exec.Command(prog, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out), nil
	}
	if err != nil {
		return -1, string(out), err
	}
	return 0, string(out), nil
}

// shadowLocked reports whether name's password field in /etc/shadow
// starts with "!".
func shadowLocked(name string) (bool, error) {
	f, err := os.Open("/etc/shadow")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), ":", 3)
		if len(fields) >= 2 && fields[0] == name {
			return strings.HasPrefix(fields[1], "!"), nil
		}
	}
	return false, sc.Err()
}
