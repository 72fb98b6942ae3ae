package batch

import (
	"strings"
	"testing"
)

// sftp prints its working directory the way it prints every name on its
// standard output (see sftpPrinted): ParsePwd takes the text back only
// when it cannot stand for another name.
func TestParsePwd(t *testing.T) {
	const head = "Remote working directory: "
	for _, tc := range []struct {
		name  string
		lines []string
		want  string // "": refused
	}{
		{"plain", []string{head + "/home/u"}, "/home/u"},
		{"root", []string{head + "/"}, "/"},
		{"awkward", []string{head + `/h/{a,b} "q" 'q' \ * ? [x] # $(x)`}, `/h/{a,b} "q" 'q' \ * ? [x] # $(x)`},
		{"spaces kept", []string{head + "/h/ a  "}, "/h/ a  "},
		{"tab and CR raw", []string{head + "/h/\tx\r"}, "/h/\tx\r"},
		{"UTF-8", []string{head + "/h/ünïcødé 日本語"}, "/h/ünïcødé 日本語"},
		{"backslash digits of a printable character", []string{head + `/h/\101`}, `/h/\101`},
		{"backslash and digits over \\377", []string{head + `/h/\400`}, `/h/\400`},
		{"backslash and a non-octal digit", []string{head + `/h/\9`}, `/h/\9`},
		{"backslash at the end", []string{head + `/h/a\`}, `/h/a\`},
		{"byte escaped by sftp, or that text", []string{head + `/h/ctl\001a`}, ""},
		{"DEL", []string{head + `/h/\177`}, ""},
		{"invalid UTF-8 escaped by sftp", []string{head + `/h/lat\351n`}, ""},
		{"UTF-8 escaped (not in a UTF-8 locale)", []string{head + `/h/\303\274`}, ""},
		{"raw invalid UTF-8", []string{head + "/h/lat\xe9n"}, ""},
		{"name with a newline", []string{head + "/h/new", "line"}, ""},
		{"relative", []string{head + "h"}, ""},
		{"empty", []string{head}, ""},
		{"no answer", nil, ""},
		{"another answer", []string{"Local working directory: /h"}, ""},
		{"a message", []string{"Can't change directory: \"/h\"\r"}, ""},
	} {
		got, err := ParsePwd(tc.lines)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: ParsePwd(%q) = %q, want an error", tc.name, tc.lines, got)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%s: ParsePwd(%q) = %q, %v; want %q", tc.name, tc.lines, got, err, tc.want)
		}
	}
}

// FuzzParsePwd: whatever the directory's name, what sftp prints for it is
// read back as exactly that name, or refused; never as another one.
func FuzzParsePwd(f *testing.F) {
	for _, s := range []string{"h", "a b", `\001`, "\x01", `\101`, "lat\xe9n", "new\nline", "ü", `\`, "\t\r", "\x7f", `\\303\274`} {
		f.Add(s)
	}
	for _, n := range nastyNames {
		f.Add(n.name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		dir := "/h/" + name
		lines := strings.Split("Remote working directory: "+sftpPrinted(dir), "\n")
		if got, err := ParsePwd(lines); err == nil && got != dir {
			t.Fatalf("sftp prints %q for %q, which ParsePwd reads as %q", lines, dir, got)
		}
	})
}
