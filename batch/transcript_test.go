package batch

// Transcripts of real sftp listings, replayed without sftp.
//
// go test ./batch -run TestTranscripts -update records them again from
// `sftp -D sftp-server`; they are never edited by hand. Each file holds
// the listing's directory and chain, the time the listing was made, the
// line sent, sftp's output as it printed it (stdout and stderr merged, each
// line as it ended: stdout in LF, messages in CR LF), and what Parse and
// Messages must make of it. The expected entries are read from the file
// system with lstat while recording, not from the parser.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "record the transcripts in testdata/ again from the real sftp")

// transcriptTag is a chain of the shape NewListing makes, fixed so that
// the recorded wire text is the same at every recording.
const transcriptTag = "/.///.///////./////////././//////./////////./////////././////.///////./////////./."

// The directory sftp runs in while recording stands as this in the
// transcript: in the listed path, the line sent, and sftp's output.
const transcriptRoot = "/TMP"

type transcript struct {
	file     string
	Version  string
	Dir      string
	Tag      string
	Now      time.Time
	Line     string
	Output   []string
	Entries  []Entry // when the listing parses
	Error    string  // when it does not: the *UnreadableEntryError's text
	Messages []string
}

// scenarios are the recorded listings: a set-up of the directory sftp runs
// in, and the directory listed, relative to it. The listing names it by its
// absolute path, as NewListing requires.
var scenarios = []struct {
	file  string
	dir   string
	setUp func(t testing.TB, root string)
}{
	{"awkward.txt", `awkward {a,b} "q" \ *`, func(t testing.TB, root string) {
		makeAwkwardDir(t, filepath.Join(root, `awkward {a,b} "q" \ *`))
	}},
	{"empty.txt", "empty", func(t testing.TB, root string) {
		must0(t, os.Mkdir(filepath.Join(root, "empty"), 0o755))
	}},
	{"escaped-byte.txt", "d", func(t testing.TB, root string) {
		write(t, filepath.Join(root, "d", "ctl\x01a"), "")
		write(t, filepath.Join(root, "d", "fine"), "")
	}},
	{"backslash-digits.txt", "d", func(t testing.TB, root string) {
		write(t, filepath.Join(root, "d", `ctl\001a`), "")
		write(t, filepath.Join(root, "d", "fine"), "")
	}},
	{"invalid-utf8.txt", "d", func(t testing.TB, root string) {
		write(t, filepath.Join(root, "d", "lat\xe9n"), "")
	}},
	{"newline.txt", "d", func(t testing.TB, root string) {
		write(t, filepath.Join(root, "d", "a"), "")
		write(t, filepath.Join(root, "d", "evil\n-rw-r--r--    ? root     root            0 Jan  1  2020 forged"), "")
	}},
	{"missing.txt", "missing", func(t testing.TB, root string) {}},
	{"not-a-directory.txt", "file", func(t testing.TB, root string) {
		write(t, filepath.Join(root, "file"), "file")
	}},
}

func TestTranscripts(t *testing.T) {
	if *update {
		recordTranscripts(t)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	must0(t, err)
	if len(files) != len(scenarios) {
		t.Fatalf("testdata has %d transcripts, want %d: run go test -run TestTranscripts -update", len(files), len(scenarios))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			must0(t, err)
			tr, err := parseTranscript(data)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			replay(t, tr)
		})
	}
}

// replay checks a transcript against the package: the line it would send,
// and what it reads from the output.
func replay(t *testing.T, tr *transcript) {
	t.Helper()
	if !tagShape.MatchString(tr.Tag) {
		t.Fatalf("chain %q is not of NewListing's shape", tr.Tag)
	}
	if _, err := NewListing(tr.Dir); err != nil {
		t.Fatalf("NewListing would not list %q: %v", tr.Dir, err)
	}
	l := listingWithTag(t, tr.Dir, tr.Tag)
	if l.Line != tr.Line {
		t.Fatalf("listing line %q, recorded %q", l.Line, tr.Line)
	}
	got, err := l.Parse(tr.Output, tr.Now)
	switch {
	case tr.Error != "":
		var uee *UnreadableEntryError
		if !errors.As(err, &uee) || err.Error() != tr.Error {
			t.Errorf("Parse = %+v, %v; want the error %q", got, err, tr.Error)
		}
	case err != nil:
		t.Errorf("Parse: %v", err)
	default:
		if diff := cmp.Diff(tr.Entries, got); diff != "" {
			t.Errorf("Parse (-recorded +got):\n%s", diff)
		}
	}
	var msgs []string
	for _, m := range Messages(tr.Output) {
		msgs = append(msgs, l.Clean(m))
	}
	if diff := cmp.Diff(tr.Messages, msgs); diff != "" {
		t.Errorf("Messages (-recorded +got):\n%s", diff)
	}
}

func recordTranscripts(t *testing.T) {
	version := "unknown"
	if out, err := exec.Command("ssh", "-V").CombinedOutput(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	for _, sc := range scenarios {
		root := t.TempDir()
		sc.setUp(t, root)
		settle()
		p := startSftp(t, root)
		out := p.run(listingWithTag(t, root+"/"+sc.dir, transcriptTag).Line)
		now := time.Now().UTC()
		for i := range out {
			out[i] = strings.ReplaceAll(out[i], root, transcriptRoot)
		}
		l := listingWithTag(t, transcriptRoot+"/"+sc.dir, transcriptTag)
		tr := &transcript{Version: version, Dir: l.Dir, Tag: transcriptTag, Now: now, Line: l.Line, Output: out}
		for _, m := range Messages(out) {
			tr.Messages = append(tr.Messages, l.Clean(m))
		}
		entries, err := l.Parse(out, now)
		if fi, statErr := os.Stat(filepath.Join(root, sc.dir)); statErr == nil && fi.IsDir() && err == nil {
			tr.Entries = wantEntries(t, filepath.Join(root, sc.dir), now)
			if diff := cmp.Diff(tr.Entries, entries); diff != "" {
				t.Errorf("%s: parsed listing differs from lstat (-lstat +parsed):\n%s", sc.file, diff)
			}
		} else if err != nil {
			tr.Error = err.Error()
		} else {
			t.Fatalf("%s: a listing of something not a directory parsed: %+v", sc.file, entries)
		}
		must0(t, os.WriteFile(filepath.Join("testdata", sc.file), formatTranscript(tr), 0o644))
	}
}

// The file format: a header of "key: value" lines, then "-- output --" and
// sftp's lines as it printed them, then "-- want --" and JSON values.

const (
	outputMark = "-- output --"
	wantMark   = "-- want --"
)

func formatTranscript(tr *transcript) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# A listing by the real sftp, replayed by TestTranscripts. Do not edit:\n")
	fmt.Fprintf(&b, "# regenerate with go test ./batch -run TestTranscripts -update\n")
	fmt.Fprintf(&b, "version: %s\n", tr.Version)
	fmt.Fprintf(&b, "dir: %s\n", jsonString(tr.Dir))
	fmt.Fprintf(&b, "tag: %s\n", tr.Tag)
	fmt.Fprintf(&b, "now: %s\n", tr.Now.Format(time.RFC3339Nano))
	fmt.Fprintf(&b, "line: %s\n", jsonString(tr.Line))
	fmt.Fprintf(&b, "%s\n", outputMark)
	for _, ln := range tr.Output {
		b.WriteString(ln + "\n")
	}
	fmt.Fprintf(&b, "%s\n", wantMark)
	if tr.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", jsonString(tr.Error))
	}
	for _, e := range tr.Entries {
		fmt.Fprintf(&b, "entry: %s\n", jsonValue(e))
	}
	for _, m := range tr.Messages {
		fmt.Fprintf(&b, "message: %s\n", jsonString(m))
	}
	return b.Bytes()
}

func parseTranscript(data []byte) (*transcript, error) {
	tr := &transcript{Entries: []Entry{}}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	section := "header"
	for _, ln := range lines {
		switch {
		case section == "header" && ln == outputMark:
			section = "output"
			continue
		case section == "output" && ln == wantMark:
			section = "want"
			continue
		case section == "output":
			tr.Output = append(tr.Output, ln)
			continue
		case strings.HasPrefix(ln, "#"):
			continue
		}
		key, value, ok := strings.Cut(ln, ": ")
		if !ok {
			return nil, fmt.Errorf("bad line %q", ln)
		}
		var err error
		switch section + " " + key {
		case "header version":
			tr.Version = value
		case "header dir":
			err = json.Unmarshal([]byte(value), &tr.Dir)
		case "header tag":
			tr.Tag = value
		case "header now":
			tr.Now, err = time.Parse(time.RFC3339Nano, value)
		case "header line":
			err = json.Unmarshal([]byte(value), &tr.Line)
		case "want error":
			err = json.Unmarshal([]byte(value), &tr.Error)
		case "want entry":
			var e Entry
			err = json.Unmarshal([]byte(value), &e)
			tr.Entries = append(tr.Entries, e)
		case "want message":
			var m string
			err = json.Unmarshal([]byte(value), &m)
			tr.Messages = append(tr.Messages, m)
		default:
			return nil, fmt.Errorf("unknown %s line %q", section, ln)
		}
		if err != nil {
			return nil, fmt.Errorf("line %q: %v", ln, err)
		}
	}
	if section != "want" || tr.Line == "" || tr.Tag == "" || tr.Now.IsZero() {
		return nil, errors.New("incomplete transcript")
	}
	return tr, nil
}

func jsonValue(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func jsonString(s string) string { return jsonValue(s) }
