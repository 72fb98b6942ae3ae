package batch

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Entry is one directory entry as LISTDIR reports it.
type Entry struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"` // Unix seconds; see ParseTime for its precision
	Mode  uint32 `json:"mode"`  // full st_mode: file type, permissions, setuid/setgid/sticky
}

// UnreadableEntryError reports a listing line whose entry sftp printed in a
// way that cannot be turned back into the exact name or attributes.
type UnreadableEntryError struct {
	Line   string // as sftp printed it, with the listing chain removed
	Reason string
}

func (e *UnreadableEntryError) Error() string {
	return fmt.Sprintf("cannot read listing entry %q: %s", e.Line, e.Reason)
}

// LsLineMax is the length at which sftp cuts a listing line: it formats
// each entry into a buffer of 1024 bytes (ls_file in OpenSSH's
// sftp-common.c, at least up to 9.9), so a line's text before its newline
// is at most 1023 bytes, and a longer one loses its end: the end of the
// name, or the name and more. sftp then escapes what is not printable,
// which only lengthens the text, so a printed line shorter than this was
// never cut. One this long may have been: it is refused (CutLineError),
// never read as a shorter name.
const LsLineMax = 1023

// CutLineError reports a listing line as long as sftp's limit, so that the
// entry on it may have lost the end of its name.
type CutLineError struct {
	Dir  string // the directory listed
	Line string // as sftp printed it, with the listing chain removed
}

func (e *CutLineError) Error() string {
	return fmt.Sprintf("cannot list %q exactly: sftp cuts each listing line at %d bytes, and an entry's line reached that length, "+
		"so its name may be cut short (sftp prints each name after the directory's path, here %d bytes, and a chain of %d); "+
		"list the directory through a shorter path, such as a symlink to it", e.Dir, LsLineMax, len(e.Dir), TagLen)
}

// longLine matches sftp's own long format ("%s %3s %-*s %-*s %8llu %s %s"):
// mode, link count, owner and group (which may hold spaces, so they are
// taken lazily up to the first size-and-date that fits), size, a 12-column
// date, one space, and the displayed path.
var longLine = regexp.MustCompile(
	`^([-dlpscbw?][-rwxsStT]{9})  +(\S+) (.*?) +(\d+) ([A-Z][a-z]{2}) ([ 1-3][0-9]) ([ 0-9][0-9]:[0-9]{2}| [0-9]{4}) (.*)$`)

// Parse turns the lines sftp printed for l.Line into entries sorted by name,
// without . and .. . Lines must be split at LF only, so that a CR in a name
// stays part of it. now is the time the listing was made (see ParseTime).
//
// A line that is not an entry of this listing, or an entry whose name cannot
// be recovered exactly, makes the whole listing fail with
// *UnreadableEntryError: a partial or silently wrong listing is never
// returned. Error lines (sftp's own messages) are not entries either; the
// caller looks for them first.
func (l *Listing) Parse(lines []string, now time.Time) ([]Entry, error) {
	l.now, l.entries, l.err = now, nil, nil
	for _, ln := range lines {
		l.add(ln)
	}
	return l.Result()
}

// Add takes the lines of a listing one by one as sftp prints them, so that
// only the entries are kept, never the whole text. It reports whether it
// consumed the line: a message line (ending in CR, see Messages) is left to
// the caller, which checks for messages before calling Result. The first
// line sets the time the listing was made.
func (l *Listing) Add(ln string) bool {
	if strings.HasSuffix(ln, "\r") {
		return false
	}
	if l.now.IsZero() {
		l.now = time.Now()
	}
	l.add(ln)
	return true
}

func (l *Listing) add(ln string) {
	if l.err != nil {
		return
	}
	if len(ln) >= LsLineMax {
		// Checked before anything else: a line cut in the directory
		// or the chain would otherwise look like a forged one.
		l.err, l.entries = &CutLineError{Dir: l.Dir, Line: l.Clean(ln)}, nil
		return
	}
	e, err := l.parseLine(ln, l.now)
	switch {
	case err != nil:
		l.err = err
		l.entries = nil
	case e.Name != "." && e.Name != "..":
		l.entries = append(l.entries, e)
	}
}

// Result returns the entries added so far, sorted by name, or the reason
// the listing cannot be read (see Parse).
func (l *Listing) Result() ([]Entry, error) {
	if l.err != nil {
		return nil, l.err
	}
	entries := l.entries
	if entries == nil {
		entries = []Entry{}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries, nil
}

func (l *Listing) parseLine(ln string, now time.Time) (Entry, error) {
	bad := func(reason string) (Entry, error) {
		return Entry{}, &UnreadableEntryError{Line: l.Clean(ln), Reason: reason}
	}
	m, ok := l.fields(ln)
	if !ok {
		if m = longLine.FindStringSubmatch(ln); m == nil {
			return bad("not an sftp long-format line (a name with a newline in it prints like this)")
		}
	}
	display := m[8]
	slash := strings.LastIndexByte(display, '/')
	if slash < 0 || !strings.HasSuffix(display[:slash], l.tag) {
		return bad("not an entry of the listed directory (a name with a newline in it prints like this)")
	}
	name, err := decodeName(display[slash+1:])
	if err != nil {
		return bad(err.Error())
	}
	if name == "" {
		return bad("empty name")
	}
	mode, err := ParseMode(m[1])
	if err != nil {
		return bad(err.Error())
	}
	size, err := strconv.ParseInt(m[4], 10, 64)
	if err != nil {
		return bad("size out of range")
	}
	mtime, err := ParseTime(m[5], m[6], m[7], now)
	if err != nil {
		return bad(err.Error())
	}
	return Entry{Name: name, Size: size, Mtime: mtime.Unix(), Mode: mode}, nil
}

// fields splits an entry line the quick way, into what longLine's groups
// would hold, when the line shows the listed directory exactly as given:
// "MODE  NLINK OWNER GROUP SIZE Mon DD HH:MM DIR" + tag + "/" + name. The
// tag cannot occur in a name (it is random), so it marks where the name
// starts; the fields before the directory are then read from the right,
// which lets owner and group hold spaces. Anything else (a directory name
// sftp prints escaped, a forged line) is left to the regexp, which reads
// the same fields from every ordinary line, at many times the cost on long
// listings (it backtracks over the owner and the path).
func (l *Listing) fields(ln string) ([]string, bool) {
	at := strings.Index(ln, l.tag+"/")
	if at < 0 {
		return nil, false
	}
	head, ok := strings.CutSuffix(ln[:at], " "+l.Dir)
	// head: "MODE  NLINK OWNER GROUP SIZE Mon DD HH:MM" (or " YYYY").
	if !ok || len(head) < 10+2+1+1+12 {
		return nil, false
	}
	date := head[len(head)-12:]
	rest := head[:len(head)-12]
	if date[3] != ' ' || date[6] != ' ' || !strings.HasSuffix(rest, " ") {
		return nil, false
	}
	mon, day, clock := date[:3], date[4:6], date[7:]
	rest = rest[:len(rest)-1]
	sp := strings.LastIndexByte(rest, ' ')
	if sp < 0 {
		return nil, false
	}
	size := rest[sp+1:]
	rest = strings.TrimRight(rest[:sp], " ")
	// rest: "MODE  NLINK OWNER GROUP"
	if len(rest) < 13 || rest[10] != ' ' || rest[11] != ' ' {
		return nil, false
	}
	mode := rest[:10]
	rest = strings.TrimLeft(rest[10:], " ")
	sp = strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return nil, false
	}
	nlink, owners := rest[:sp], rest[sp+1:]
	m := []string{ln, mode, nlink, owners, size, mon, day, clock, ln[at-len(l.Dir):]}
	// The same checks as longLine's, so that both accept the same lines.
	if !quickLine.MatchString(m[1] + " " + m[4] + " " + m[5] + " " + m[6] + " " + m[7]) {
		return nil, false
	}
	return m, true
}

// quickLine checks the fields fields cut out: mode, size and date, as
// longLine wants them.
var quickLine = regexp.MustCompile(`^[-dlpscbw?][-rwxsStT]{9} \d+ [A-Z][a-z]{2} [ 1-3][0-9] ([ 0-9][0-9]:[0-9]{2}| [0-9]{4})$`)

// DecodePrinted recovers text (a name, a path) that sftp printed on its
// standard output, or says why it cannot be recovered exactly; see
// decodeName.
func DecodePrinted(s string) (string, error) { return decodeName(s) }

// decodeName recovers a name from sftp's listing output. In a UTF-8 locale
// sftp prints printable characters (UTF-8 included) as they are, TAB, CR
// and LF raw, and every other byte as a backslash and three octal digits,
// but it does not escape the backslash itself. So "\001" in the output is
// either the byte 1 or the four characters \ 0 0 1 in the name: that cannot
// be told apart, and such a name is refused. A backslash followed by digits
// that spell a printable ASCII character is plain text, since sftp would
// have printed that character as is.
func decodeName(s string) (string, error) {
	for i := 0; i+3 < len(s); i++ {
		if s[i] != '\\' || !isOctal(s[i+1]) || !isOctal(s[i+2]) || !isOctal(s[i+3]) || s[i+1] > '3' {
			continue
		}
		v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
		if v < 0x20 || v >= 0x7f {
			return "", fmt.Errorf(`sftp printed %q, which is either a byte it escaped or those characters in the name; the name cannot be recovered exactly`, s[i:i+4])
		}
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("name is not valid UTF-8")
	}
	return s, nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// File type bits of st_mode, as on every Unix SFTP server.
const (
	ModeFIFO   = 0o010000
	ModeChar   = 0o020000
	ModeDir    = 0o040000
	ModeBlock  = 0o060000
	ModeFile   = 0o100000
	ModeLink   = 0o120000
	ModeSocket = 0o140000
	ModeWht    = 0o160000
)

var typeBits = map[byte]uint32{
	'-': ModeFile, 'd': ModeDir, 'l': ModeLink, 'p': ModeFIFO,
	's': ModeSocket, 'c': ModeChar, 'b': ModeBlock, 'w': ModeWht,
}

// ParseMode inverts strmode(3): "drwxr-sr-t" -> 0o43755.
func ParseMode(s string) (uint32, error) {
	if len(s) != 10 {
		return 0, fmt.Errorf("mode %q is not 10 characters", s)
	}
	mode, ok := typeBits[s[0]]
	if !ok {
		return 0, fmt.Errorf("mode %q has an unknown file type", s)
	}
	// Each triple is read-write-exec; the exec slot also carries the
	// special bit of its triple: s/S for setuid and setgid, t/T for sticky.
	special := [3]uint32{0o4000, 0o2000, 0o1000}
	specialChar := [3]byte{'s', 's', 't'}
	for t := 0; t < 3; t++ {
		r, w, x := s[1+3*t], s[2+3*t], s[3+3*t]
		shift := uint(3 * (2 - t))
		switch r {
		case 'r':
			mode |= 4 << shift
		case '-':
		default:
			return 0, fmt.Errorf("mode %q is malformed", s)
		}
		switch w {
		case 'w':
			mode |= 2 << shift
		case '-':
		default:
			return 0, fmt.Errorf("mode %q is malformed", s)
		}
		switch x {
		case 'x':
			mode |= 1 << shift
		case '-':
		case specialChar[t]:
			mode |= 1<<shift | special[t]
		case specialChar[t] - 'a' + 'A':
			mode |= special[t]
		default:
			return 0, fmt.Errorf("mode %q is malformed", s)
		}
	}
	return mode, nil
}

// sixMonths is the age below which sftp prints a time of day instead of a
// year: (365*24*60*60)/2 seconds, as in OpenSSH's ls_file.
const sixMonths = 15768000 * time.Second

var months = map[string]time.Month{
	"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}

// ParseTime reads sftp's date column, printed in UTC (sftper runs sftp with
// TZ=UTC). sftp prints "Mon DD HH:MM" for times in the six months up to its
// own clock reading and "Mon DD  YYYY" otherwise, so the result is exact to
// the minute (seconds dropped) for recent times and to the day (00:00 UTC)
// for older or future ones. The year of a recent time is the one that puts
// it within the six months before now. now need not be sftp's clock
// reading: the two candidate years are a year apart and the window is half
// a year, so a day of slack on either side still picks exactly one.
func ParseTime(mon, day, clock string, now time.Time) (time.Time, error) {
	m, ok := months[mon]
	d, err := strconv.Atoi(strings.TrimSpace(day))
	if !ok || err != nil || d < 1 || d > 31 {
		return time.Time{}, fmt.Errorf("bad date %q", mon+" "+day)
	}
	valid := func(t time.Time) bool { return t.Day() == d } // no Feb 30, or Feb 29 in 2025
	clock = strings.TrimSpace(clock)
	if y, ok := digits(clock); ok && len(clock) == 4 {
		t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		if !valid(t) {
			return time.Time{}, fmt.Errorf("bad date %q", mon+" "+day+" "+clock)
		}
		return t, nil
	}
	hh, mm := -1, -1
	if h, m, found := strings.Cut(clock, ":"); found && len(m) == 2 && len(h) >= 1 && len(h) <= 2 {
		hh, _ = digits(h)
		mm, _ = digits(m)
	}
	if hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return time.Time{}, fmt.Errorf("bad time %q", clock)
	}
	now = now.UTC()
	for _, y := range []int{now.Year(), now.Year() - 1, now.Year() + 1} {
		t := time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
		if valid(t) && t.After(now.Add(-sixMonths-24*time.Hour)) && !t.After(now.Add(24*time.Hour)) {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q is not within six months of %s", mon+" "+day+" "+clock, now.Format(time.RFC3339))
}

// digits parses a string of ASCII digits only (no sign, no spaces).
func digits(s string) (int, bool) {
	if s == "" {
		return -1, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
