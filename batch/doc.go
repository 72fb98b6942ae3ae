// Package batch holds the words of OpenSSH sftp's command language that
// sftper speaks, and reads sftp's messages. It builds the command lines
// for PUT, GET and DELETE (put, get, rm), the session's own cd and pwd,
// and reads back what sftp printed for them: its messages (which kind of
// failure each one reports, errors.go, from the SFTP status text that ends
// it or from the shape of sftp's own messages) and pwd's answer.
//
// LISTDIR, STAT and LSTAT are not done by sftp any more: sftper reads
// names and attributes from SFTP packets on a channel of its own (the
// attribute channel, driver/attrs.go, speaking sftpwire), so this package
// neither builds ls lines nor reads listings.
//
// It is the one place where paths are quoted for sftp: every driver (the
// persistent session and the generated `sftp -b` scripts) builds its lines
// here, so a quoting fix lands everywhere at once. A path that cannot be
// passed to sftp as an exact literal is refused with an *UnsafePathError; it
// is never "mostly escaped".
//
// The package does no I/O: it neither starts sftp nor reads from it. The facts
// it relies on (how sftp tokenises a line, which arguments it globs, how it
// prints names and messages) are those of OpenSSH 8.9 and later; they are
// recorded in the tests, which run the real sftp binary as well as replaying
// transcripts.
package batch
