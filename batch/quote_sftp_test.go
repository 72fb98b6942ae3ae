package batch

// Quoting against the real sftp: every builder's line is run through
// `sftp -D sftp-server` in a scratch directory, and the file system says
// whether exactly the intended file was created, read or removed.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// nastyNames are paths relative to a scratch directory. "<tmp>" stands for
// that directory, so that a shell escape that ran would leave <tmp>/pwned.
var nastyNames = []struct {
	name string
	// ambiguous: sftp prints the name ambiguously on its standard output
	// (a byte it escapes, or backslash-digits text), so ParsePwd must
	// refuse a working directory of that name.
	ambiguous bool
}{
	{name: "with space"},
	{name: " leading space"},
	{name: "trailing space "},
	{name: "   "},
	{name: "a  two  spaces"},
	{name: "tab\there"},
	{name: "\tleading tab"},
	{name: "vt\vff\f", ambiguous: true},
	{name: `double"quote`},
	{name: `"`},
	{name: `single'quote`},
	{name: `'`},
	{name: `back\slash`},
	{name: `trailing\`},
	{name: `\`},
	{name: `\*`},
	{name: `\\*`},
	{name: `\"`},
	{name: `\'`},
	{name: `\z`},
	{name: "#"},
	{name: "# x"},
	{name: "a#b"},
	{name: ";"},
	{name: "a;b"},
	{name: "*"},
	{name: "x*"},
	{name: "?"},
	{name: "[ab]"},
	{name: "["},
	{name: "]"},
	{name: "{a,b}"},
	{name: "{a,nope}"},
	{name: "{"},
	{name: "}"},
	{name: "{}"},
	{name: "-rf"},
	{name: "--"},
	{name: "-- x"},
	{name: "@x"},
	{name: "!x"},
	{name: "!touch <tmp>/pwned"},
	{name: "$(touch <tmp>/pwned)"},
	{name: "`touch <tmp>/pwned`"},
	{name: "$HOME"},
	{name: "~"},
	{name: "~root"},
	{name: "~/x"},
	{name: "%s%n%d"},
	{name: ".hidden"},
	{name: "..."},
	{name: "ünïcødé"},
	{name: "日本語 ファイル"},
	{name: "lat\xe9n", ambiguous: true},
	{name: "\x01", ambiguous: true},
	{name: "esc\x1b[31mred", ambiguous: true},
	{name: "del\x7f", ambiguous: true},
	{name: `\101`},
	{name: `\001`, ambiguous: true},
	{name: "sftp> "},
	{name: "sftp> ls"},
	{name: strings.Repeat("n", 255)},
	{name: strings.Repeat(`\`, 255)},
	{name: strings.Repeat("ü", 127) + "x"},
	{name: strings.Repeat(`"\*`, 85)},
	{name: strings.Repeat("{", 254) + "}"},
}

// decoys are files next to the target that a lost quote would let a glob,
// a brace, a split word or a dropped backslash reach.
var decoys = []string{"a", "b", "ab", "x1", "-", `\z`, "zz", "n", "\\"}

func TestSftpQuoting(t *testing.T) {
	requireSftp(t)
	for _, n := range nastyNames {
		t.Run(strings.ToValidUTF8(n.name, "?"), func(t *testing.T) {
			t.Parallel()
			testNastyName(t, n.name, n.ambiguous)
		})
	}
}

func testNastyName(t *testing.T, name string, ambiguous bool) {
	tmp := scratchDir(t)
	name = strings.ReplaceAll(name, "<tmp>", tmp)
	pwned := filepath.Join(tmp, "pwned")
	local, remote := filepath.Join(tmp, "local"), filepath.Join(tmp, "remote")
	payload := "payload of " + name
	for _, d := range decoys {
		if d != name {
			write(t, filepath.Join(local, d), "local decoy "+d)
			write(t, filepath.Join(remote, d), "remote decoy "+d)
		}
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(remote, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(local, name), payload)
	wantLocal, wantRemote := snapshot(t, local), snapshot(t, remote)
	check := func(step string) {
		t.Helper()
		if diff := cmp.Diff(wantLocal, snapshot(t, local)); diff != "" {
			t.Fatalf("after %s, the local tree (-want +got):\n%s", step, diff)
		}
		if diff := cmp.Diff(wantRemote, snapshot(t, remote)); diff != "" {
			t.Fatalf("after %s, the remote tree (-want +got):\n%s", step, diff)
		}
		if _, err := os.Lstat(pwned); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("after %s, %s exists: sftp ran a shell command (%v)", step, pwned, err)
		}
	}

	// sftp's local directory is local/, its remote one remote/: every
	// operand of put, get and rm is the bare relative name, so that names
	// starting with -, !, ~, # or @ start the operand too. abs is the
	// same file by its absolute path, joined by hand so that nothing
	// cleans it.
	abs := remote + "/" + name
	p := startSftp(t, local)
	p.runOK(must(Chdir(remote)))

	p.runOK(must(Put(name, name)))
	wantRemote[name] = payload
	check("put")

	if err := os.Remove(filepath.Join(local, name)); err != nil {
		t.Fatal(err)
	}
	p.runOK(must(Get(name, name)))
	check("get")

	p.runOK(must(Remove(name)))
	delete(wantRemote, name)
	check("rm")

	// Removed again, the file is not found, and sftp's message names
	// exactly the path the quoted operand gave it.
	wantMessage(t, p.run(must(Remove(name))), "remote delete "+abs+": No such file or directory")
	check("rm of the removed file")

	// The name as a directory: entered, read back by pwd, written in.
	dir := filepath.Join(remote, name)
	write(t, filepath.Join(dir, "inner file"), "inner")
	wantRemote = snapshot(t, remote)
	write(t, filepath.Join(local, "probe"), "probe")
	wantLocal = snapshot(t, local)
	p.runOK(must(Chdir(name)))
	out := p.runOK(Pwd)
	cwd, err := ParsePwd(out)
	switch {
	case ambiguous && err == nil:
		t.Fatalf("pwd in %q read as %q; want an error, since sftp prints %q", abs, cwd, out)
	case !ambiguous && (err != nil || cwd != abs):
		t.Fatalf("pwd in %q read as %q, %v (sftp printed %q)", abs, cwd, err, out)
	}
	p.runOK(must(Put("probe", "probe")))
	wantRemote[filepath.Join(name, "probe")] = "probe"
	check("put into the directory")
	// An absolute path does not depend on the working directory, even
	// one with glob characters or braces in its name.
	p.runOK(must(Get(abs+"/probe", "probe back")))
	wantLocal["probe back"] = "probe"
	check("get by an absolute path")
	p.runOK(must(Remove("probe")))
	delete(wantRemote, filepath.Join(name, "probe"))
	check("rm in the directory")
	p.runOK(must(Chdir(remote)))
}

// wantMessage checks that out holds one message, and that it reads back
// as want: exactly, or, when OpenSSH cut it short (see MsgMax), as the
// beginning of want, but for the character or escape the cut split.
func wantMessage(t testing.TB, out []string, want string) {
	t.Helper()
	want = strings.ToValidUTF8(want, "\uFFFD")
	msgs := Messages(out)
	if len(msgs) != 1 {
		t.Fatalf("sftp printed %q, want one message: %q", out, want)
	}
	got, cut := strings.CutSuffix(msgs[0], CutMark)
	if !cut {
		if got != want {
			t.Fatalf("message %q, want %q", got, want)
		}
		return
	}
	// The end may be a byte of a character (decoded as U+FFFD) or the
	// beginning of an escape (\, \3, \30), or both.
	for i := 0; i < 8 && got != "" && !strings.HasPrefix(want, got); i++ {
		if head, ok := strings.CutSuffix(got, "\uFFFD"); ok {
			got = head
		} else {
			got = got[:len(got)-1]
		}
	}
	if got == "" || !strings.HasPrefix(want, got) {
		t.Fatalf("message %q, cut short, is not the beginning of %q", msgs[0], want)
	}
}

// A glob that quoting made literal names one file, and no other: removing
// "x*", which does not exist, fails and leaves x1 alone.
func TestSftpRemoveNoMatch(t *testing.T) {
	tmp := scratchDir(t)
	write(t, filepath.Join(tmp, "x1"), "x1")
	write(t, filepath.Join(tmp, "xx"), "xx")
	p := startSftp(t, tmp)
	out := p.run(must(Remove(filepath.Join(tmp, "x*"))))
	want := []string{"remote delete " + tmp + "/x*: No such file or directory"}
	if diff := cmp.Diff(want, Messages(out)); diff != "" {
		t.Errorf("rm of x* (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"x1": "x1", "xx": "xx"}, snapshot(t, tmp)); diff != "" {
		t.Errorf("rm of x* (-want +got):\n%s", diff)
	}

	// And a file literally named * goes alone.
	write(t, filepath.Join(tmp, "*"), "star")
	p.runOK(must(Remove(filepath.Join(tmp, "*"))))
	if diff := cmp.Diff(map[string]string{"x1": "x1", "xx": "xx"}, snapshot(t, tmp)); diff != "" {
		t.Errorf("rm of * (-want +got):\n%s", diff)
	}
}

// A name in braces is one file to get, put and rm, never the names its
// alternatives spell: a and b are there to be reached by mistake, and
// "nope" is not there at all.
func TestSftpBraces(t *testing.T) {
	tmp := scratchDir(t)
	local, remote := filepath.Join(tmp, "local"), filepath.Join(tmp, "remote")
	for _, n := range []string{"a", "b", "nope"} {
		write(t, filepath.Join(local, n), "local "+n)
	}
	for _, n := range []string{"a", "b"} {
		write(t, filepath.Join(remote, n), "remote "+n)
	}
	for _, n := range []string{"{a,b}", "{a,nope}"} {
		write(t, filepath.Join(remote, n), "remote "+n)
	}
	wantLocal, wantRemote := snapshot(t, local), snapshot(t, remote)
	check := func(step string) {
		t.Helper()
		if diff := cmp.Diff(wantLocal, snapshot(t, local)); diff != "" {
			t.Fatalf("after %s, the local tree (-want +got):\n%s", step, diff)
		}
		if diff := cmp.Diff(wantRemote, snapshot(t, remote)); diff != "" {
			t.Fatalf("after %s, the remote tree (-want +got):\n%s", step, diff)
		}
	}
	p := startSftp(t, local)
	for _, n := range []string{"{a,b}", "{a,nope}"} {
		l, r := filepath.Join(local, n), filepath.Join(remote, n)
		p.runOK(must(Get(r, l)))
		wantLocal[n] = "remote " + n
		check("get of " + n)
		write(t, l, "local "+n)
		wantLocal[n] = "local " + n
		p.runOK(must(Put(l, r)))
		wantRemote[n] = "local " + n
		check("put of " + n)
		p.runOK(must(Remove(r)))
		delete(wantRemote, n)
		check("rm of " + n)
	}
}

// sftp makes a relative path absolute with its working directory, which
// it escapes for the glob characters * ? [ ] and \ but not for braces.
// None of the commands sftper sends brace-expands (ls would), so a
// relative operand names the file under the working directory itself,
// whatever the directory's name: never one under a, where a brace
// expansion of {a} would lead, or one that a glob of the directory's
// name would match.
func TestSftpRelativePathUnderAwkwardDir(t *testing.T) {
	for _, wd := range []string{"{a}", "{a,b}", "*", "?", "[a]", `\`, `{a}\*`} {
		t.Run(wd, func(t *testing.T) {
			tmp := scratchDir(t)
			write(t, filepath.Join(tmp, wd, "x", "same"), "right")
			write(t, filepath.Join(tmp, "a", "x", "same"), "wrong a")
			write(t, filepath.Join(tmp, "b", "x", "same"), "wrong b")
			write(t, filepath.Join(tmp, "local", "src"), "src")
			want := snapshot(t, tmp)
			check := func(step string) {
				t.Helper()
				if diff := cmp.Diff(want, snapshot(t, tmp)); diff != "" {
					t.Fatalf("after %s, the tree (-want +got):\n%s", step, diff)
				}
			}
			p := startSftp(t, filepath.Join(tmp, "local"))
			p.runOK(must(Chdir(filepath.Join(tmp, wd))))

			p.runOK(must(Get("x/same", "got")))
			want["local/got"] = "right"
			check("get of x/same")
			p.runOK(must(Put("src", "x/new")))
			want[filepath.Join(wd, "x", "new")] = "src"
			check("put to x/new")
			p.runOK(must(Remove("x/same")))
			delete(want, filepath.Join(wd, "x", "same"))
			check("rm of x/same")
			p.runOK(must(Chdir("x")))
			if cwd, err := ParsePwd(p.runOK(Pwd)); err != nil || cwd != tmp+"/"+wd+"/x" {
				t.Fatalf("pwd after cd x = %q, %v; want %q", cwd, err, tmp+"/"+wd+"/x")
			}
		})
	}
}

// A line of exactly MaxLine bytes runs as one command, and so does one a
// byte longer (a driver's prefix); the builder refuses more, and sftp
// itself would split a line longer than that in two.
func TestSftpMaxLine(t *testing.T) {
	tmp := scratchDir(t)
	target := filepath.Join(tmp, "target")
	src := filepath.Join(tmp, "src")
	pad := func(n int) string { return tmp + strings.Repeat("/", n) + "target" }
	// fit finds the padding that makes mk's line exactly MaxLine bytes,
	// and checks that one byte more is refused.
	fit := func(mk func(string) (string, error)) int {
		t.Helper()
		for n := 1; ; n++ {
			line, err := mk(pad(n))
			if err != nil {
				t.Fatalf("no line of %d bytes: %v", MaxLine, err)
			}
			if len(line) == MaxLine {
				var upe *UnsafePathError
				if line, err := mk(pad(n + 1)); !errors.As(err, &upe) {
					t.Fatalf("a %d-byte line was built: %q, %v", MaxLine+1, line, err)
				}
				return n
			}
		}
	}
	p := startSftp(t, tmp)
	write(t, src, "put")
	putTo := func(remote string) (string, error) { return Put(src, remote) }
	p.runOK(must(putTo(pad(fit(putTo))))) // exactly one echo: the line itself
	if data, err := os.ReadFile(target); err != nil || string(data) != "put" {
		t.Fatalf("put of a MaxLine line left %q, %v", data, err)
	}
	n := fit(Remove)
	p.runOK(must(Remove(pad(n))))
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("rm of a MaxLine line did not remove the file: %v", err)
	}

	// With the two-byte prefix a driver adds ("-@"), a MaxLine line is
	// exactly sftp's limit, which still runs as one command...
	write(t, target, "x")
	at := "rm -- \"" + pad(n+2) + "\""
	if len(at) != sftpLineLimit {
		t.Fatalf("hand-built line is %d bytes", len(at))
	}
	echoes, _ := splitEchoes(p.raw(at + "\n"))
	if want := []string{"sftp> " + at}; !cmp.Equal(echoes, want) {
		t.Fatalf("a %d-byte line was echoed as %q, want %q", len(at), echoes, want)
	}
	// ...and one byte more is what sftp splits: it reads its first
	// sftpLineLimit+1 bytes as one command and the newline as another,
	// empty one.
	write(t, target, "x")
	over := "rm -- \"" + pad(n+3) + "\""
	if len(over) != sftpLineLimit+1 {
		t.Fatalf("hand-built line is %d bytes", len(over))
	}
	echoes, _ = splitEchoes(p.raw(over + "\n"))
	if want := []string{"sftp> " + over, "sftp> "}; !cmp.Equal(echoes, want) {
		t.Fatalf("a %d-byte line was echoed as %q, want %q", len(over), echoes, want)
	}
}

// scratchDir is a temporary directory whose path has no character special
// to sftp (t.TempDir's has the test's name in it): sftp prints it as it is,
// in its echoes, messages and pwd, so that tests can compare those with
// the path itself.
func scratchDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "batch-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
