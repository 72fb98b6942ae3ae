package batch

import (
	"strings"
	"syscall"

	"github.com/sftper/sftper/proto"
)

// What sftp's messages say went wrong: the one place that reads sftp's
// error texts (OpenSSH 8.9 and later; the status texts are older).
//
// Every failed SFTP request that OpenSSH's sftp reports ends its message
// with the text of the server's status code, which fx2txt (sftp-common.c)
// maps one to one: "remote delete /p: No such file or directory". The end
// of a message therefore names the status code exactly, whatever the
// server's own wording or the path in front. What sftp checks itself,
// before or around a request (a glob that matched nothing, a local file),
// it says in messages of its own, told apart by how they begin.

// statusTexts are fx2txt's texts, each with the kind of its status code.
var statusTexts = []struct {
	text string
	kind proto.Kind
}{
	{"No such file or directory", proto.KindNoSuchFile}, // SSH2_FX_NO_SUCH_FILE
	{"Permission denied", proto.KindPermissionDenied},   // SSH2_FX_PERMISSION_DENIED
	{"Failure", proto.KindFailure},                      // SSH2_FX_FAILURE: the server says no more
	{"Bad message", proto.KindFailure},                  // SSH2_FX_BAD_MESSAGE (OpenSSH: ENAMETOOLONG, EINVAL)
	{"No connection", proto.KindConnectionLost},         // SSH2_FX_NO_CONNECTION
	{"Connection lost", proto.KindConnectionLost},       // SSH2_FX_CONNECTION_LOST
	{"Operation unsupported", proto.KindUnsupported},    // SSH2_FX_OP_UNSUPPORTED
	{"End of file", proto.KindFailure},                  // SSH2_FX_EOF where sftp wanted data
	{"Unknown status", proto.KindFailure},               // any other code (v4+ servers)
}

// localErrnos are the strerror(3) texts (glibc's) that end sftp's
// messages about local files, with their errno, so that a local failure
// unwraps to the fs sentinels too.
var localErrnos = []struct {
	text  string
	errno syscall.Errno
}{
	{"No such file or directory", syscall.ENOENT},
	{"Permission denied", syscall.EACCES},
	{"Operation not permitted", syscall.EPERM},
	{"Is a directory", syscall.EISDIR},
	{"Not a directory", syscall.ENOTDIR},
	{"File exists", syscall.EEXIST},
	{"No space left on device", syscall.ENOSPC},
	{"File name too long", syscall.ENAMETOOLONG},
	{"Read-only file system", syscall.EROFS},
}

// shape is one form of sftp message, by the text it begins with.
type shape struct {
	prefix string
	// kind of the message; "" means: the status text at its end says.
	kind proto.Kind
	// local: the message is about a local file, and ends in strerror's
	// text rather than a status text.
	local bool
	// early: sftp prints it before a put opens the remote file, or when
	// that open fails, so a put failing with it left the server unchanged.
	early bool
	// suffix, if set, must end the message too.
	suffix string
}

// shapes are sftp's messages that sftper tells apart, first match wins
// (so "stat remote: " comes before the put's local "stat ").
var shapes = []shape{
	// sftp-client.c do_stat, the remote stat before a get or a resume.
	{prefix: "stat remote: ", early: true},
	// sftp.c process_put: stat(2) of the local source, named as given
	// (sftper gives an absolute path).
	{prefix: "stat /", local: true, early: true},
	// sftp-client.c do_upload and do_download: the local file.
	{prefix: `open local "`, local: true, early: true},
	{prefix: `fstat local "`, local: true, early: true},
	{prefix: `local "`, kind: proto.KindLocal, early: true, suffix: `" is not a regular file`},
	{prefix: `stat local "`, local: true},
	{prefix: `write local "`, local: true},
	{prefix: `close local "`, local: true},
	{prefix: `local ftruncate "`, local: true},
	{prefix: "Couldn't open local", local: true, early: true}, // before OpenSSH 8.9
	// send_open: the remote open of a put ("dest") or a get ("remote").
	{prefix: `dest open "`, early: true},
	{prefix: `remote open "`},
	// sftp.c: the remote glob of a get matched nothing (the file is
	// missing, or a directory on the way cannot be searched).
	{prefix: `File "`, kind: proto.KindNoSuchFile, suffix: `" not found.`},
	// sftp-client.c do_download: the remote path is not a regular file.
	// The glob marks a directory with a trailing "/" (GLOB_MARK).
	{prefix: "download ", kind: proto.KindIsADirectory, suffix: "/: not a regular file"},
	{prefix: "download ", kind: proto.KindFailure, suffix: ": not a regular file"},
}

// Fault is what one of sftp's messages says went wrong.
type Fault struct {
	Kind proto.Kind
	// Errno is the local error a message about a local file names, if
	// localErrnos knows its text; 0 otherwise.
	Errno syscall.Errno
	// Early: a put failing with this message left the server unchanged
	// (see PutUnchanged).
	Early bool
}

// ParseMessage reads one of sftp's messages (as Messages returns them).
// ok is false for a message sftper does not recognise, and for one cut
// short (see CutMark), whose end is lost.
func ParseMessage(msg string) (f Fault, ok bool) {
	if strings.HasSuffix(msg, CutMark) {
		// The beginning survives, so a PUT's state is still known.
		// So is the kind of a message about a local file; a status text
		// or a suffix is lost.
		for _, s := range shapes {
			if strings.HasPrefix(msg, s.prefix) {
				if s.local {
					return Fault{Kind: proto.KindLocal, Early: s.early}, true
				}
				return Fault{Early: s.early}, false
			}
		}
		return Fault{}, false
	}
	for _, s := range shapes {
		if !strings.HasPrefix(msg, s.prefix) || !strings.HasSuffix(msg, s.suffix) ||
			len(msg) < len(s.prefix)+len(s.suffix) {
			continue
		}
		f := Fault{Kind: s.kind, Early: s.early}
		switch {
		case s.local:
			f.Kind = proto.KindLocal
			for _, e := range localErrnos {
				if strings.HasSuffix(msg, ": "+e.text) {
					f.Errno = e.errno
					break
				}
			}
		case f.Kind == "":
			k, ok := statusKind(msg)
			if !ok {
				return Fault{Early: s.early}, false
			}
			f.Kind = k
		}
		return f, true
	}
	// Any other message about a remote request, e.g. "remote delete P: S".
	if k, ok := statusKind(msg); ok {
		return Fault{Kind: k}, true
	}
	return Fault{}, false
}

// statusKind is the kind of the status text that ends msg, if one does.
func statusKind(msg string) (proto.Kind, bool) {
	for _, st := range statusTexts {
		if strings.HasSuffix(msg, ": "+st.text) {
			return st.kind, true
		}
	}
	return "", false
}

// MessagesError is the error that sftp's messages for one command report:
// its text is every message, joined by "; "; its kind is that of the first
// message ParseMessage recognises, KindFailure if none. A local failure
// whose errno is known unwraps to it, so errors.Is(err, fs.ErrNotExist)
// holds for a missing remote file and a missing local one alike.
// msgs must not be empty.
func MessagesError(msgs []string) *proto.Error {
	e := &proto.Error{Kind: proto.KindFailure, Msg: strings.Join(msgs, "; ")}
	for _, m := range msgs {
		if f, ok := ParseMessage(m); ok {
			e.Kind = f.Kind
			if f.Errno != 0 {
				e.Err = f.Errno
			}
			break
		}
	}
	return e
}

// PutUnchanged reports whether a put that failed with msgs left the server
// unchanged: sftp checks the local file ("stat ...", "local ...") and then
// opens the remote one ("dest open ..."), and only after that can anything
// be left behind.
func PutUnchanged(msgs []string) bool {
	for _, m := range msgs {
		if f, _ := ParseMessage(m); !f.Early {
			return false
		}
	}
	return true
}
