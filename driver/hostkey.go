package driver

import (
	"regexp"
	"strings"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/proto"
)

// acceptAdvice is how a user accepts a host key deliberately; sftper never
// does it for them.
const acceptAdvice = "Check the fingerprint with the server's administrator, then add the key to known_hosts deliberately " +
	"(for example with ssh-keyscan, or by connecting once with ssh), or choose -o StrictHostKeyChecking=accept-new yourself"

var (
	offendingKey = regexp.MustCompile(`^Offending \S+ key in (\S+):(\d+)$`)
	removeWith   = regexp.MustCompile(`^ssh-keygen -f ".*" -R ".*"$`)
)

// hostKeyFailure recognises ssh refusing a connection over the server's
// host key in what ssh printed (decoded lines), and turns it into one clear
// message: what happened, the fingerprint (from ssh's warning, or serverKey
// when ssh only said so at debug level), the known_hosts line of a changed
// key, and what the user can do, with its kind (host_key_unknown or
// host_key_changed). ok is false for any other failure.
func hostKeyFailure(lines []string, serverKey string) (msg string, kind proto.Kind, ok bool) {
	failed, changed := false, false
	var offending, fingerprint, remove string
	var said []string
	for i, ln := range lines {
		ln = strings.TrimSpace(ln)
		switch {
		case strings.HasPrefix(ln, "Host key verification failed"):
			failed = true
		case strings.Contains(ln, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
			changed = true
		case strings.HasPrefix(ln, "The fingerprint for the ") && i+1 < len(lines):
			fingerprint = strings.TrimSuffix(strings.TrimSpace(lines[i+1]), ".")
		case offendingKey.MatchString(ln):
			offending = ln
		case removeWith.MatchString(ln):
			remove = ln
		case strings.HasPrefix(ln, "No ") && strings.Contains(ln, "host key is known for"),
			strings.HasPrefix(ln, "Host key for ") && strings.Contains(ln, "has changed"):
			said = append(said, strings.TrimSuffix(ln, "."))
		}
	}
	if !failed {
		return "", "", false
	}
	if fingerprint == "" {
		fingerprint = serverKey
	}
	said = append(said, "Host key verification failed")
	if changed {
		msg = "the server's host key has CHANGED since it was recorded, so ssh refused to connect and nothing was transferred (ssh: " +
			strings.Join(said, "; ") + ")."
		if fingerprint != "" {
			msg += " The key the server sent now: " + fingerprint + "."
		}
		if offending != "" {
			msg += " " + offending + "."
		}
		msg += " This may be an attack, or the server may have been reinstalled: ask its administrator. Only if the new key is right, remove the old line deliberately"
		if remove != "" {
			msg += " (" + remove + ")"
		}
		return msg + " and add the new key.", proto.KindHostKeyChanged, true
	}
	msg = "the server's host key is not known, and sftper never accepts one on your behalf (ssh: " + strings.Join(said, "; ") + ")."
	if fingerprint != "" {
		msg += " The server's key: " + fingerprint + "."
	}
	return msg + " " + acceptAdvice + ".", proto.KindHostKeyUnknown, true
}

// What ssh says when it could not connect, and the kind each means. ssh's
// messages are the only signal for these (its exit status is 255 for every
// failure), so this is the one place that matches them; hostKeyFailure
// above does the same for the host key.
var (
	// sshauth2.c: "Permission denied (publickey,password)." once every
	// method the server offered has failed or had nothing to try.
	authDenied = "Permission denied ("
	// ssh's connect: "ssh: connect to host H port P: Connection timed
	// out" when ConnectTimeout (or the kernel) gave up; "Connection
	// timed out during banner exchange" when the server accepted TCP but
	// said nothing.
	connectTimedOut = []string{": Connection timed out", "Connection timed out during banner exchange", ": Operation timed out"}
)

// connectFailed is the message and kind for a connection that could not
// be made, from ssh's reason (what exitReason or master.reason said) and
// the kind already known from it (a host key refused), if any.
func connectFailed(reason string, kind proto.Kind) (string, proto.Kind) {
	switch {
	case kind != "":
		return "connect failed: " + reason, kind
	case strings.Contains(reason, authDenied):
		return "authentication failed: " + reason, proto.KindAuthFailed
	}
	for _, s := range connectTimedOut {
		if strings.Contains(reason, s) {
			return "connect failed: " + reason, proto.KindTimeout
		}
	}
	return "connect failed: " + reason, proto.KindConnectFailed
}

// decoded returns the lines sftp printed, CRs and escapes gone.
func decoded(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, ln := range lines {
		out = append(out, batch.DecodeMessage(ln))
	}
	return out
}
