package batch

import (
	"fmt"
	"strings"
)

// sftpLineLimit is the longest line, without its newline, that sftp reads
// as one command: it reads commands with fgets into a 2048-byte buffer, and
// in batch and pipe mode a longer line is split, its tail run as a second
// command. A line that would not fit is refused, never sent.
const sftpLineLimit = 2046

// MaxLine is the longest command line this package builds, without its
// newline: sftp's limit less two bytes for the prefixes a driver puts in
// front ("@" so that sftp does not echo the line, "-" so that a batch goes
// on after it fails).
const MaxLine = sftpLineLimit - 2

// UnsafePathError reports a path that cannot be passed to sftp as an exact
// literal. The request carrying it must be refused, not sent.
type UnsafePathError struct {
	Path   string
	Reason string
}

func (e *UnsafePathError) Error() string {
	return fmt.Sprintf("path %q cannot be passed to sftp safely: %s", e.Path, e.Reason)
}

// CheckPath refuses what no quoting can carry through sftp's line reader:
// the empty path, NUL (it ends the C string), and LF or CR (they end the
// command line, so the rest would run as a second command). Every other
// byte, TAB and other control characters included, is literal inside
// double quotes when sftp reads its commands from a pipe.
func CheckPath(p string) error {
	if p == "" {
		return &UnsafePathError{Path: p, Reason: "empty path"}
	}
	if i := strings.IndexAny(p, "\x00\n\r"); i >= 0 {
		what := map[byte]string{0: "a NUL byte", '\n': "a newline", '\r': "a carriage return"}[p[i]]
		return &UnsafePathError{Path: p, Reason: "it contains " + what}
	}
	return nil
}

// quote renders p as one double-quoted sftp word that sftp turns back into
// exactly p, whether it globs the argument or not. After tokenising, sftp
// passes get's and put's sources and rm's operand through glob(3), which
// removes one level of backslash escaping; the other arguments (put's and
// get's destinations, cd's) only have \*, \?, \[ and \\ un-escaped, and
// any other backslash stays.
//
// Inside double quotes sftp's tokeniser (makeargv) keeps word separators and
// '#' literal, turns \" into ", keeps any other backslash pair as it is, and
// escapes * ? [ itself so that glob treats them as literal. Doubling every
// backslash therefore survives both glob and the un-escaping. Braces need
// nothing: glob expands them only when asked to, which sftp does for ls
// alone, and sftper sends no ls.
func quote(p string) string {
	var b strings.Builder
	b.Grow(len(p) + 8)
	b.WriteByte('"')
	for i := 0; i < len(p); i++ {
		if c := p[i]; c == '\\' || c == '"' {
			b.WriteByte('\\')
		}
		b.WriteByte(p[i])
	}
	b.WriteByte('"')
	return b.String()
}

// line builds one sftp command line: the command, its flags, "--" so that no
// operand is ever read as an option, and each operand quoted.
// The length is checked with each operand's longest suffix, so that the
// same paths are always accepted or always refused.
func line(cmd string, args ...arg) (string, error) { return flagLine(cmd, "", args...) }

// flagLine is line with flags ("-pf", or "" for none) after the command.
func flagLine(cmd, flags string, args ...arg) (string, error) {
	var b strings.Builder
	b.WriteString(cmd)
	if flags != "" {
		b.WriteByte(' ')
		b.WriteString(flags)
	}
	b.WriteString(" --")
	longest, worst := 0, b.Len()
	for i, a := range args {
		if err := CheckPath(a.path); err != nil {
			return "", err
		}
		b.WriteByte(' ')
		q := quote(a.path + a.suffix)
		b.WriteString(q)
		worst += 1 + len(q) - len(a.suffix) + max(a.maxSuffix, len(a.suffix))
		if len(a.path) > len(args[longest].path) {
			longest = i
		}
	}
	if worst > MaxLine {
		return "", &UnsafePathError{
			Path:   args[longest].path,
			Reason: fmt.Sprintf("the sftp command line would be %d bytes, over sftp's limit of %d", worst, MaxLine),
		}
	}
	return b.String(), nil
}

type arg struct {
	path      string
	suffix    string // appended after checking: sftper's own, always safe
	maxSuffix int    // the longest suffix this operand can get
}
