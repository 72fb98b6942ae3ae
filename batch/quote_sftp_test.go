package batch

// Quoting against the real sftp: every builder's line is run through
// `sftp -D sftp-server` in a scratch directory, and the file system says
// whether exactly the intended file was created, read, listed or removed.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// nastyNames are paths relative to a scratch directory. "<tmp>" stands for
// that directory, so that a shell escape that ran would leave <tmp>/pwned.
var nastyNames = []struct {
	name string
	// unlistable: sftp prints the name ambiguously (a byte it escapes, or
	// backslash-digits text), so a listing of its directory must fail.
	unlistable bool
}{
	{name: "with space"},
	{name: " leading space"},
	{name: "trailing space "},
	{name: "   "},
	{name: "a  two  spaces"},
	{name: "tab\there"},
	{name: "\tleading tab"},
	{name: "vt\vff\f", unlistable: true},
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
	{name: "lat\xe9n", unlistable: true},
	{name: "\x01", unlistable: true},
	{name: "esc\x1b[31mred", unlistable: true},
	{name: "del\x7f", unlistable: true},
	{name: `\101`},
	{name: `\001`, unlistable: true},
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
			testNastyName(t, n.name, n.unlistable)
		})
	}
}

func testNastyName(t *testing.T, name string, unlistable bool) {
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
	// starting with -, !, ~, # or @ start the operand too. ls takes only
	// absolute paths (see TestSftpRelativePathUnderBraces): its operand is
	// the name under remote/, joined by hand so that nothing cleans it.
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

	out := p.runOK(must(Stat(abs)))
	if len(out) != 1 || !strings.HasSuffix(out[0], " "+sftpPrinted(abs)) {
		t.Fatalf("stat printed %q, want one line for %q", out, sftpPrinted(abs))
	}

	// A listing of remote/, which holds the name and the decoys.
	l := must(NewListing(remote))
	out = p.run(l.Line)
	entries, err := l.Parse(out, time.Now())
	var uee *UnreadableEntryError
	switch {
	case unlistable && !errors.As(err, &uee):
		t.Fatalf("listing parsed as %+v, %v; want an *UnreadableEntryError", entries, err)
	case !unlistable:
		if err != nil {
			t.Fatalf("listing: %v (sftp printed %q)", err, out)
		}
		var got, want []string
		for _, e := range entries {
			got = append(got, e.Name)
		}
		des, _ := os.ReadDir(remote)
		for _, de := range des {
			want = append(want, de.Name())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("listing names (-want +got):\n%s", diff)
		}
	}

	p.runOK(must(Remove(name)))
	delete(wantRemote, name)
	check("rm")

	out = p.run(must(Stat(abs)))
	if len(Messages(out)) != 1 || len(out) != 1 {
		t.Fatalf("stat of the removed file printed %q, want one message", out)
	}

	// The name as a directory: listed, and entered.
	dir := filepath.Join(remote, name)
	write(t, filepath.Join(dir, "inner file"), "inner")
	write(t, filepath.Join(dir, ".dot"), "dot")
	if err := os.Symlink("inner file", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	wantRemote = snapshot(t, remote)
	for _, d := range []string{abs, dir + "/"} {
		l := must(NewListing(d))
		out := p.run(l.Line)
		entries, err := l.Parse(out, time.Now())
		if err != nil {
			t.Fatalf("listing of %q: %v (sftp printed %q)", d, err, out)
		}
		if diff := diffListing(t, dir, time.Now(), entries); diff != "" {
			t.Fatalf("listing of %q (-want +got):\n%s", d, diff)
		}
	}
	write(t, filepath.Join(local, "probe"), "probe")
	wantLocal = snapshot(t, local)
	p.runOK(must(Chdir(name)))
	p.runOK(must(Put("probe", "probe")))
	wantRemote[filepath.Join(name, "probe")] = "probe"
	check("put into the directory")
	// An absolute path does not depend on the working directory, even
	// one with braces in its name (see TestSftpRelativePathUnderBraces).
	if out := p.runOK(must(Stat(abs + "/probe"))); len(out) != 1 || !strings.HasSuffix(out[0], " "+sftpPrinted(abs+"/probe")) {
		t.Fatalf("stat of probe printed %q", out)
	}
	p.runOK(must(Remove("probe")))
	delete(wantRemote, filepath.Join(name, "probe"))
	check("rm in the directory")
	p.runOK(must(Chdir(remote)))
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

// ls brace-expands even inside quotes, and a brace alternative that matches
// nothing crashes sftp 9.2: the listing line must keep braces literal.
func TestSftpBraces(t *testing.T) {
	tmp := scratchDir(t)
	for _, n := range []string{"a", "b", "{a,b}", "{a,nope}"} {
		write(t, filepath.Join(tmp, n), n)
	}
	for _, n := range []string{"{a,b}", "{a,nope}"} {
		write(t, filepath.Join(tmp, "dir"+n, "only"), "only")
	}
	p := startSftp(t, tmp)
	for _, n := range []string{"{a,b}", "{a,nope}"} {
		path := filepath.Join(tmp, n)
		out := p.runOK(must(Stat(path)))
		if len(out) != 1 || !strings.HasSuffix(out[0], " "+path) {
			t.Errorf("stat of %s printed %q, want that one path", path, out)
		}
		l := must(NewListing(filepath.Join(tmp, "dir"+n)))
		out = p.runOK(l.Line)
		entries, err := l.Parse(out, time.Now())
		if err != nil || len(entries) != 1 || entries[0].Name != "only" {
			t.Errorf("listing of dir%s = %+v, %v; sftp printed %q", n, entries, err, out)
		}
	}
}

// sftp makes a relative path absolute with its working directory, which it
// escapes for * ? [ ] and \ but not for braces, and ls brace-expands the
// result: under a working directory named {a}, an ls of a relative path
// lists a path under a/ instead. So Stat and NewListing refuse relative
// paths, and the absolute path, whose braces the quoting escapes, names
// the right file.
func TestSftpRelativePathUnderBraces(t *testing.T) {
	var upe *UnsafePathError
	if l, err := NewListing("x"); !errors.As(err, &upe) || upe.Path != "x" {
		t.Errorf("NewListing(%q) = %+v, %v; want an *UnsafePathError", "x", l, err)
	}
	if line, err := Stat("x/wrong"); !errors.As(err, &upe) || upe.Path != "x/wrong" {
		t.Errorf("Stat(%q) = %q, %v; want an *UnsafePathError", "x/wrong", line, err)
	}

	tmp := scratchDir(t)
	write(t, filepath.Join(tmp, "{a}", "x", "right"), "")
	write(t, filepath.Join(tmp, "a", "x", "wrong"), "")
	p := startSftp(t, tmp)
	p.runOK(must(Chdir(filepath.Join(tmp, "{a}"))))

	// The fact the refusal rests on: the line Stat("x/wrong") used to
	// build finds the file under a/.
	if out := p.run(`ls -lan -- "x/wrong"`); len(out) != 1 || !strings.HasSuffix(out[0], " "+tmp+"/a/x/wrong") {
		t.Errorf("a relative ls of x/wrong in %s/{a} printed %q, want %s/a/x/wrong: has sftp stopped brace-expanding its working directory?", tmp, out, tmp)
	}

	dir := filepath.Join(tmp, "{a}", "x")
	l := must(NewListing(dir))
	out := p.runOK(l.Line)
	got, err := l.Parse(out, time.Now())
	if err != nil || len(got) != 1 || got[0].Name != "right" {
		t.Errorf("listing of %s = %+v, %v; want right; sftp printed:\n%s", dir, got, err, strings.Join(out, "\n"))
	}

	wrong := filepath.Join(dir, "wrong")
	out = p.run(must(Stat(wrong)))
	if len(out) != 1 || len(Messages(out)) != 1 {
		t.Errorf("stat of %s, which does not exist, printed %q, want one message", wrong, out)
	}
}

// A line of exactly MaxLine bytes runs as one command, and so does one a
// byte longer (a driver's prefix); the builder refuses more, and sftp
// itself would split a line longer than that in two.
func TestSftpMaxLine(t *testing.T) {
	tmp := scratchDir(t)
	target := filepath.Join(tmp, "target")
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
	write(t, target, "x")
	out := p.runOK(must(Stat(pad(fit(Stat))))) // exactly one echo: the line itself
	if len(out) != 1 {
		t.Fatalf("stat printed %q", out)
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
// to sftp (t.TempDir's has the test's name in it): sftp makes relative
// paths absolute with its working directory, which it does not escape
// for brace expansion.
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

// sixMonthsSftp is OpenSSH ls_file's limit between "Mon DD HH:MM" and
// "Mon DD  YYYY": (365*24*60*60)/2 seconds.
const sixMonthsSftp = 15768000 * time.Second

// shownTime is a modification time at the precision sftp prints it when
// its clock reads now: to the minute for the six months before now, to the
// day otherwise, in UTC.
func shownTime(m, now time.Time) time.Time {
	m = m.UTC()
	if now.Add(-sixMonthsSftp).Before(m) && !m.After(now) {
		return m.Truncate(time.Minute)
	}
	return time.Date(m.Year(), m.Month(), m.Day(), 0, 0, 0, 0, time.UTC)
}

// wantEntries is what a listing of dir must return, read from the file
// system with lstat: every entry but . and .., sorted by name.
func wantEntries(t testing.TB, dir string, now time.Time) []Entry {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	entries := []Entry{}
	for _, de := range des {
		fi, err := os.Lstat(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		entries = append(entries, Entry{
			Name:  de.Name(),
			Size:  st.Size,
			Mtime: shownTime(fi.ModTime(), now).Unix(),
			Mode:  st.Mode,
		})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries
}

// diffListing compares a parsed listing of dir with wantEntries. sftp reads
// its clock with time(3), which can lag the timestamp the kernel gave a
// file just written: such a file is "in the future" to sftp, which then
// prints its date without the time. A file written within two seconds of
// now may therefore come back at 00:00 of its day.
func diffListing(t testing.TB, dir string, now time.Time, got []Entry) string {
	t.Helper()
	want := wantEntries(t, dir, now)
	got = append([]Entry(nil), got...)
	for i := range got {
		if i >= len(want) || got[i].Name != want[i].Name || got[i].Mtime == want[i].Mtime {
			continue
		}
		fi, err := os.Lstat(filepath.Join(dir, got[i].Name))
		if err != nil || now.Sub(fi.ModTime()) > 2*time.Second {
			continue
		}
		if m := fi.ModTime().UTC(); got[i].Mtime == time.Date(m.Year(), m.Month(), m.Day(), 0, 0, 0, 0, time.UTC).Unix() {
			got[i].Mtime = want[i].Mtime
		}
	}
	return cmp.Diff(want, got)
}

// settle waits until everything just written under dir is over a second
// old, so that sftp prints each recent time to the minute (see
// diffListing).
func settle() { time.Sleep(1100 * time.Millisecond) }
