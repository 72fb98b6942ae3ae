package batch

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A model of how sftp reads a command line, written from OpenSSH's sftp.c
// (parse_args, makeargv, undo_glob_escape) and openbsd-compat/glob.c, as
// the reference describes them in sections 2.1 to 2.3. The fuzz test holds
// the quoter to it; the tests that run the real sftp hold the model and the
// quoter to the real thing.

const (
	sftpMaxArgs   = 128  // makeargv's MAXARGS
	sftpMaxArgLen = 8192 // makeargv's argument buffer
)

// sftpCommand is parse_args's prefix handling and makeargv: it returns the
// words of line as makeargv leaves them, with its glob escapes. A line that
// is a comment, blank, or a "!" shell escape has no words and says so in
// what.
func sftpCommand(line string) (words []string, what string, err error) {
	rest := strings.TrimLeft(line, " \t\n\v\f\r")
	rest = strings.TrimLeft(rest, "-@") // ignore-errors and no-echo prefixes
	rest = strings.TrimLeft(rest, " \t\n\v\f\r")
	switch {
	case rest == "" || rest[0] == '#' || rest[0] == 0:
		return nil, "comment", nil
	case rest[0] == '!':
		return nil, "shell escape", nil
	}
	words, err = makeargv(rest)
	return words, "", err
}

func isCSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// makeargv splits a command line into words the way sftp does:
//   - unquoted whitespace separates words, an unquoted # ends the line;
//   - '...' and "..." group, and may be glued to unquoted text;
//   - inside quotes, a backslash before the quote character gives that
//     character, before * ? [ it is kept and doubled (\\\*), and before
//     anything else it is kept together with that character; and a
//     quoted *, ? or [ is escaped (\*);
//   - outside quotes, a backslash before * ? [ \ is kept with that
//     character, and before anything else it is dropped.
//
// Reading past the end of the line (a backslash as the last byte) is an
// error here; sftp itself would read beyond its buffer.
func makeargv(arg string) ([]string, error) {
	const (
		start = iota
		squote
		dquote
		unquoted
	)
	if len(arg) > sftpMaxArgLen-1 {
		return nil, errors.New("string too long")
	}
	at := func(i int) byte { // a C string: NUL at and past the end
		if i < len(arg) {
			return arg[i]
		}
		return 0
	}
	var argv []string
	var cur []byte
	state := start
	for i := 0; ; i++ {
		if len(argv) >= sftpMaxArgs+1 {
			return nil, errors.New("Too many arguments.")
		}
		if len(cur) >= sftpMaxArgLen-5 {
			return nil, errors.New("string too long")
		}
		c := at(i)
		quoted := state == squote || state == dquote
		switch {
		case isCSpace(c):
			if state == unquoted {
				argv = append(argv, string(cur))
				cur, state = nil, start
			} else if state != start {
				cur = append(cur, c)
			}
		case c == '"' || c == '\'':
			q := dquote
			if c == '\'' {
				q = squote
			}
			switch state {
			case start:
				cur, state = []byte{}, q
			case unquoted:
				state = q
			case q:
				state = unquoted
			default:
				cur = append(cur, c)
			}
		case c == '\\' && quoted:
			quot := byte('"')
			if state == squote {
				quot = '\''
			}
			switch n := at(i + 1); {
			case n == 0:
				return nil, errors.New("backslash at the end of the line")
			case n == quot:
				cur = append(cur, n)
			case n == '?' || n == '[' || n == '*':
				cur = append(cur, '\\', '\\', '\\', n)
			default:
				cur = append(cur, '\\', n)
			}
			i++
		case c == '\\':
			if state == start {
				cur, state = []byte{}, unquoted
			}
			switch n := at(i + 1); {
			case n == 0:
				return nil, errors.New("backslash at the end of the line")
			case n == '?' || n == '[' || n == '*' || n == '\\':
				cur = append(cur, '\\', n)
			default:
				cur = append(cur, n)
			}
			i++
		case c == 0 || (c == '#' && !quoted):
			if c == 0 && quoted {
				return nil, errors.New("Unterminated quoted argument")
			}
			if state == unquoted {
				argv = append(argv, string(cur))
			}
			return argv, nil
		default:
			if state == start {
				cur, state = []byte{}, unquoted
			}
			if quoted && (c == '?' || c == '[' || c == '*') {
				cur = append(cur, '\\', c)
			} else {
				cur = append(cur, c)
			}
		}
	}
}

// unquotedText is what a line has outside its quoted stretches, one string
// per gap between them (so a line with two quoted words has three gaps).
func unquotedText(line string) []string {
	var gaps []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == '\\':
			i++ // makeargv consumes the next byte with every backslash
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
			gaps = append(gaps, cur.String())
			cur.Reset()
		case c == '\\' && i+1 < len(line):
			cur.WriteByte(c)
			cur.WriteByte(line[i+1])
			i++
		default:
			cur.WriteByte(c)
		}
	}
	return append(gaps, cur.String())
}

// globPath is how OpenSSH's glob(3) reads a word: a backslash protects the
// next byte (a final backslash stands for itself), and an unprotected *, ?
// or [ is a wildcard. (Braces are literal too: only ls asks glob to expand
// them, and sftper sends no ls.) It returns the path the pattern names,
// and whether that is the only path it can name.
func globPath(pattern string) (path string, literal bool) {
	b := make([]byte, 0, len(pattern))
	literal = true
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c == '\\' {
			if i+1 < len(pattern) {
				i++
				c = pattern[i]
			}
			b = append(b, c)
			continue
		}
		if c == '*' || c == '?' || c == '[' {
			literal = false
		}
		b = append(b, c)
	}
	return string(b), literal
}

// undoGlobEscape is sftp's undo_glob_escape, applied to arguments that are
// not globbed: \* \? \[ \\ lose their backslash, any other backslash stays.
func undoGlobEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		i++
		switch {
		case i == len(s):
			b = append(b, '\\')
		case strings.IndexByte(`?[*\`, s[i]) >= 0:
			b = append(b, s[i])
		default:
			b = append(b, '\\', s[i])
		}
	}
	return string(b)
}

// The model against the examples the reference records from the real sftp.
func TestSftpModel(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
		what string
	}{
		{`ls pla"in.t"xt`, []string{"ls", "plain.txt"}, ""},
		{`ls ""`, []string{"ls", ""}, ""},
		{`ls plain#x`, []string{"ls", "plain"}, ""},
		{`ls "plain#x"`, []string{"ls", "plain#x"}, ""},
		{`ls 'single\'q'`, []string{"ls", "single'q"}, ""},
		{`ls "quote\"d"`, []string{"ls", `quote"d`}, ""},
		{`ls "a\b"`, []string{"ls", `a\b`}, ""},
		{`ls \ \"\'\s`, []string{"ls", ` "'s`}, ""},
		{`ls star\*name q\?m br\[a]`, []string{"ls", `star\*name`, `q\?m`, `br\[a]`}, ""},
		{`ls "star*name" 'q?m' "br[a]"`, []string{"ls", `star\*name`, `q\?m`, `br\[a]`}, ""},
		{`ls "\*"`, []string{"ls", `\\\*`}, ""},
		{`ls back\\slash "back\\slash"`, []string{"ls", `back\\slash`, `back\\slash`}, ""},
		{"ls with space.txt", []string{"ls", "with", "space.txt"}, ""},
		{"ls \"tab\tname\"", []string{"ls", "tab\tname"}, ""},
		{`ls "{a,b}"`, []string{"ls", "{a,b}"}, ""},
		{"  -@ls x", []string{"ls", "x"}, ""},
		{"  # a comment", nil, "comment"},
		{"", nil, "comment"},
		{"-!touch x", nil, "shell escape"},
	} {
		got, what, err := sftpCommand(tc.line)
		if err != nil || what != tc.what || !cmp.Equal(got, tc.want) {
			t.Errorf("sftpCommand(%q) = %q, %q, %v; want %q, %q", tc.line, got, what, err, tc.want, tc.what)
		}
	}
	for _, line := range []string{`ls "open`, `ls 'open`, `ls "a\`, `ls a\`} {
		if got, _, err := sftpCommand(line); err == nil {
			t.Errorf("sftpCommand(%q) = %q, want an error", line, got)
		}
	}
	for _, tc := range []struct{ in, glob, plain string }{
		{`star\*name`, "star*name", "star*name"},
		{`back\\slash`, `back\slash`, `back\slash`},
		{`a\b`, "ab", `a\b`},
		{`\{a,b\}`, "{a,b}", `\{a,b\}`},
		{`trail\`, `trail\`, `trail\`},
	} {
		if got, ok := globPath(tc.in); got != tc.glob || !ok {
			t.Errorf("globPath(%q) = %q, %v; want %q, true", tc.in, got, ok, tc.glob)
		}
		if got := undoGlobEscape(tc.in); got != tc.plain {
			t.Errorf("undoGlobEscape(%q) = %q, want %q", tc.in, got, tc.plain)
		}
	}
	for _, p := range []string{"x*", "a?", "[ab]"} {
		if _, ok := globPath(p); ok {
			t.Errorf("globPath(%q) says it is literal", p)
		}
	}
}

// Wire text for each builder, written out: what sftper sends.
func TestLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"put", func() (string, error) { return Put("/l/a b", "/r/a b") }, `put -- "/l/a b" "/r/a b"`},
		{"put quotes", func() (string, error) { return Put(`/l/q"d`, `/r/it's`) }, `put -- "/l/q\"d" "/r/it's"`},
		{"put backslashes", func() (string, error) { return Put(`/l/a\b\`, `/r/\*`) }, `put -- "/l/a\\b\\" "/r/\\*"`},
		{"put braces", func() (string, error) { return Put("/l/{a,b}", "/r/{a,b}") }, `put -- "/l/{a,b}" "/r/{a,b}"`},
		{"get", func() (string, error) { return Get("/r/#x;y", "/l/-x") }, `get -- "/r/#x;y" "/l/-x"`},
		{"get braces", func() (string, error) { return Get("/r/}{", "/l/}{") }, `get -- "/r/}{" "/l/}{"`},
		{"rm", func() (string, error) { return Remove("/r/x*") }, `rm -- "/r/x*"`},
		{"rm relative", func() (string, error) { return Remove("-rf") }, `rm -- "-rf"`},
		{"cd", func() (string, error) { return Chdir(`/r/{a,b}\`) }, `cd -- "/r/{a,b}\\"`},
	} {
		got, err := tc.got()
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestCheckPath(t *testing.T) {
	for _, p := range []string{"", "\x00", "a\x00b", "\n", "a\nb", "a\n", "\r", "a\rb", "a\r", "\r\n"} {
		var upe *UnsafePathError
		if err := CheckPath(p); !errors.As(err, &upe) || upe.Path != p || upe.Reason == "" {
			t.Errorf("CheckPath(%q) = %v, want an *UnsafePathError for that path", p, err)
		}
	}
	for _, p := range []string{"a", " ", "\t", "\x01\x1b\x7f", "\xff", `\`, `"`, "#", "!x", "-", "ü"} {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", p, err)
		}
	}
}

// builders are every function that builds a line: the fixed text before
// the operands, and the kind of each operand (true: globbed). sftp must
// see each operand as exactly the path given.
var builders = []struct {
	name   string
	prefix string
	globs  []bool
	build  func(ops ...string) (line string, err error)
}{
	{"Put", "put -- ", []bool{true, false}, func(o ...string) (string, error) { return Put(o[0], o[1]) }},
	{"Get", "get -- ", []bool{true, false}, func(o ...string) (string, error) { return Get(o[0], o[1]) }},
	{"Remove", "rm -- ", []bool{true}, func(o ...string) (string, error) { return Remove(o[0]) }},
	{"Chdir", "cd -- ", []bool{false}, func(o ...string) (string, error) { return Chdir(o[0]) }},
}

func TestRefusals(t *testing.T) {
	bad := []string{"", "\x00", "a\x00", "\n", "/r/a\nrm -- \"/r/b\"", "a\r", "\r"}
	for _, b := range builders {
		for i := range b.globs {
			for _, p := range bad {
				ops := []string{"/ok/a", "/ok/b"}[:len(b.globs)]
				ops[i] = p
				line, err := b.build(ops...)
				var upe *UnsafePathError
				if !errors.As(err, &upe) || upe.Path != p {
					t.Errorf("%s%q = %q, %v; want an *UnsafePathError for %q", b.name, ops, line, err, p)
				}
			}
		}
	}
}

// sftp puts its working directory in front of a relative path itself, and
// none of the commands sftper sends expands braces in it (see
// TestSftpRelativePathUnderAwkwardDir): a relative path is taken as it is.
func TestRelativePaths(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"put", func() (string, error) { return Put("x", "{a}/x") }, `put -- "x" "{a}/x"`},
		{"get", func() (string, error) { return Get("{a}/x", "x") }, `get -- "{a}/x" "x"`},
		{"rm", func() (string, error) { return Remove("x/wrong") }, `rm -- "x/wrong"`},
		{"rm dash", func() (string, error) { return Remove("-rf") }, `rm -- "-rf"`},
		{"cd", func() (string, error) { return Chdir("{a}") }, `cd -- "{a}"`},
		{"cd up", func() (string, error) { return Chdir("..") }, `cd -- ".."`},
		{"cd home", func() (string, error) { return Chdir("~") }, `cd -- "~"`},
	} {
		got, err := tc.got()
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestMaxLineBoundary builds, with every builder and operand, the longest
// line that fits, with operands whose quoting adds bytes, and expects it to
// be MaxLine bytes and one more byte of path to be refused.
func TestMaxLineBoundary(t *testing.T) {
	for _, b := range builders {
		for i := range b.globs {
			for _, fill := range []string{"x", `\`, `"`, "{", "*"} {
				ops := []string{"/ok/a", "/ok/b"}[:len(b.globs)]
				build := func(n int) (string, error) {
					ops[i] = "/" + strings.Repeat(fill, n)
					line, err := b.build(ops...)
					return line, err
				}
				n := 0
				for ; ; n++ {
					line, err := build(n + 1)
					if err != nil {
						break
					}
					if len(line) > MaxLine {
						t.Fatalf("%s built a line of %d bytes", b.name, len(line))
					}
				}
				line, err := build(n)
				if err != nil {
					t.Fatalf("%s with a %d-byte operand: %v", b.name, n, err)
				}
				// The next byte of path costs one or two bytes of line.
				fits := len(line) == MaxLine || (len(line) == MaxLine-1 && quotedCost(fill) == 2)
				if !fits {
					t.Errorf("%s, operand %d of %q: the longest line built is %d bytes, MaxLine is %d", b.name, i, fill, len(line), MaxLine)
				}
				over, err := build(n + 1)
				var upe *UnsafePathError
				if !errors.As(err, &upe) {
					t.Errorf("%s, operand %d of %q: %d bytes: %q, %v; want an *UnsafePathError", b.name, i, fill, len(over), over, err)
				}
			}
		}
	}
}

// quotedCost is how many bytes one byte of path costs on the line.
func quotedCost(c string) int {
	if c == `\` || c == `"` {
		return 2
	}
	return 1
}

// A line that is too long is refused naming the path that made it so.
func TestTooLongNamesTheLongPath(t *testing.T) {
	long := "/" + strings.Repeat("l", MaxLine)
	for _, tc := range []struct {
		name  string
		build func() (string, error)
	}{
		{"Put local", func() (string, error) { return Put(long, "/r/x") }},
		{"Put remote", func() (string, error) { return Put("/l/x", long) }},
		{"Get remote", func() (string, error) { return Get(long, "/l/x") }},
		{"Get local", func() (string, error) { return Get("/r/x", long) }},
		{"Remove", func() (string, error) { return Remove(long) }},
		{"Chdir", func() (string, error) { return Chdir(long) }},
	} {
		_, err := tc.build()
		var upe *UnsafePathError
		if !errors.As(err, &upe) {
			t.Fatalf("%s: %v, want an *UnsafePathError", tc.name, err)
		}
		if upe.Path != long {
			t.Errorf("%s: the error names %q, not the %d-byte path", tc.name, upe.Path, len(long))
		}
	}
}

// checkLine holds one built line to the model: sftp reads it as the
// command, the fixed flags and "--", then exactly one word per operand,
// each naming exactly its path, with nothing but single spaces between
// the quoted words.
func checkLine(t *testing.T, name, prefix string, globs []bool, line string, paths []string) {
	t.Helper()
	if len(line) > MaxLine || strings.ContainsAny(line, "\x00\n\r") {
		t.Fatalf("%s%q: line %q is too long or has a line end", name, paths, line)
	}
	words, what, err := sftpCommand(line)
	if err != nil || what != "" {
		t.Fatalf("%s%q: sftp reads %q as %q, %s, %v", name, paths, line, words, what, err)
	}
	fixed := strings.Fields(prefix)
	if len(words) != len(fixed)+len(paths) || !cmp.Equal(words[:len(fixed)], fixed) {
		t.Fatalf("%s%q: sftp reads %q as the words %q", name, paths, line, words)
	}
	for i, p := range paths {
		w := words[len(fixed)+i]
		if globs[i] {
			got, literal := globPath(w)
			if got != p || !literal {
				t.Fatalf("%s%q: operand %d is the glob %q, which names %q (literal: %v)", name, paths, i, w, got, literal)
			}
		} else if got := undoGlobEscape(w); got != p {
			t.Fatalf("%s%q: operand %d is %q, which names %q", name, paths, i, w, got)
		}
	}
	want := []string{prefix}
	for range paths[1:] {
		want = append(want, " ")
	}
	want = append(want, "")
	if diff := cmp.Diff(want, unquotedText(line)); diff != "" {
		t.Fatalf("%s%q: text outside quotes in %q (-want +got):\n%s", name, paths, line, diff)
	}
}

func FuzzQuote(f *testing.F) {
	for _, n := range nastyNames {
		f.Add(n.name, "/r/dest")
		f.Add("/r/"+n.name, "src")
		f.Add("src", n.name)
	}
	for _, s := range []string{"", "\x00", "a\nb", "\r", `\`, `\\`, `"\`, `\"`, `'\''`, `\{`, "{}", strings.Repeat(`\"`, 700), strings.Repeat("x", 2100)} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, bl := range builders {
			ops := []string{a, b}[:len(bl.globs)]
			line, err := bl.build(ops...)
			var checkErr error
			for _, p := range ops {
				if checkErr = CheckPath(p); checkErr != nil {
					break
				}
			}
			var upe *UnsafePathError
			switch {
			case checkErr != nil:
				if !errors.As(err, &upe) || upe.Path != ops[0] && upe.Path != ops[len(ops)-1] {
					t.Fatalf("%s%q = %q, %v; want an *UnsafePathError: %v", bl.name, ops, line, err, checkErr)
				}
				continue
			case err != nil:
				// Quoting at most doubles a path; the command and the
				// quotes add under 100 bytes.
				longest := len(bl.prefix) + 100
				for _, p := range ops {
					longest += 2 * len(p)
				}
				if !errors.As(err, &upe) || longest <= MaxLine {
					t.Fatalf("%s%q refused: %v", bl.name, ops, err)
				}
				continue
			}
			checkLine(t, bl.name, bl.prefix, bl.globs, line, ops)
		}
	})
}
