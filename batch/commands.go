package batch

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"
)

// Put uploads local to remote. A remote that is an existing directory
// receives the file under its own name, as sftp does.
func Put(local, remote string) (string, error) {
	return line("put", arg{path: local, kind: globbed}, arg{path: remote, kind: plain})
}

// Get downloads remote to local.
func Get(remote, local string) (string, error) {
	return line("get", arg{path: remote, kind: globbed}, arg{path: local, kind: plain})
}

// GetPart downloads remote into the file name in the local directory dir:
// a temporary name of the caller's own (plain characters only), up to
// maxName bytes long. The line's length is checked with the longest name,
// so that the same paths are always accepted or refused, whatever name
// was drawn.
func GetPart(remote, dir, name string, maxName int) (string, error) {
	return line("get", arg{path: remote, kind: globbed}, arg{path: strings.TrimSuffix(dir, "/") + "/", suffix: name, maxSuffix: maxName, kind: plain})
}

// Remove deletes one remote file or symlink. sftp's rm globs its operand;
// quoting makes every glob character literal, so it removes exactly the
// file named, or fails.
func Remove(remote string) (string, error) {
	return line("rm", arg{path: remote, kind: globbed})
}

// Chdir changes the session's remote working directory.
func Chdir(remote string) (string, error) {
	return line("cd", arg{path: remote, kind: plain})
}

// Stat lists one path in long format: a directory's contents, or the path
// itself when it is not a directory. Used to tell "not a directory" from
// "not found" after a listing failed. The path must be absolute (see
// NewListing).
func Stat(remote string) (string, error) {
	if err := absolute(remote); err != nil {
		return "", err
	}
	return line("ls -lan", arg{path: remote, kind: globbed})
}

// absolute refuses a relative path for ls. sftp makes a relative path
// absolute by putting its working directory in front, escaping the glob
// characters * ? [ ] \ of the directory but not braces, and ls expands
// braces: under a working directory named "{a}" a relative path would be
// listed under "a". The caller, which knows the working directory, joins
// the two itself.
func absolute(remote string) error {
	if !strings.HasPrefix(remote, "/") {
		return &UnsafePathError{Path: remote, Reason: "ls needs an absolute path"}
	}
	return nil
}

// Listing is one planned LISTDIR: the line to run and what its output must
// look like.
//
// The directory is listed through a path that ends in a random chain of
// "//" and "/." steps (dir//././/./.): the server resolves it to the
// directory itself, and sftp prints every entry as that path followed by
// "/" and the name. A name containing a newline makes sftp print a line
// of the name's choosing; since that line cannot know the chain, it cannot
// pass for an entry. The chain also ends in "/.", so a path that is not a
// directory fails to resolve instead of being listed as a single file.
//
// Every chain has the same length (TagLen), so whether a directory's
// entries fit in sftp's listing lines (see LsLineMax) depends on the
// directory and its names only, never on the draw: the same request gets
// the same answer every time.
//
// -a shows dot-files (and . and .., which are dropped); -n forces sftp's own
// long format (with the server's "longname" sftp would print the server's
// time zone and bare names); -l is the long format itself.
type Listing struct {
	Dir  string // as requested
	Line string // the sftp command line
	tag  string

	// What Add has read so far.
	now     time.Time
	entries []Entry
	err     error
}

// tagSteps is how many two-byte steps ("//" or "/.") the random chain
// has: 2^40 chains.
const tagSteps = 40

// TagLen is the length of every listing chain: the steps and the final
// "/.".
const TagLen = 2*tagSteps + 2

// NewListing plans a listing of dir, which must be absolute.
func NewListing(dir string) (*Listing, error) {
	if err := absolute(dir); err != nil {
		return nil, err
	}
	var rnd [tagSteps / 8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	var t strings.Builder
	t.Grow(TagLen)
	for i := 0; i < tagSteps; i++ {
		if rnd[i/8]>>(i%8)&1 == 1 {
			t.WriteString("/.")
		} else {
			t.WriteString("//")
		}
	}
	t.WriteString("/.")
	tag := t.String()
	l, err := line("ls -lan", arg{path: dir, suffix: tag, maxSuffix: TagLen, kind: globbed})
	if err != nil {
		return nil, err
	}
	return &Listing{Dir: dir, Line: l, tag: tag}, nil
}

// Clean removes the listing's chain from a message sftp printed about the
// listed path, so that the caller sees the path it asked for.
func (l *Listing) Clean(msg string) string {
	return strings.ReplaceAll(msg, l.tag, "")
}

// Pwd asks for the remote working directory; ParsePwd reads the answer.
const Pwd = "pwd"

// ParsePwd reads sftp's answer to Pwd ("Remote working directory: /H").
func ParsePwd(lines []string) (string, error) {
	const prefix = "Remote working directory: "
	if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) {
		return "", fmt.Errorf("unexpected answer to pwd: %q", lines)
	}
	dir, err := DecodePrinted(strings.TrimPrefix(lines[0], prefix))
	if err != nil {
		return "", fmt.Errorf("remote working directory: %v", err)
	}
	if !strings.HasPrefix(dir, "/") {
		return "", fmt.Errorf("remote working directory %q is not absolute", dir)
	}
	return dir, nil
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
