package batch

// Listings of real directories through the real sftp, parsed and compared
// with what lstat says.

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var oldTime = time.Date(2020, 3, 4, 12, 34, 56, 0, time.UTC)

// awkwardNames are names a listing must read back exactly.
var awkwardNames = []string{
	"plain.txt", "with space", "  leading", "trailing  ", "tab\there", "cr\r", "\rcr first",
	`double"quote`, `single'quote`, `back\slash`, `trailing\`, `\101`, `\400`, `\9`,
	"# x", "sftp> ", "sftp> ls", "-dash", "--", "!x", "$(id)", "`id`", "~", "~root", ".hidden", "...",
	"*", "x*", "?", "[ab]", "]", "{a,b}", "{", "}", "%s%n", "ünïcødé", "日本語",
	"5 Nov 25 17:41 x", "-rw-r--r--", strings.Repeat("n", 255),
}

// makeAwkwardDir fills dir with awkwardNames as files, and with every file
// type, the special mode bits, a wide size, and old and future times.
func makeAwkwardDir(t testing.TB, dir string) {
	t.Helper()
	for _, n := range awkwardNames {
		write(t, filepath.Join(dir, n), n)
	}
	must0(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	write(t, filepath.Join(dir, "sub", "inner"), "not listed")
	must0(t, os.Symlink("plain.txt", filepath.Join(dir, "link")))
	must0(t, os.Symlink("nowhere", filepath.Join(dir, "broken link")))
	must0(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	makeSocket(t, filepath.Join(dir, "socket"))
	// Devices need privilege; without it the listing just has none.
	if syscall.Mknod(filepath.Join(dir, "chr"), syscall.S_IFCHR|0o666, 1<<8|3) != nil ||
		syscall.Mknod(filepath.Join(dir, "blk"), syscall.S_IFBLK|0o660, 7<<8|0) != nil {
		t.Logf("no device files: not privileged")
	}
	for name, mode := range map[string]uint32{
		"suid": 0o4755, "suid-noexec": 0o4644, "sgid-noexec": 0o2644,
		"sticky-noexec": 0o1644, "all-bits": 0o7777, "no-bits": 0,
	} {
		p := filepath.Join(dir, name)
		write(t, p, name)
		must0(t, syscall.Chmod(p, mode))
	}
	for name, mode := range map[string]uint32{"sgid-dir": 0o2775, "sticky-dir": 0o1777} {
		p := filepath.Join(dir, name)
		must0(t, os.Mkdir(p, 0o755))
		must0(t, syscall.Chmod(p, mode))
	}
	big := filepath.Join(dir, "big")
	write(t, big, "")
	must0(t, os.Truncate(big, 123456789012))
	old := filepath.Join(dir, "old")
	write(t, old, "old")
	must0(t, os.Chtimes(old, oldTime, oldTime))
	future := filepath.Join(dir, "future")
	write(t, future, "future")
	ft := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	must0(t, os.Chtimes(future, ft, ft))
}

// makeSocket leaves a Unix socket file at path. It is bound under a short
// name first: socket addresses are limited to about 100 bytes.
func makeSocket(t testing.TB, path string) {
	t.Helper()
	short, err := os.MkdirTemp("", "s")
	must0(t, err)
	defer os.RemoveAll(short)
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	must0(t, err)
	defer syscall.Close(fd)
	must0(t, syscall.Bind(fd, &syscall.SockaddrUnix{Name: filepath.Join(short, "s")}))
	must0(t, os.Rename(filepath.Join(short, "s"), path))
}

func must0(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSftpListing(t *testing.T) {
	requireSftp(t)
	tmp := scratchDir(t)
	// The directory's own name is awkward too; only the chain after it
	// matters to the parser.
	dir := filepath.Join(tmp, `list "dir" {a,b} [x] * \ #`)
	makeAwkwardDir(t, dir)
	settle()
	p := startSftp(t, tmp)
	// Three spellings of the same absolute path: a listing only needs the
	// chain, not a clean path.
	for _, d := range []string{dir, tmp + "/./" + filepath.Base(dir), dir + "/"} {
		l := must(NewListing(d))
		out := p.run(l.Line)
		now := time.Now()
		got, err := l.Parse(out, now)
		if err != nil {
			t.Fatalf("listing of %q: %v; sftp printed:\n%s", d, err, strings.Join(out, "\n"))
		}
		want := wantEntries(t, dir, now)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("listing of %q (-lstat +parsed):\n%s", d, diff)
		}
		for _, e := range got {
			fi, err := os.Lstat(filepath.Join(dir, e.Name))
			must0(t, err)
			var wantTime time.Time
			switch e.Name {
			case "old":
				wantTime = time.Date(2020, 3, 4, 0, 0, 0, 0, time.UTC)
			case "future":
				wantTime = time.Date(2031, 1, 2, 0, 0, 0, 0, time.UTC)
			default:
				wantTime = fi.ModTime().Truncate(time.Minute)
			}
			if !time.Unix(e.Mtime, 0).Equal(wantTime) {
				t.Errorf("%q: mtime %s, want %s", e.Name, time.Unix(e.Mtime, 0).UTC(), wantTime.UTC())
			}
		}
	}
}

// The root directory: the chain follows a bare "/".
func TestSftpListingRoot(t *testing.T) {
	p := startSftp(t, scratchDir(t))
	l := must(NewListing("/"))
	out := p.run(l.Line)
	got, err := l.Parse(out, time.Now())
	if err != nil {
		t.Fatalf("listing of /: %v; sftp printed:\n%s", err, strings.Join(out, "\n"))
	}
	var names, want []string
	for _, e := range got {
		names = append(names, e.Name)
	}
	des, err := os.ReadDir("/")
	must0(t, err)
	for _, de := range des {
		want = append(want, de.Name())
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("listing of / (-want +got):\n%s", diff)
	}
}

// Names sftp cannot print unambiguously make the listing fail as a whole.
func TestSftpListingRefused(t *testing.T) {
	for _, name := range []string{
		"ctl\x01", "esc\x1b[1m", "del\x7f", "lat\xe9n", `lit\001`, `lit\351`,
		"new\nline",
		"evil\n-rw-r--r--    ? root     root            0 Jan  1  2020 forged",
	} {
		t.Run(strings.ToValidUTF8(name, "?"), func(t *testing.T) {
			tmp := scratchDir(t)
			write(t, filepath.Join(tmp, "d", "fine"), "fine")
			write(t, filepath.Join(tmp, "d", name), "x")
			p := startSftp(t, tmp)
			l := must(NewListing(filepath.Join(tmp, "d")))
			out := p.run(l.Line)
			got, err := l.Parse(out, time.Now())
			var uee *UnreadableEntryError
			if !errors.As(err, &uee) {
				t.Fatalf("Parse = %+v, %v; want an *UnreadableEntryError (sftp printed %q)", got, err, out)
			}
		})
	}
}

// A listing that fails says why, in terms of the path asked for. In "Can't
// ls" sftp prints the glob pattern it was given, with its escapes.
func TestSftpListingMessages(t *testing.T) {
	tmp := scratchDir(t)
	write(t, filepath.Join(tmp, "file"), "file")
	p := startSftp(t, tmp)
	for _, tc := range []struct{ dir, shown string }{
		{"missing", "missing"},
		{"file", "file"},
		{`back\slash ü`, `back\\slash ü`},
		{"star* {a,b}", `star\* \{a,b\}`},
	} {
		l := must(NewListing(tmp + "/" + tc.dir))
		out := p.run(l.Line)
		if _, err := l.Parse(out, time.Now()); err == nil {
			t.Errorf("listing of %q parsed", tc.dir)
		}
		var got []string
		for _, m := range Messages(out) {
			got = append(got, l.Clean(m))
		}
		want := []string{`Can't ls: "` + tmp + "/" + tc.shown + `" not found`}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("listing of %q: messages (-want +got):\n%s", tc.dir, diff)
		}
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
