// Package driver owns the OpenSSH sftp child processes from start to end and
// runs sftp command lines on them, one at a time, in the order sent.
//
// There are two ways of running lines (both are a Conn): Session, one
// persistent interactive sftp (session mode, the default), and Scripts, a
// generated `sftp -b -` script per request (batch mode). Where things
// live:
//
//   - conn.go: the Conn interface, Config, Pending, ConnError.
//   - owner.go: the connection owner, one per Conn: the user's ssh
//     settings (settings.go, ssh -G parsed once into a value), the decision
//     whether children share a connection (the user's own ControlPath, a
//     ControlMaster of sftper's own, or none), the masters (master.go), the
//     private socket directory and the askpass server (askpass.go).
//   - process.go: one sftp child, the mechanics every kind shares:
//     starting it, its pipes (pipes.go), the marker queue, routing its
//     output to the commands, the stall watch (stall.go), stopping it.
//   - session_child.go: the session kind of child (pty, ssh's questions
//     refused or answered, the handshake, the working directory, the watch
//     on ssh); session.go: Session, the Conn that keeps one.
//   - script.go: the script kind of child (its link, its lines assigned,
//     the idle-ssh watch, settling at status 1, lines left unrun);
//     scripts.go: Scripts, the Conn that forms scripts, keeps spares and
//     runs them over the owner's connection.
//   - attrs.go: the attribute channel, sftper's own SFTP session on the
//     same login (see "Exact attributes" below); gate.go: what keeps its
//     calls and sftp's lines apart on a server that cannot serve both at
//     once.
//   - hostkey.go: the one place where ssh's messages are matched, for the
//     host key and for the kind of a connect failure (see ConnError.Kind).
//   - prompt.go, secret.go, tty.go: ssh's questions on the terminal and
//     the answers; exitwatch.go: watches on processes sftper is not the
//     parent of; leftovers.go: sftper's temporary files and directories,
//     and those of a sftper that died (muxstop.go stops its master);
//     sshfirst.go: sftper as sftp's ssh program, only to put options
//     first; pipes.go: a child's pipes.
//   - Per platform: proc_*.go (what sftper reads of other processes),
//     exitwatch_linux.go (pidfd) and exitwatch_kqueue.go, askpass_*.go
//     (the peer's uid), pipes_*.go, procattr_*.go (Pdeathsig where it
//     exists). README.md's Platforms section says what each does.
//
// Both kinds of child frame each line with the same marker protocol
// (process.go), so the requests' execution (ops.go) and every parser are
// common to both.
//
// # How the session is driven
//
// sftp's standard input and output are pipes (standard error is merged into
// the same pipe as standard output), and a pseudo-terminal from
// github.com/creack/pty is the child's controlling terminal, the way lftp
// drives ssh. The reasons, all checked against OpenSSH 9.2's sftp:
//
//   - With stdin not a terminal sftp does not use its line editor (libedit),
//     so nothing sftper sends is edited: TAB is not completion, non-ASCII is
//     not dropped in some locales, there is no type-ahead echo in the middle
//     of a command's output, and ~/.editrc cannot rebind keys.
//   - sftp echoes every line it reads as "sftp> LINE" once the previous
//     command has finished (a leading "@" turns that off, and sftper sends
//     its commands with one). After each command sftper sends a comment
//     line holding a random per-session nonce and a sequence number; its
//     echo marks the exact end of that command's output, error lines
//     included, parse errors too (sftp prints those before it would echo
//     the line). Output that merely looks like a prompt, or a file named
//     "sftp> ", cannot end a command early: only the exact marker line
//     does, and it cannot be guessed.
//   - With stderr merged into the same pipe the order of output is exact,
//     and a line that ends in CR LF came from OpenSSH's logging path, which
//     is how errors are told from ordinary output.
//   - ssh asks its questions (host key, password, passphrase) on /dev/tty,
//     which is the pseudo-terminal: they never mix with sftp's output, and
//     sftper sees them there, recognises them, and refuses them, or gives
//     the user's secret to a password or passphrase prompt. It never
//     answers a host-key question and never guesses.
//   - sftp runs with "-b -" (batch mode reading stdin) and every command
//     starts with "-@": batch mode is quiet (no "Uploading ..." line per
//     transfer, no progress meter), and "-" keeps a failed command from
//     ending it. -b would also set ssh's BatchMode; sftper sets BatchMode=no
//     ahead of it (unless the user's configuration says yes), so that ssh
//     asks on the pty as it would without -b. The price: sftp no longer
//     says when its ssh exits between commands, so sftper watches ssh
//     itself (exitwatch.go).
//
// The child runs with TZ=UTC, LC_ALL=C.UTF-8
// (sftp prints UTF-8 names as they are and escapes only what is not
// printable) and TERM=dumb. Everything else, above all the user's OpenSSH
// configuration, is passed through untouched.
//
// # Exact attributes: a channel of sftper's own, beside sftp's
//
// No sftp command prints an mtime to the second (ls shows the minute, or
// the day for old files), nor every name exactly (ls escapes some bytes
// ambiguously, and JSON cannot carry what is not UTF-8 anyway). The exact
// values are in the SFTP packets, so sftper reads packets itself, on an
// SFTP session of its own (attrs.go, speaking sftpwire), for the requests
// that only read attributes: LISTDIR, STAT, LSTAT. sftp goes on carrying
// out every transfer and every change.
//
// The designs weighed, with what was measured on this machine (2 cores,
// OpenSSH 9.2, loopback):
//
//   - A relay in sftp's data path (sftp -S PROGRAM, PROGRAM running ssh
//     and decoding the packets going past): GET of 256 MiB ran at 0.70 x
//     sftp's own speed with a plain two-goroutine copy, 0.69 x framing
//     packets with 1 MiB buffers, 0.79 x moving payloads with splice(2)
//     (medians of 5); PUT lost nothing. Any process in the data path of a
//     GET costs well over the 5 % allowed, so no relay sits there.
//   - A second sftp carrying only the metadata commands, with a relay on
//     its traffic: costs the data path nothing, but the relay would be a
//     process of its own talking to sftper over yet another socket, and
//     ls still prints only what it prints: the relay would do all the work.
//   - An SFTP channel of sftper's own on the same login (chosen): `ssh -s
//     HOST sftp` through the connection's ControlMaster opens one more
//     channel with no handshake and no login, under the user's own
//     configuration; a small SFTP v3 client (sftpwire) reads the answers
//     exactly. It costs the data path nothing (bench: the same GET time
//     as the commit before, in the same rounds), and one ssh mux client
//     (at most 8.1 MiB resident, not sftper's own memory) from the first
//     LISTDIR or STAT on. In session mode the session's own ssh is the
//     master (ControlMaster=yes on a socket of the owner's, put ahead of
//     even sftp's own options to ssh, which since OpenSSH 10.0 include
//     ControlMaster no: sshfirst.go), so nothing starts before the first
//     result; in batch mode the scripts' master serves.
//
// The channel's calls and sftp's lines go side by side once the channel's
// VERSION has shown a server that can serve two sessions at once; until
// then, and on ProFTPD's mod_sftp, which mixes up the packets of two busy
// channels, they never overlap (gate.go). Their order is the requests'
// hazards' business (command/hazard.go): requests about the same files
// wait for each other, whichever session carries them. Measured with
// 1,000 atomic 4 KiB PUTs on loopback (bench workload 3, median of 7, the
// commit before as "base" in the same rounds, load average 2.9 to 3.6):
// 1.31 x the time of one sftp -b script side by side, 1.71 x kept apart;
// across a network, where each rename is a round trip, it is the
// difference between adding those round trips and hiding them.
//
// # Bounds
//
// Every command is answered in bounded time: connecting is bounded by the
// connect timeout; a command during which sftp (and whatever it runs but
// ssh) moves no byte for the stall timeout is stopped with its sftp
// (stall.go); a child's output is ended once the child has exited even
// when an ssh master still holds a copy of its standard error
// (process.endOutput); the attribute channel's opening is bounded by the
// connect timeout and each of its answers by the stall timeout (a server
// that answers nothing for that long has stopped: the channel is closed).
// The ends of processes sftper is not the parent of (a
// session's ssh, a spare script's ssh) and of the master are watched
// through pidfds (exitwatch.go), so that an idle session whose ssh has
// gone is replaced, and a spare whose ssh has gone is never given lines.
// Children and masters are stopped through exec.CommandContext (Cancel
// signals the process group, WaitDelay bounds the rest), every wait has a
// named bound, and Close returns what did not end cleanly.
//
// # What it does not do
//
// It does not quote paths or read sftp's messages (package batch does
// that, for every driver), it does not decode SFTP packets (package
// sftpwire), and it knows nothing of the JSON protocol (package proto).
package driver
