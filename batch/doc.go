// Package batch is sftper's translation layer to and from the OpenSSH sftp
// command language. It turns one request into sftp command lines and reads
// what sftp printed for them back into structured results.
//
// It is also the one place that reads sftp's error messages (errors.go):
// which kind of failure each one reports, from the SFTP status text that
// ends it or from the shape of sftp's own messages.
//
// It is the one place where paths are quoted for sftp: every driver (the
// persistent session and the generated `sftp -b` scripts) builds its lines
// here, so a quoting fix lands everywhere at once. A path that cannot be
// passed to sftp as an exact literal is refused with an *UnsafePathError; it
// is never "mostly escaped".
//
// The package does no I/O: it neither starts sftp nor reads from it. The facts
// it relies on (how sftp tokenises a line, which arguments it globs, how it
// prints names) are those of OpenSSH 8.9 and later; they are recorded in the
// tests, which run the real sftp binary as well as replaying transcripts.
package batch
