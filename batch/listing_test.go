package batch

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// The listing tables use the directory /srv/d listed through the chain
// "//./.", so every entry is printed as /srv/d//./. + "/" + name.
const tableTag = "//./."

var tableNow = time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)

func utc(y int, mo time.Month, d, h, mi int) int64 {
	return time.Date(y, mo, d, h, mi, 0, 0, time.UTC).Unix()
}

func TestParse(t *testing.T) {
	recent := utc(2026, 11, 25, 17, 41)
	for _, tc := range []struct {
		name  string
		lines []string
		want  []Entry
	}{{
		name:  "client format",
		lines: []string{"-rw-r--r--    ? sfref    sfref           2 Nov 25 17:41 /srv/d//././plain.txt"},
		want:  []Entry{{"plain.txt", 2, recent, 0o100644}},
	}, {
		name: "owner and group with spaces, numeric, long",
		lines: []string{
			"-rw-r--r--    ? John Smith Domain Users        7 Nov 25 17:41 /srv/d//././a",
			"-rw-r--r--    ? 4242     4343            2 Nov 25 17:41 /srv/d//././b",
			"-rw-r--r--    ? averyveryverylongusername root            3 Nov 25 17:41 /srv/d//././c",
			"-rw-r--r--    ? 1 2 3    4 5 6            4 Nov 25 17:41 /srv/d//././d",
		},
		want: []Entry{
			{"a", 7, recent, 0o100644},
			{"b", 2, recent, 0o100644},
			{"c", 3, recent, 0o100644},
			{"d", 4, recent, 0o100644},
		},
	}, {
		name: "sizes",
		lines: []string{
			"-rw-r--r--    ? root     root     123456789012 Nov 25 17:41 /srv/d//././wide",
			"-rw-r--r--    ? root     root     9223372036854775807 Nov 25 17:41 /srv/d//././max",
			"-rw-r--r--    ? root     root            0 Nov 25 17:41 /srv/d//././empty",
		},
		want: []Entry{
			{"empty", 0, recent, 0o100644},
			{"max", 9223372036854775807, recent, 0o100644},
			{"wide", 123456789012, recent, 0o100644},
		},
	}, {
		name: "dates",
		lines: []string{
			"-rw-r--r--    ? root     root            4 Jan  2  2031 /srv/d//././future",
			"-rw-r--r--    ? root     root            4 Mar  4  2020 /srv/d//././old",
			"-rw-r--r--    ? root     root            4 Jan  1  1970 /srv/d//././epoch",
			"-rw-r--r--    ? root     root            4 May 27 06:00 /srv/d//././six months",
			"-rw-r--r--    ? root     root            4 Nov  5 09:07 /srv/d//././padded day",
			"-rw-r--r--    ? root     root            4 Nov 25 18:00 /srv/d//././now",
		},
		want: []Entry{
			{"epoch", 4, 0, 0o100644},
			{"future", 4, utc(2031, 1, 2, 0, 0), 0o100644},
			{"now", 4, utc(2026, 11, 25, 18, 0), 0o100644},
			{"old", 4, utc(2020, 3, 4, 0, 0), 0o100644},
			{"padded day", 4, utc(2026, 11, 5, 9, 7), 0o100644},
			{"six months", 4, utc(2026, 5, 27, 6, 0), 0o100644},
		},
	}, {
		name: "file types",
		lines: []string{
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././file",
			"drwxr-xr-x    ? root     root         4096 Nov 25 17:41 /srv/d//././dir",
			"lrwxrwxrwx    ? root     root            4 Nov 25 17:41 /srv/d//././link",
			"prw-r--r--    ? root     root            0 Nov 25 17:41 /srv/d//././fifo",
			"srwxr-xr-x    ? root     root            0 Nov 25 17:41 /srv/d//././sock",
			"crw-rw-rw-    ? root     root            0 Nov 25 17:41 /srv/d//././chr",
			"brw-rw----    ? root     disk            0 Nov 25 17:41 /srv/d//././blk",
		},
		want: []Entry{
			{"blk", 0, recent, 0o60660},
			{"chr", 0, recent, 0o20666},
			{"dir", 4096, recent, 0o40755},
			{"fifo", 0, recent, 0o10644},
			{"file", 1, recent, 0o100644},
			{"link", 4, recent, 0o120777},
			{"sock", 0, recent, 0o140755},
		},
	}, {
		name: "setuid, setgid, sticky",
		lines: []string{
			"-rwsr-xr-x    ? root     root            1 Nov 25 17:41 /srv/d//././suid",
			"-rwSr--r--    ? root     root            1 Nov 25 17:41 /srv/d//././suid-noexec",
			"drwxrwsr-x    ? root     root            1 Nov 25 17:41 /srv/d//././sgid",
			"-rw-r-Sr--    ? root     root            1 Nov 25 17:41 /srv/d//././sgid-noexec",
			"drwxrwxrwt    ? root     root            1 Nov 25 17:41 /srv/d//././sticky",
			"-rw-r--r-T    ? root     root            1 Nov 25 17:41 /srv/d//././sticky-noexec",
			"-rwsrwsrwt    ? root     root            1 Nov 25 17:41 /srv/d//././all",
			"----------    ? root     root            1 Nov 25 17:41 /srv/d//././none",
		},
		want: []Entry{
			{"all", 1, recent, 0o107777},
			{"none", 1, recent, 0o100000},
			{"sgid", 1, recent, 0o42775},
			{"sgid-noexec", 1, recent, 0o102644},
			{"sticky", 1, recent, 0o41777},
			{"sticky-noexec", 1, recent, 0o101644},
			{"suid", 1, recent, 0o104755},
			{"suid-noexec", 1, recent, 0o104644},
		},
	}, {
		name: "awkward names",
		lines: []string{
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././  leading",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././trailing  ",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././cr\r",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././tab\there",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././\\101",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././\\400",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././back\\slash\\",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././sftp> ",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././# x",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././ünïcødé",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././{a,b} * ? [ab]",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././5 Nov 25 17:41 x",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././-rw-r--r--",
		},
		want: []Entry{
			{"  leading", 1, recent, 0o100644},
			{"# x", 1, recent, 0o100644},
			{"-rw-r--r--", 1, recent, 0o100644},
			{"5 Nov 25 17:41 x", 1, recent, 0o100644},
			{`\101`, 1, recent, 0o100644},
			{`\400`, 1, recent, 0o100644},
			{`back\slash\`, 1, recent, 0o100644},
			{"cr\r", 1, recent, 0o100644},
			{"sftp> ", 1, recent, 0o100644},
			{"tab\there", 1, recent, 0o100644},
			{"trailing  ", 1, recent, 0o100644},
			{"{a,b} * ? [ab]", 1, recent, 0o100644},
			{"ünïcødé", 1, recent, 0o100644},
		},
	}, {
		name: "dot and dot-dot dropped, sorted by bytes",
		lines: []string{
			"drwxr-xr-x    ? root     root         4096 Nov 25 17:41 /srv/d//././..",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././b",
			"drwxr-xr-x    ? root     root         4096 Nov 25 17:41 /srv/d//././.",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././B",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././ä",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././.hidden",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././a",
		},
		want: []Entry{
			{".hidden", 1, recent, 0o100644},
			{"B", 1, recent, 0o100644},
			{"a", 1, recent, 0o100644},
			{"b", 1, recent, 0o100644},
			{"ä", 1, recent, 0o100644},
		},
	}, {
		name:  "empty directory",
		lines: nil,
		want:  []Entry{},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			l := listingWithTag(t, "/srv/d", tableTag)
			got, err := l.Parse(tc.lines, tableNow)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

// Lines that are not an exact entry of the listing make the whole listing
// fail, with the line (chain removed) in the error.
func TestParseRefuses(t *testing.T) {
	good := "-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././good"
	for _, tc := range []struct {
		name string
		line string // the bad line, after a good one
		next string // a line after it, if any
		want string // in the error's Line
	}{
		{"byte escaped by sftp", "-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././ctl\\001a", "", "/srv/d/ctl\\001a"},
		{"invalid UTF-8 escaped by sftp", "-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././lat\\351n", "", "lat\\351n"},
		{"UTF-8 escaped by sftp", "-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././\\303\\274", "", ""},
		{"DEL", "-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././\\177", "", ""},
		{"raw invalid UTF-8", "-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././lat\xe9n", "", ""},
		{"name with a newline", "-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././new", "line", "line"},
		{"forged continuation with another chain", "-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././evil",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d/./././forged", "forged"},
		{"forged continuation without a path", "-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././evil",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 forged", "forged"},
		{"forged continuation without the chain", "-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././evil",
			"-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d/forged", "forged"},
		{"server longname", "-rw-r--r--    1 root     root            1 Nov 25 17:41 plain.txt", "", "plain.txt"},
		{"message", "Can't ls: \"/srv/d//./.\" not found\r", "", "Can't ls: \"/srv/d\" not found\r"},
		{"echo", "sftp> ls -lan -- \"/srv/d//./.\"", "", ""},
		{"blank", "", "", ""},
		{"empty name", "-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././", "", ""},
		{"unknown type", "?rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././x", "", ""},
		{"bad mode", "-rwxrwxrwz    ? root     root            1 Nov 25 17:41 /srv/d//././x", "", ""},
		{"sticky bit as s", "-rw-r--r-s    ? root     root            1 Nov 25 17:41 /srv/d//././x", "", ""},
		{"size over int64", "-rw-r--r--    ? root     root     9223372036854775808 Nov 25 17:41 /srv/d//././x", "", ""},
		{"human size", "-rw-r--r--    ? root     root         4.0K Nov 25 17:41 /srv/d//././x", "", ""},
		{"no such day", "-rw-r--r--    ? root     root            1 Feb 30  2020 /srv/d//././x", "", ""},
		{"no such month", "-rw-r--r--    ? root     root            1 Foo 25 17:41 /srv/d//././x", "", ""},
		{"no such hour", "-rw-r--r--    ? root     root            1 Nov 25 24:00 /srv/d//././x", "", ""},
		{"time of day older than six months and a day", "-rw-r--r--    ? root     root            1 May 26 06:00 /srv/d//././x", "", ""},
		{"time of day over a day in the future", "-rw-r--r--    ? root     root            1 Nov 26 18:01 /srv/d//././x", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listingWithTag(t, "/srv/d", tableTag)
			lines := []string{good, tc.line}
			if tc.next != "" {
				lines = append(lines, tc.next)
			}
			got, err := l.Parse(lines, tableNow)
			var uee *UnreadableEntryError
			if !errors.As(err, &uee) {
				t.Fatalf("Parse = %+v, %v; want an *UnreadableEntryError", got, err)
			}
			if got != nil {
				t.Errorf("Parse returned entries with its error: %+v", got)
			}
			if strings.Contains(uee.Line, tableTag) || uee.Reason == "" || !strings.Contains(uee.Line, tc.want) {
				t.Errorf("error %+v: want the line without the chain, with %q, and a reason", uee, tc.want)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want uint32
	}{
		{"-rw-r--r--", 0o100644},
		{"drwxr-xr-x", 0o40755},
		{"lrwxrwxrwx", 0o120777},
		{"-rwsr-xr-x", 0o104755},
		{"-rwSr--r--", 0o104644},
		{"drwxr-sr-t", 0o43755},
		{"-rw-r-Sr--", 0o102644},
		{"drwxrwxrwt", 0o41777},
		{"-rw-r--r-T", 0o101644},
		{"-rwsrwsrwt", 0o107777},
		{"-rwSrwSrwT", 0o107666},
		{"----------", 0o100000},
		{"prw-------", 0o10600},
		{"srwxrwxrwx", 0o140777},
		{"crw-rw-rw-", 0o20666},
		{"brw-rw----", 0o60660},
		{"w---------", 0o160000},
	} {
		got, err := ParseMode(tc.s)
		if err != nil || got != tc.want {
			t.Errorf("ParseMode(%q) = %#o, %v; want %#o", tc.s, got, err, tc.want)
		}
		if back := strmode(got); back != tc.s {
			t.Errorf("strmode(%#o) = %q, want %q", got, back, tc.s)
		}
	}
	for _, s := range []string{
		"", "-rw-r--r", "-rw-r--r--x", "?rw-r--r--", "xrw-r--r--", "-wr-r--r--", "-rw-r--r-s",
		"-rwtr--r--", "-rw-r-tr--", "-rw-r--r-S", "-RW-r--r--", "-rw-r--r-- ", "drwxr-xr-\x00",
		"-rw-r--r-ü",
	} {
		if got, err := ParseMode(s); err == nil {
			t.Errorf("ParseMode(%q) = %#o, want an error", s, got)
		}
	}
}

func TestParseTime(t *testing.T) {
	at := func(y int, mo time.Month, d, h, mi int) time.Time { return time.Date(y, mo, d, h, mi, 0, 0, time.UTC) }
	for _, tc := range []struct {
		now             time.Time
		mon, day, clock string
		want            time.Time // zero: an error
	}{
		{tableNow, "Nov", "25", "17:41", at(2026, 11, 25, 17, 41)},
		{tableNow, "Nov", "25", "18:00", at(2026, 11, 25, 18, 0)},
		{tableNow, "Nov", " 5", "09:07", at(2026, 11, 5, 9, 7)},
		{tableNow, "Jan", " 2", " 2031", at(2031, 1, 2, 0, 0)},
		{tableNow, "Mar", " 4", " 2020", at(2020, 3, 4, 0, 0)},
		{tableNow, "Nov", "25", " 2026", at(2026, 11, 25, 0, 0)},
		// Six months before tableNow is May 27 06:00: sftp prints a time
		// of day only after that. A day of slack before it covers a now
		// read up to a day after sftp's clock.
		{tableNow, "May", "27", "06:00", at(2026, 5, 27, 6, 0)},
		{tableNow, "May", "27", "05:59", at(2026, 5, 27, 5, 59)},
		{tableNow, "May", "26", "23:00", at(2026, 5, 26, 23, 0)},
		{tableNow, "May", "26", "06:01", at(2026, 5, 26, 6, 1)},
		{tableNow, "May", "26", "06:00", time.Time{}},
		{tableNow, "May", "25", "23:00", time.Time{}},
		{tableNow, "Jun", " 1", "00:00", at(2026, 6, 1, 0, 0)},
		// A day of slack ahead of now: a now read up to a day before
		// sftp's clock.
		{tableNow, "Nov", "25", "18:01", at(2026, 11, 25, 18, 1)},
		{tableNow, "Nov", "26", "18:00", at(2026, 11, 26, 18, 0)},
		{tableNow, "Nov", "26", "18:01", time.Time{}},
		// The year rolls over.
		{at(2026, 1, 3, 12, 0), "Dec", "30", "10:00", at(2025, 12, 30, 10, 0)},
		{at(2026, 1, 3, 12, 0), "Jan", " 2", "10:00", at(2026, 1, 2, 10, 0)},
		{at(2026, 1, 3, 12, 0), "Jul", " 6", "10:00", at(2025, 7, 6, 10, 0)},
		{at(2026, 1, 3, 12, 0), "Jul", " 4", "00:01", at(2025, 7, 4, 0, 1)},
		{at(2026, 1, 3, 12, 0), "Jul", " 4", "00:00", time.Time{}},
		{at(2026, 1, 3, 12, 0), "Jul", " 1", "10:00", time.Time{}},
		{at(2026, 12, 31, 23, 59), "Dec", "31", "23:59", at(2026, 12, 31, 23, 59)},
		{at(2027, 1, 1, 0, 0), "Dec", "31", "23:59", at(2026, 12, 31, 23, 59)},
		{at(2026, 12, 31, 23, 59), "Jan", " 1", "00:00", at(2027, 1, 1, 0, 0)}, // the slack
		{at(2026, 12, 31, 12, 0), "Jan", " 1", "12:00", at(2027, 1, 1, 12, 0)},
		{at(2026, 12, 31, 12, 0), "Jan", " 1", "12:01", time.Time{}},
		// Feb 29.
		{at(2028, 3, 10, 0, 0), "Feb", "29", "12:00", at(2028, 2, 29, 12, 0)},
		{at(2028, 8, 20, 0, 0), "Feb", "29", "12:00", at(2028, 2, 29, 12, 0)},
		{at(2029, 1, 15, 0, 0), "Feb", "29", "12:00", time.Time{}},
		{at(2025, 3, 10, 0, 0), "Feb", "29", "12:00", time.Time{}},
		{tableNow, "Feb", "29", " 2024", at(2024, 2, 29, 0, 0)},
		{tableNow, "Feb", "29", " 2023", time.Time{}},
		// Not dates.
		{tableNow, "Nov", "31", "10:00", time.Time{}},
		{tableNow, "Nov", "31", " 2020", time.Time{}},
		{tableNow, "Nov", " 0", "10:00", time.Time{}},
		{tableNow, "Nov", "32", " 2020", time.Time{}},
		{tableNow, "nov", "25", "10:00", time.Time{}},
		{tableNow, "Nov", "25", "24:00", time.Time{}},
		{tableNow, "Nov", "25", "12:60", time.Time{}},
	} {
		got, err := ParseTime(tc.mon, tc.day, tc.clock, tc.now)
		if tc.want.IsZero() {
			if err == nil {
				t.Errorf("ParseTime(%q, %q, %q, %s) = %s, want an error", tc.mon, tc.day, tc.clock, tc.now.Format(time.RFC3339), got)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q, %q, %q, %s) = %s, %v; want %s", tc.mon, tc.day, tc.clock, tc.now.Format(time.RFC3339), got, err, tc.want)
		}
	}
}

// ParseTime's doc: now "need not be sftp's clock reading", "a day of slack
// on either side". sftp reads its clock before it prints; the caller reads
// now after, normally, but not necessarily with the same clock. A file a
// second inside sftp's six-month window is printed as a time of day, and
// must still parse when now is read up to a day later, or earlier.
func TestParseTimeClockGap(t *testing.T) {
	sftpNow := time.Date(2026, 11, 25, 12, 0, 58, 0, time.UTC)
	mtime := time.Date(2026, 5, 27, 0, 0, 59, 0, time.UTC) // sftpNow - 182.5 days + 1s
	if !(sftpNow.Add(-sixMonthsSftp).Before(mtime) && !mtime.After(sftpNow)) {
		t.Fatal("test set-up: sftp would print a year")
	}
	// sftp prints "May 27 00:00".
	for _, gap := range []time.Duration{
		0, time.Second, 2 * time.Second, 30 * time.Second, 59 * time.Second, time.Hour, 23*time.Hour + 59*time.Minute,
		-time.Second, -time.Hour, -(23*time.Hour + 59*time.Minute),
	} {
		got, err := ParseTime("May", "27", "00:00", sftpNow.Add(gap))
		if want := mtime.Truncate(time.Minute); err != nil || !got.Equal(want) {
			t.Errorf("now read %s after sftp's clock: ParseTime = %s, %v; want %s", gap, got, err, want)
		}
	}
}

// ParseTime is exported: input the regular expression in Parse would never
// let through must give an error, not a panic or a made-up date.
func TestParseTimeMalformedClock(t *testing.T) {
	for _, tc := range []struct {
		clock string
		ok    time.Time // the one reading accepted instead of an error
	}{
		{"", time.Time{}},
		{"7", time.Time{}},
		{"12", time.Time{}},
		{" 2:34", time.Date(2026, 11, 25, 2, 34, 0, 0, time.UTC)}, // Parse's regexp lets this one through
		{"2:34", time.Date(2026, 11, 25, 2, 34, 0, 0, time.UTC)},
		{"12x45", time.Time{}},
		{"12:-5", time.Time{}},
		{"+1:30", time.Time{}},
	} {
		var got time.Time
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
					t.Errorf("ParseTime(%q, %q, %q) panicked: %v", "Nov", "25", tc.clock, r)
				}
			}()
			got, err = ParseTime("Nov", "25", tc.clock, tableNow)
		}()
		if err == nil && !got.Equal(tc.ok) {
			t.Errorf("ParseTime(%q, %q, %q) = %s, want an error", "Nov", "25", tc.clock, got)
		}
	}
	// Through Parse: a clock sftp never prints (it zero-pads the hour).
	l := listingWithTag(t, "/srv/d", tableTag)
	got, err := l.Parse([]string{"-rw-r--r--    ? root     root            1 Nov 25  2:34 /srv/d//././x"}, tableNow)
	if err == nil && (len(got) != 1 || got[0].Mtime != utc(2026, 11, 25, 2, 34)) {
		t.Errorf("Parse of a line with the clock \" 2:34\" = %+v, want an error or 02:34", got)
	}
}

// strmode is OpenSSH's strmode(3), the inverse of ParseMode.
func strmode(m uint32) string {
	types := map[uint32]byte{
		ModeFile: '-', ModeDir: 'd', ModeLink: 'l', ModeFIFO: 'p',
		ModeSocket: 's', ModeChar: 'c', ModeBlock: 'b', ModeWht: 'w',
	}
	b := []byte{types[m&0o170000], '-', '-', '-', '-', '-', '-', '-', '-', '-'}
	if b[0] == 0 {
		b[0] = '?'
	}
	for i, c := range "rwxrwxrwx" {
		if m&(1<<(8-i)) != 0 {
			b[1+i] = byte(c)
		}
	}
	for i, sp := range []struct {
		bit      uint32
		set, off byte
	}{{0o4000, 's', 'S'}, {0o2000, 's', 'S'}, {0o1000, 't', 'T'}} {
		if m&sp.bit != 0 {
			if x := 3 + 3*i; b[x] == 'x' {
				b[x] = sp.set
			} else {
				b[x] = sp.off
			}
		}
	}
	return string(b)
}

// sftpLine renders an entry the way sftp's ls_file prints it in a listing
// of dir through tag. sftp's clock may be up to a day either side of now
// (ParseTime's slack), so a time anywhere in ParseTime's window is printed
// as a time of day.
func sftpLine(e Entry, dir, tag string, now time.Time) string {
	m := time.Unix(e.Mtime, 0).UTC()
	date := m.Format("Jan _2  2006")
	if now.Add(-sixMonthsSftp-24*time.Hour).Before(m) && !m.After(now.Add(24*time.Hour)) {
		date = m.Format("Jan _2 15:04")
	}
	return fmt.Sprintf("%s  %3s %-8s %-8s %8d %s %s", strmode(e.Mode), "?", "root", "root", e.Size, date, dir+tag+"/"+e.Name)
}

func FuzzParseListing(f *testing.F) {
	l := listingWithTag(f, "/srv/d", tableTag)
	for _, e := range []Entry{
		{"plain", 2, utc(2026, 11, 25, 17, 41), 0o100644},
		{"old \\101 x", 123456789012, utc(2020, 3, 4, 0, 0), 0o104755},
		{"cr\r", 0, utc(2031, 1, 2, 0, 0), 0o41777},
		{"  spaced  ", 7, utc(2026, 5, 27, 6, 0), 0o120777},
	} {
		f.Add(sftpLine(e, "/srv/d", tableTag, tableNow))
	}
	f.Add("-rw-r--r--    ? John Smith Domain Users        7 Nov 25 17:41 /srv/d//././a\n" +
		"drwxr-xr-x    ? root     root         4096 Nov 25 17:41 /srv/d//././..")
	f.Add("-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././new\nline")
	f.Add("-rw-r--r--    ? root     root            1 Nov 25 17:41 /srv/d//././ctl\\001")
	f.Add("-rw-r--r--    ? root     root            1 Feb 29 12:00 /srv/d//././leap")
	f.Add("Can't ls: \"/srv/d//./.\" not found\r")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		entries, err := l.Parse(strings.Split(text, "\n"), tableNow)
		if err != nil {
			var uee *UnreadableEntryError
			if !errors.As(err, &uee) || entries != nil {
				t.Fatalf("Parse = %+v, %v; want only an *UnreadableEntryError", entries, err)
			}
			return
		}
		for i, e := range entries {
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "/") || !utf8.ValidString(e.Name) {
				t.Fatalf("Parse returned the entry %+v", e)
			}
			if i > 0 && entries[i-1].Name > e.Name {
				t.Fatalf("entries not sorted: %q before %q", entries[i-1].Name, e.Name)
			}
			if strmode(e.Mode)[0] == '?' || e.Size < 0 {
				t.Fatalf("Parse returned the entry %+v", e)
			}
		}
		// Printed again the way sftp prints, the entries read back the same.
		var again []string
		for _, e := range entries {
			again = append(again, sftpLine(e, "/srv/d", tableTag, tableNow))
		}
		back, err := l.Parse(again, tableNow)
		if err != nil {
			t.Fatalf("entries %+v printed as %q: %v", entries, again, err)
		}
		if diff := cmp.Diff(entries, back); diff != "" {
			t.Fatalf("entries printed again and read back (-first +second):\n%s", diff)
		}
	})
}

// TestQuickFieldsAgreeWithTheRegexp: the quick split of an entry line gives
// what longLine's groups hold, for owners and groups with spaces, every
// date form, sizes, and names that look like fields; and it declines what
// it cannot read, leaving it to the regexp.
func TestQuickFieldsAgreeWithTheRegexp(t *testing.T) {
	l := listingWithTag(t, "/srv/a dir  Nov 25 12:00 x", "//././")
	var lines []string
	for _, owner := range []string{"0        0", "root     root", "a b      c d", "1000     1 2"} {
		for _, date := range []string{"Nov 25 12:00", "Jan  1  2021", "Dec 31 23:59", "Feb  3 01:02"} {
			for _, name := range []string{"plain", " lead", "trail ", "x 12 Nov 25 12:00 y", "-rw-r--r--  1 0 0 5 Nov 25 12:00 z", `back\\slash`} {
				for _, size := range []string{"0", "12345678901"} {
					lines = append(lines, fmt.Sprintf("-rw-r--r--    1 %s %12s %s %s%s/%s", owner, size, date, l.Dir, l.tag, name))
				}
			}
		}
	}
	quick := 0
	for _, ln := range lines {
		want := longLine.FindStringSubmatch(ln)
		got, ok := l.fields(ln)
		if !ok {
			continue
		}
		quick++
		if want == nil {
			t.Errorf("fields accepts %q, which longLine does not", ln)
			continue
		}
		// Where owners are ambiguous, the regexp takes the first fit and
		// fields the one next to the known directory; sizes and dates
		// agree either way for these lines.
		if got[1] != want[1] || got[4] != want[4] || got[5] != want[5] || got[6] != want[6] || got[7] != want[7] || got[8] != want[8] {
			t.Errorf("%q:\nfields %q\nregexp %q", ln, got[1:], want[1:])
		}
	}
	if quick != len(lines) {
		t.Errorf("fields read %d of %d ordinary lines", quick, len(lines))
	}
	// Not the listed directory as given: declined.
	for _, ln := range []string{
		"-rw-r--r--    1 0 0 5 Nov 25 12:00 /other" + l.tag + "/x",
		"-rw-r--r--    1 0 0 5 Nov 25 12:00 /srv/a dir  Nov 25 12:00 x/x",
		"garbage" + l.tag + "/x",
	} {
		if _, ok := l.fields(ln); ok {
			t.Errorf("fields accepts %q", ln)
		}
	}
}

// sftp cuts listing lines at LsLineMax bytes (ls_file's buffer). A line
// shorter than that is whole; a line that long may have lost the end of
// its name, and the listing is refused rather than read as a shorter name.
func TestParseCutLines(t *testing.T) {
	for _, tc := range []struct {
		lineLen int
		cut     bool
	}{
		{LsLineMax - 2, false},
		{LsLineMax - 1, false},
		{LsLineMax, true},
		{LsLineMax + 7, true}, // escapes lengthen a cut line further
	} {
		// The name fills the line up to the length wanted.
		dir := "/srv/" + strings.Repeat("d", 600)
		tag := strings.Repeat("/.", tagSteps) + "/."
		base := sftpLine(Entry{Name: "", Mtime: utc(2026, 11, 25, 17, 41), Mode: 0o100644}, dir, tag, tableNow)
		name := strings.Repeat("n", tc.lineLen-len(base))
		e := Entry{Name: name, Mtime: utc(2026, 11, 25, 17, 41), Mode: 0o100644}
		ln := sftpLine(e, dir, tag, tableNow)
		if len(ln) != tc.lineLen {
			t.Fatalf("built a line of %d bytes, want %d", len(ln), tc.lineLen)
		}
		l := listingWithTag(t, dir, tag)
		got, err := l.Parse([]string{ln}, tableNow)
		var cle *CutLineError
		switch {
		case tc.cut && !errors.As(err, &cle):
			t.Errorf("line of %d bytes: Parse = %v, %v; want a *CutLineError", tc.lineLen, got, err)
		case tc.cut && (!strings.Contains(err.Error(), "cannot list \"/srv/ddd") || strings.Contains(err.Error(), tag)):
			t.Errorf("line of %d bytes: error %q should name the directory, without the chain", tc.lineLen, err)
		case !tc.cut && (err != nil || len(got) != 1 || got[0].Name != name):
			t.Errorf("line of %d bytes: Parse = %v, %v; want the entry %q", tc.lineLen, got, err, name)
		}
	}
}
