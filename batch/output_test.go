package batch

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"remote delete /d/back\\\\slash: No such file or directory\r", `remote delete /d/back\slash: No such file or directory`},
		{"File \"/d/\\303\\274nonexist\" not found.\r", `File "/d/ünonexist" not found.`},
		{`\\`, `\`},
		{`\\\\`, `\\`},
		{`\\001`, `\001`},    // an escaped backslash, then text
		{`\\\001`, "\\\x01"}, // an escaped backslash, then an escaped byte
		{`a\001b\033c\177`, "a\x01b\x1bc\x7f"},
		{`\351`, "\uFFFD"}, // not UTF-8 once decoded
		{`lat\351n`, "lat\uFFFDn"},
		{"raw \xff byte", "raw \uFFFD byte"},
		{`\400 \8 \12 \`, `\400 \8 \12 \`}, // not vis escapes
		{`\303\274\303`, "ü\uFFFD"},
		{"tab\there", "tab\there"},
		{"mid\015dle", "mid\rdle"},
		{"Couldn't read: Failure\r", "Couldn't read: Failure"},
		{"error\r\r", "error"}, // as a pty prints it
		{"  padded  \r", "padded"},
		{"\r", ""},
		{"", ""},
		{" \r \r", ""},
	} {
		if got := DecodeMessage(tc.in); got != tc.want {
			t.Errorf("DecodeMessage(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMessages(t *testing.T) {
	lines := []string{
		"Attached to /usr/lib/openssh/sftp-server.", // plain fprintf: LF only
		"Connected to host.",
		"Uploading /l/a to /r/a",
		"Remote working directory: /r",
		"remote open \"/r/b\\\\c\": Permission denied\r",
		"\r",
		"",
		"File \"/r/\\303\\274\" not found.\r",
		"not a message \\303\r ", // the CR is not last
	}
	want := []string{`remote open "/r/b\c": Permission denied`, `File "/r/ü" not found.`}
	if diff := cmp.Diff(want, Messages(lines)); diff != "" {
		t.Errorf("Messages (-want +got):\n%s", diff)
	}
	if got := Messages([]string{"a", "b"}); got != nil {
		t.Errorf("Messages without messages = %q", got)
	}
}

// vis is OpenSSH's stderr logging encoding, strnvis with VIS_SAFE|VIS_OCTAL:
// a backslash doubled; printable ASCII, space, TAB, LF, and (VIS_SAFE)
// BS, BEL and CR as they are; every other byte as \ooo.
func vis(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c > ' ' && c < 0x7f, c == ' ', c == '\t', c == '\n', c == '\b', c == '\a', c == '\r':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\%03o`, c)
		}
	}
	return b.String()
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`back\slash`, "ü", "\x01\x1b\x7f\xff", `\303`, "  x \r", "\r\r", `\\001`, "lat\xe9n",
		"File \"/d/\\303\\274\" not found.\r", `\`, `\7`, `\777`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Any line: no panic, UTF-8 out.
		if got := DecodeMessage(s); !utf8.ValidString(got) {
			t.Fatalf("DecodeMessage(%q) = %q, not UTF-8", s, got)
		}
		// A message OpenSSH logged: decoded back to its text, trimmed.
		line := vis(s) + "\r"
		want := strings.ToValidUTF8(strings.Trim(s, "\r "), "\uFFFD")
		if got := DecodeMessage(line); got != want {
			t.Fatalf("DecodeMessage(%q) = %q, want %q", line, got, want)
		}
	})
}

// OpenSSH cuts a logged message at MsgMax bytes, or at msgCutMin where
// the cut falls in an escape; Messages marks one that long, and only one
// that long.
func TestMessagesMarksCutOnes(t *testing.T) {
	const head = `File "/`
	line := func(n int) string { return head + strings.Repeat("x", n-len(head)) }
	whole, cut, cutInEscape := line(msgCutMin-1), line(MsgMax), line(msgCutMin)
	got := Messages([]string{whole + "\r", cut + "\r", cutInEscape + "\r"})
	want := []string{whole, cut + CutMark, cutInEscape + CutMark}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Messages (-want +got):\n%s", diff)
	}
}
