package batch

import (
	"strings"
)

// Messages picks sftp's and ssh's diagnostics out of the lines printed for
// one command and decodes them. With stderr merged into stdout, ordinary
// output lines end in LF while everything printed through OpenSSH's logging
// path (errors, warnings) ends in CR LF, so a diagnostic is a line whose
// last byte is CR. Blank lines are dropped.
//
// A message that reached OpenSSH's limit may have lost its end; it gets
// CutMark at its end, so that nobody takes what is left for the whole.
func Messages(lines []string) []string {
	var msgs []string
	for _, ln := range lines {
		if strings.HasSuffix(ln, "\r") {
			if m := DecodeMessage(ln); m != "" {
				if MessageCut(ln) {
					m += CutMark
				}
				msgs = append(msgs, m)
			}
		}
	}
	return msgs
}

// MsgMax is the most OpenSSH prints of a message it logs to stderr: do_log
// in log.c escapes the message into a buffer of 1024 bytes and writes at
// most 1021 bytes of the escaped text before its CR LF (OpenSSH 9.2; the
// same buffer size since long before).
const MsgMax = 1021

// msgCutMin is the shortest that a message cut short is printed. The
// escaping (strnvis) stops before the first escape that would not fit in
// the buffer's 1023 bytes of text, and an escape is up to 4 bytes long
// (\ooo), so a cut text keeps 1020 to 1023 bytes, of which MsgMax at most
// are written: a cut just before an escaped byte can leave 1020.
const msgCutMin = MsgMax - 1

// CutMark ends a message that may have been cut (see MsgMax).
const CutMark = " [cut short: OpenSSH prints at most 1021 bytes of a message]"

// MessageCut reports whether the printed message line ln (with its CR) is
// long enough to have been cut short (see msgCutMin), and so may have lost
// its end.
func MessageCut(ln string) bool {
	return len(strings.TrimRight(ln, "\r")) >= msgCutMin
}

// DecodeMessage undoes the escaping OpenSSH applies to what it logs to
// stderr (strnvis with VIS_SAFE|VIS_OCTAL: a backslash is doubled, other
// unprintable bytes become \ooo) and trims the CRs and blanks around the
// text. Bytes that do not form UTF-8 are replaced with U+FFFD, since the
// message travels in JSON.
func DecodeMessage(s string) string {
	s = strings.Trim(s, "\r ")
	if strings.IndexByte(s, '\\') < 0 {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '\\' {
			b.WriteByte('\\')
			i++
			continue
		}
		if c == '\\' && i+3 < len(s) && s[i+1] <= '3' && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(c)
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
