package batch

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/proto"
)

// messageCases are sftp's messages as OpenSSH 9.2 prints them (the real
// runs in integration/kinds_test.go and the reference's tables), and what
// each says.
var messageCases = []struct {
	msg  string
	want Fault
	ok   bool
}{
	// The status texts, at the end of a message about a remote request.
	{`remote delete /H/x: No such file or directory`, Fault{Kind: proto.KindNoSuchFile}, true},
	{`remote delete /H/rootdir/rfile: Permission denied`, Fault{Kind: proto.KindPermissionDenied}, true},
	{`remote delete /H/dir: Failure`, Fault{Kind: proto.KindFailure}, true},
	{`remote mkdir "/H/` + strings.Repeat("n", 300) + `": Bad message`, Fault{Kind: proto.KindFailure}, true},
	{`remote readdir("/H/d"): No connection`, Fault{Kind: proto.KindConnectionLost}, true},
	{`remote readdir("/H/d"): Connection lost`, Fault{Kind: proto.KindConnectionLost}, true},
	{`remote statvfs: Operation unsupported`, Fault{Kind: proto.KindUnsupported}, true},
	{`read remote "/H/x" : End of file`, Fault{Kind: proto.KindFailure}, true},
	{`remote rename "/H/a" to "/H/b": Unknown status`, Fault{Kind: proto.KindFailure}, true},
	{`remote readdir("/H/noperm/"): Permission denied`, Fault{Kind: proto.KindPermissionDenied}, true},
	{`Couldn't delete file: No such file or directory`, Fault{Kind: proto.KindNoSuchFile}, true}, // before 8.9
	// The status text wins over a path that looks like one.
	{`remote delete /H/a: Permission denied: No such file or directory`, Fault{Kind: proto.KindNoSuchFile}, true},

	// Shapes of sftp's own.
	{`stat remote: No such file or directory`, Fault{Kind: proto.KindNoSuchFile, Early: true}, true},
	{`stat /l/nonexist.txt: No such file or directory`, Fault{Kind: proto.KindLocal, Errno: syscall.ENOENT, Early: true}, true},
	{`open local "/l/x": Permission denied`, Fault{Kind: proto.KindLocal, Errno: syscall.EACCES, Early: true}, true},
	{`open local "/srv/t/nonexistdir/": Is a directory`, Fault{Kind: proto.KindLocal, Errno: syscall.EISDIR, Early: true}, true},
	{`fstat local "/l/x": Input/output error`, Fault{Kind: proto.KindLocal, Early: true}, true},
	{`local "/l/ldir/" is not a regular file`, Fault{Kind: proto.KindLocal, Early: true}, true},
	{`stat local "/l/x": Not a directory`, Fault{Kind: proto.KindLocal, Errno: syscall.ENOTDIR}, true},
	{`write local "/l/x": No space left on device`, Fault{Kind: proto.KindLocal, Errno: syscall.ENOSPC}, true},
	{`close local "/l/x": Read-only file system`, Fault{Kind: proto.KindLocal, Errno: syscall.EROFS}, true},
	{`local ftruncate "/l/x": Operation not permitted`, Fault{Kind: proto.KindLocal, Errno: syscall.EPERM}, true},
	{`Couldn't open local file "/l/x" for writing: File exists`, Fault{Kind: proto.KindLocal, Errno: syscall.EEXIST, Early: true}, true},
	{`open local "/l/` + strings.Repeat("n", 300) + `": File name too long`, Fault{Kind: proto.KindLocal, Errno: syscall.ENAMETOOLONG, Early: true}, true},
	{`dest open "/H/rootdir/l1.txt": Permission denied`, Fault{Kind: proto.KindPermissionDenied, Early: true}, true},
	{`dest open "/H/plain.txt/x": No such file or directory`, Fault{Kind: proto.KindNoSuchFile, Early: true}, true},
	{`dest open "/H/nonexistdir/": Failure`, Fault{Kind: proto.KindFailure, Early: true}, true},
	{`remote open "/H/rootonly.txt": Permission denied`, Fault{Kind: proto.KindPermissionDenied}, true},
	{`File "/H/nonexist.txt" not found.`, Fault{Kind: proto.KindNoSuchFile}, true},
	{`download /H/dir/: not a regular file`, Fault{Kind: proto.KindIsADirectory}, true},
	{`download /H/fifo: not a regular file`, Fault{Kind: proto.KindFailure}, true},

	// Cut short: the beginning still says what it can.
	{`open local "/l/` + strings.Repeat("n", 990) + CutMark, Fault{Kind: proto.KindLocal, Early: true}, true},
	{`dest open "/H/` + strings.Repeat("n", 990) + CutMark, Fault{Early: true}, false},
	{`remote delete /H/` + strings.Repeat("n", 990) + CutMark, Fault{}, false},

	// Not recognised.
	{`Too many matches for "/H/*".`, Fault{}, false},
	{`remote delete /H/x: Something new`, Fault{}, false},
	{`dest open "/H/x": Something new`, Fault{Early: true}, false},
	{`File "/H/x" is odd`, Fault{}, false},
	{``, Fault{}, false},
}

func TestParseMessage(t *testing.T) {
	for _, tt := range messageCases {
		got, ok := ParseMessage(tt.msg)
		if diff := cmp.Diff(tt.want, got); diff != "" || ok != tt.ok {
			t.Errorf("ParseMessage(%.80q) = %v (-want +got):\n%s", tt.msg, ok, diff)
		}
	}
}

// TestEveryTextHasACase: each entry of the tables is exercised above.
func TestEveryTextHasACase(t *testing.T) {
	has := func(f func(msg string) bool) bool {
		for _, tt := range messageCases {
			if tt.ok && f(tt.msg) {
				return true
			}
		}
		return false
	}
	for _, st := range statusTexts {
		if !has(func(m string) bool { return strings.HasSuffix(m, ": "+st.text) }) {
			t.Errorf("no case ends in the status text %q", st.text)
		}
	}
	for _, e := range localErrnos {
		if !has(func(m string) bool { f, _ := ParseMessage(m); return f.Errno == e.errno }) {
			t.Errorf("no case names errno %q", e.text)
		}
	}
	for _, s := range shapes {
		if !has(func(m string) bool { return strings.HasPrefix(m, s.prefix) && strings.HasSuffix(m, s.suffix) }) {
			t.Errorf("no case has the shape %q...%q", s.prefix, s.suffix)
		}
	}
}

func TestMessagesError(t *testing.T) {
	tests := []struct {
		msgs     []string
		kind     proto.Kind
		text     string
		notExist bool
		perm     bool
	}{
		{[]string{`File "/H/x" not found.`}, proto.KindNoSuchFile, `File "/H/x" not found.`, true, false},
		{[]string{`remote delete /H/r/f: Permission denied`}, proto.KindPermissionDenied, `remote delete /H/r/f: Permission denied`, false, true},
		{[]string{`open local "/l/x": No such file or directory`}, proto.KindLocal, `open local "/l/x": No such file or directory`, true, false},
		{[]string{`something`, `dest open "/H/x": Permission denied`}, proto.KindPermissionDenied, `something; dest open "/H/x": Permission denied`, false, true},
		{[]string{`something`}, proto.KindFailure, `something`, false, false},
	}
	for _, tt := range tests {
		err := MessagesError(tt.msgs)
		if err.Kind != tt.kind || err.Error() != tt.text || proto.KindOf(err) != tt.kind {
			t.Errorf("MessagesError(%q) = %q kind %s, want %q kind %s", tt.msgs, err.Error(), err.Kind, tt.text, tt.kind)
		}
		var wrapped error = err
		if got := errors.Is(wrapped, fs.ErrNotExist); got != tt.notExist {
			t.Errorf("MessagesError(%q): errors.Is(fs.ErrNotExist) = %v", tt.msgs, got)
		}
		if got := errors.Is(wrapped, fs.ErrPermission); got != tt.perm {
			t.Errorf("MessagesError(%q): errors.Is(fs.ErrPermission) = %v", tt.msgs, got)
		}
	}
}

func TestPutUnchanged(t *testing.T) {
	tests := []struct {
		msgs []string
		want bool
	}{
		{[]string{`stat /l/x: No such file or directory`}, true},
		{[]string{`local "/l/d/" is not a regular file`}, true},
		{[]string{`dest open "/H/r/x": Permission denied`}, true},
		{[]string{`open local "/l/x": Permission denied`}, true},
		{[]string{`Couldn't open local file "/l/x": Permission denied`}, true},
		{[]string{`write remote "/H/x": Failure`}, false},
		{[]string{`dest open "/H/x": Permission denied`, `remote fsetstat: Failure`}, false},
		{[]string{`dest open "/H/` + strings.Repeat("n", 990) + CutMark}, true},
	}
	for _, tt := range tests {
		if got := PutUnchanged(tt.msgs); got != tt.want {
			t.Errorf("PutUnchanged(%.80q) = %v, want %v", tt.msgs, got, tt.want)
		}
	}
}

// FuzzParseMessage: any text is read without a panic, and a kind that
// comes back is one of the protocol's.
func FuzzParseMessage(f *testing.F) {
	for _, tt := range messageCases {
		f.Add(tt.msg)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		fault, ok := ParseMessage(msg)
		if ok && !slices.Contains(proto.Kinds, fault.Kind) {
			t.Fatalf("ParseMessage(%q) = kind %q, not one of proto.Kinds", msg, fault.Kind)
		}
		if !ok && fault.Kind != "" {
			t.Fatalf("ParseMessage(%q) gave kind %q but not ok", msg, fault.Kind)
		}
		if fault.Errno != 0 && fault.Kind != proto.KindLocal {
			t.Fatalf("ParseMessage(%q) gave errno %v for kind %q", msg, fault.Errno, fault.Kind)
		}
	})
}
