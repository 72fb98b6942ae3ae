package sshdtest

import (
	"os"
	"strconv"
	"strings"
)

// LogOffset is the current size of LogFile, to pass to LoginsSince later.
func (s *Server) LogOffset() int64 {
	fi, err := os.Stat(s.LogFile)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Logins counts the logins sshd has accepted since Start, across
// restarts. See LoginsSince.
func (s *Server) Logins() int { return s.LoginsSince(0) }

// LoginsSince counts the logins accepted after offset off of LogFile (from
// LogOffset). Each is one SSH connection that authenticated, logged at
// VERBOSE and above as
//
//	Accepted publickey for USER from 127.0.0.1 port N ssh2: ED25519 SHA256:...
//	Accepted password for USER from 127.0.0.1 port N ssh2
//	Accepted keyboard-interactive/pam for USER from 127.0.0.1 port N ssh2
//
// and not to be confused with VERBOSE's "Accepted key ED25519 ... found
// at FILE:LINE", which comes with every publickey attempt. Sessions opened
// over a shared connection (ControlMaster) log no new login. A jump
// through this server (ProxyJump, ssh -W) is a login here too.
func (s *Server) LoginsSince(off int64) int {
	n := 0
	for _, l := range s.logLines(off) {
		f := strings.Fields(l)
		if len(f) >= 4 && f[0] == "Accepted" && f[1] != "key" && f[2] == "for" {
			n++
		}
	}
	return n
}

// ForwardedTo reports whether sshd has opened a forwarded TCP connection
// (a "direct-tcpip" channel, which is what ProxyJump and `ssh -W` ask
// for) to port on any host. sshd 9.2 logs one only at LogLevel DEBUG1 or
// above, so the server must have been started with Options.LogLevel
// "DEBUG1" (or DEBUG, DEBUG2, DEBUG3); at VERBOSE ForwardedTo is always
// false. The line it looks for is
//
//	debug1: server_request_direct_tcpip: originator 127.0.0.1 port 65535, target 127.0.0.1 port PORT
//
// followed at the same level by "debug1: channel 0: connected to
// 127.0.0.1 port PORT". (At VERBOSE a jump shows only as a login with no
// "Starting session: subsystem 'sftp'" line after it.)
func (s *Server) ForwardedTo(port int) bool {
	suffix := " port " + strconv.Itoa(port)
	for _, l := range s.logLines(0) {
		if !strings.Contains(l, "server_request_direct_tcpip: originator ") {
			continue
		}
		i := strings.LastIndex(l, ", target ")
		if i >= 0 && strings.HasSuffix(l[i:], suffix) {
			return true
		}
	}
	return false
}

// logLines returns the complete lines of LogFile after offset off,
// without line ends. sshd -e ends its lines with "\r\n". A line sshd is
// still writing is left out.
func (s *Server) logLines(off int64) []string {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return nil
	}
	if off < 0 || off > int64(len(b)) {
		off = 0
	}
	b = b[off:]
	end := strings.LastIndexByte(string(b), '\n')
	if end < 0 {
		return nil
	}
	lines := strings.Split(string(b[:end]), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, "\r")
	}
	return lines
}
