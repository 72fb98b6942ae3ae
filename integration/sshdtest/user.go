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

// loginUser returns the account the server lets in: as root, name (created
// when missing); otherwise the current user.
func loginUser(name string) (_ string, uid, gid int, err error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return "", 0, 0, err
		}
		return u.Username, os.Getuid(), os.Getgid(), nil
	}
	if err := ensureUser(name); err != nil {
		return "", 0, 0, err
	}
	u, err := user.Lookup(name)
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
	unlock, err := lockFile(filepath.Join(lockDir(), "sshdtest-useradd.lock"))
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
	return runCmd(exec.Command(prog, args...))
}

// runCmd is run for a prepared command.
func runCmd(cmd *exec.Cmd) (int, string, error) {
	out, err := cmd.CombinedOutput()
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
	e, err := shadowEntry(name)
	if err != nil || e == nil {
		return false, err
	}
	return strings.HasPrefix(e[1], "!"), nil
}

// shadowEntry returns name's line of /etc/shadow split at the colons, or
// nil if there is none. Callers must not let field 1, the password hash,
// reach an error or a log.
func shadowEntry(name string) ([]string, error) {
	f, err := os.Open("/etc/shadow")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 2 && fields[0] == name {
			return fields, nil
		}
	}
	return nil, sc.Err()
}

// passwordAccounts bounds how many servers with a real password can run on
// one machine at once: each needs an account of its own.
const passwordAccounts = 16

// accountName is the name of the n-th password account (from 1): TestUser,
// then TestUser2, TestUser3...
func accountName(n int) string {
	if n == 1 {
		return TestUser
	}
	return TestUser + strconv.Itoa(n)
}

// claimAccount reserves the first password account that no server holds,
// in this process or any other, and returns its name and the function that
// gives it back. The reservation is an flock, so a test process that dies
// releases its accounts.
//
// One account per server, rather than one for all, because `go test ./...`
// runs packages in parallel: two servers giving the same account different
// passwords would each lock the other's client out.
func claimAccount() (name string, release func(), err error) {
	dir := lockDir()
	for n := 1; n <= passwordAccounts; n++ {
		name := accountName(n)
		path := filepath.Join(dir, "sshdtest-account-"+name+".lock")
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return "", nil, err
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			continue
		}
		if err != nil {
			f.Close()
			return "", nil, fmt.Errorf("flock %s: %w", path, err)
		}
		return name, func() { f.Close() }, nil
	}
	return "", nil, fmt.Errorf("sshdtest: all %d password accounts (%s to %s) are held by running servers",
		passwordAccounts, accountName(1), accountName(passwordAccounts))
}

func lockDir() string {
	if _, err := os.Stat("/run"); err == nil {
		return "/run"
	}
	return os.TempDir()
}

// setPassword gives name the password pw through chpasswd's stdin, the only
// place the secret goes outside this process, and makes sure PAM's account
// checks pass: chpasswd also resets the "last changed" day, so the password
// is neither expired nor due for a change, and an expiry date on the
// account (which makes pam_unix answer "Your account has expired") is
// removed.
func setPassword(name string, pw Secret) error {
	if strings.ContainsAny(string(pw), ":\n") {
		return errors.New("sshdtest: password contains ':' or a newline, which chpasswd cannot take")
	}
	err := retryLocked(func() (int, string, error) {
		cmd := exec.Command("chpasswd")
		cmd.Stdin = strings.NewReader(name + ":" + string(pw) + "\n")
		return runCmd(cmd)
	}, -1)
	if err != nil {
		// chpasswd names the line and the user, never the password.
		return fmt.Errorf("setting the password of %s: %w", name, err)
	}
	e, err := shadowEntry(name)
	if err != nil {
		return err
	}
	if len(e) > 7 && e[7] != "" {
		err := retryLocked(func() (int, string, error) {
			return run("chage", "--expiredate", "-1", name)
		}, -1)
		if err != nil {
			return fmt.Errorf("removing the expiry date of %s: %w", name, err)
		}
	}
	return nil
}

// resetPassword puts back the unusable, unlocked "*" that ensureUser gives
// a new account, so that no password outlives its server.
func resetPassword(name string) error {
	err := retryLocked(func() (int, string, error) {
		return run("usermod", "--password", "*", name)
	}, -1)
	if err != nil {
		return fmt.Errorf("resetting the password of %s: %w", name, err)
	}
	return nil
}

func accountExists(name string) bool {
	_, err := user.Lookup(name)
	return err == nil
}
