package driver

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// Options that must come first on ssh's command line.
//
// ssh keeps the first value it is given for an option, and sftp puts its
// own options in front of the user's when it runs ssh: since OpenSSH 10.0
// (sftp.c, "Pass ControlMaster no to ssh when invoked by scp & sftp") these
// include -oControlMaster no. A session's ssh that sftper makes the
// connection's master (ControlMaster=yes, for the attribute channel; see
// Session.spawn) would then not be one: passed through sftp's -o, sftper's
// option comes too late. Measured against OpenSSH 10.5p1's sftp: every
// LISTDIR and STAT failed with "the connection's master is gone".
//
// So sftper names itself as sftp's ssh program (-S), with SSHExecEnv
// holding the real program (the user's own -S, or ssh) and the options to
// put first. Started that way, sftper does nothing but replace itself
// with that program (execve, ExecSSH): the options first, then everything
// sftp gave. No process stays between sftp and ssh, so the data path is
// as before; ssh's process name, its parent and its pid are those sftp
// would have given it. One mechanism for every OpenSSH version: before
// 10.0 the options come first just the same.

// SSHExecEnv is the environment variable that makes sftper replace itself
// with ssh: a JSON array, the program and then the options to put first.
const SSHExecEnv = "SFTPER_SSH_EXEC"

// ExecSSH is that side: it runs the program that value names, with its
// options and then args, in place of this process. It returns only if
// that cannot be done.
func ExecSSH(value string, args []string) error {
	var first []string
	if err := json.Unmarshal([]byte(value), &first); err != nil || len(first) == 0 || first[0] == "" {
		return fmt.Errorf("%s is not a JSON array of a program and its options", SSHExecEnv)
	}
	prog := first[0]
	path := prog
	if !strings.Contains(prog, "/") {
		var err error
		if path, err = exec.LookPath(prog); err != nil {
			return err
		}
	}
	// Nothing that ssh runs (a ProxyCommand, a LocalCommand) is to see it.
	os.Unsetenv(SSHExecEnv)
	argv := append(append([]string{prog}, first[1:]...), args...)
	return syscall.Exec(path, argv, os.Environ())
}

// sshFirstCommand returns the sftp command line prog (the program and its
// options) changed so that sftp's ssh gets first ahead of every other
// option, and the environment entry that carries them: the user's own -S
// (or ssh) becomes the program sftper runs in its place. The caller still
// gives sftp the same options through -o as well: a wrapper of the user's
// that sets sftp's -S itself would otherwise lose them, and before
// OpenSSH 10.0 they hold that way too; the same value twice changes
// nothing.
func sshFirstCommand(prog []string, first []string) ([]string, string, error) {
	if len(prog) == 0 {
		return nil, "", errors.New("no sftp program")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("cannot name sftper as sftp's ssh program: %w", err)
	}
	real := sshProgram(prog)
	value, err := json.Marshal(append([]string{real}, first...))
	if err != nil {
		return nil, "", err
	}
	// The user's -S goes (its program is now SSHExecEnv's), and sftper's
	// comes after the user's own arguments, not before: a wrapper given
	// as the sftp program may read arguments of its own first.
	out := []string{prog[0]}
	args := prog[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(append(out, "-S", exe), args[i:]...), SSHExecEnv + "=" + string(value), nil
		}
		switch {
		case a == "-S" && i+1 < len(args):
			i++
		case strings.HasPrefix(a, "-S"):
		default:
			out = append(out, a)
		}
	}
	return append(out, "-S", exe), SSHExecEnv + "=" + string(value), nil
}
