package batch

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Put uploads local to remote. A remote that is an existing directory
// receives the file under its own name, as sftp does.
func Put(local, remote string) (string, error) { return PutWith(local, remote, Flags{}) }

// PutWith is Put with sftp's transfer flags.
func PutWith(local, remote string, f Flags) (string, error) {
	return flagLine("put", f.String(), arg{path: local}, arg{path: remote})
}

// Get downloads remote to local.
func Get(remote, local string) (string, error) {
	return line("get", arg{path: remote}, arg{path: local})
}

// GetPart downloads remote into the file name in the local directory dir:
// a temporary name of the caller's own (plain characters only), up to
// maxName bytes long. The line's length is checked with the longest name,
// so that the same paths are always accepted or refused, whatever name
// was drawn.
func GetPart(remote, dir, name string, maxName int) (string, error) {
	return GetPartWith(remote, dir, name, maxName, Flags{})
}

// GetPartWith is GetPart with sftp's transfer flags.
func GetPartWith(remote, dir, name string, maxName int, f Flags) (string, error) {
	return flagLine("get", f.String(), arg{path: remote}, arg{path: strings.TrimSuffix(dir, "/") + "/", suffix: name, maxSuffix: maxName})
}

// Flags are the flags of sftp's put and get that sftper uses (OpenSSH 9.2:
// get [-afpR], put [-afpR]).
type Flags struct {
	// Preserve is -p: the file's permission bits and its access and
	// modification times go with it (put: an FSETSTAT before the
	// remote file is closed; get: chmod and utimes of the local one).
	Preserve bool
	// Fsync is -f: the file is flushed to disk before it is closed (put:
	// the server's fsync@openssh.com, if it has it; get: fsync(2)).
	Fsync bool
	// Resume is -a: the transfer goes on from the destination's size
	// (reput, reget); the destination must exist and be shorter (put),
	// or not be longer (get).
	Resume bool
}

// String is the flags as one sftp word, "-pfa", or "" for none.
func (f Flags) String() string {
	s := ""
	if f.Preserve {
		s += "p"
	}
	if f.Fsync {
		s += "f"
	}
	if f.Resume {
		s += "a"
	}
	if s == "" {
		return ""
	}
	return "-" + s
}

// Remove deletes one remote file or symlink. sftp's rm globs its operand;
// quoting makes every glob character literal, so it removes exactly the
// file named, or fails.
func Remove(remote string) (string, error) {
	return line("rm", arg{path: remote})
}

// Chdir changes the session's remote working directory.
func Chdir(remote string) (string, error) {
	return line("cd", arg{path: remote})
}

// Pwd asks for the remote working directory; ParsePwd reads the answer.
const Pwd = "pwd"

// ParsePwd reads sftp's answer to Pwd ("Remote working directory: /H").
func ParsePwd(lines []string) (string, error) {
	const prefix = "Remote working directory: "
	if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) {
		return "", fmt.Errorf("unexpected answer to pwd: %q", lines)
	}
	dir, err := decodePrinted(strings.TrimPrefix(lines[0], prefix))
	if err != nil {
		return "", fmt.Errorf("remote working directory: %v", err)
	}
	if !strings.HasPrefix(dir, "/") {
		return "", fmt.Errorf("remote working directory %q is not absolute", dir)
	}
	return dir, nil
}

// decodePrinted recovers text (a name, a path) that sftp printed on its
// standard output, or says why it cannot be recovered exactly. In a UTF-8
// locale sftp prints printable characters (UTF-8 included) as they are,
// TAB, CR and LF raw, and every other byte as a backslash and three octal
// digits, but it does not escape the backslash itself. So "\001" in the
// output is either the byte 1 or the four characters \ 0 0 1 in the name:
// that cannot be told apart, and such a name is refused. A backslash
// followed by digits that spell a printable ASCII character is plain text,
// since sftp would have printed that character as is.
func decodePrinted(s string) (string, error) {
	for i := 0; i+3 < len(s); i++ {
		if s[i] != '\\' || !isOctal(s[i+1]) || !isOctal(s[i+2]) || !isOctal(s[i+3]) || s[i+1] > '3' {
			continue
		}
		v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
		if v < 0x20 || v >= 0x7f {
			return "", fmt.Errorf(`sftp printed %q, which is either a byte it escaped or those characters in the name; the name cannot be recovered exactly`, s[i:i+4])
		}
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("name is not valid UTF-8")
	}
	return s, nil
}

// Join makes a remote path absolute against the working directory dir the
// way sftp itself does, by joining the strings: no cleaning, since ".."
// after a symlink means what the server says it means.
func Join(dir, p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return strings.TrimSuffix(dir, "/") + "/" + p
}
