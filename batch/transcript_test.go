package batch

// Transcripts of real sftp commands, replayed without sftp.
//
// go test ./batch -run TestTranscripts -update records them again from
// `sftp -D sftp-server`; they are never edited by hand. Each file holds
// the line sent, sftp's output as it printed it (stdout and stderr merged,
// each line as it ended: stdout in LF, messages in CR LF), and what
// Messages and ParsePwd must make of it. While recording, the file system
// shows that the line did what it says (the file put, got or removed is
// exactly the one named, and nothing else changed), and a working
// directory is checked against the name sftp was started in, not against
// the parser.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/proto"
)

var update = flag.Bool("update", false, "record the transcripts in testdata/ again from the real sftp")

// The directory sftp runs in while recording stands as this in the
// transcript: in the line sent and in sftp's output.
const transcriptRoot = "/TMP"

// awkwardName is a name that every quoting rule has a part in: word
// separators, both quotes, a backslash, glob characters, braces, a
// comment and a shell substitution.
const awkwardName = `awkward {a,b} "q" 'q' \ * ? [ab] # $(x)`

type transcript struct {
	Version  string
	Line     string
	Output   []string
	Messages []string
	Pwd      string // what ParsePwd reads, for a pwd
	PwdError string // or why it refuses
}

// scenario is one recorded command: a set-up of the directory root that
// sftp runs in, the line it is sent, and what must come of it.
type scenario struct {
	file  string
	setUp func(t testing.TB, root string)
	// start is the directory sftp starts in, under root: its remote
	// working directory.
	start string
	line  func(root string) (string, error)
	// changed is how the line changes the tree under root (see snapshot):
	// paths to their new contents, "" for removed.
	changed map[string]string
	// kind is what MessagesError makes of the messages; "" when the
	// command must print none.
	kind proto.Kind
	// pwd: the line is Pwd, and ParsePwd must read back start (true) or
	// refuse what sftp printed (false).
	pwd, pwdOK bool
}

var scenarios = []scenario{
	{
		file:    "put-awkward.txt",
		setUp:   awkwardTree,
		line:    func(root string) (string, error) { return Put(root+"/l/"+awkwardName, root+"/r/"+awkwardName) },
		changed: map[string]string{"r/" + awkwardName: "local " + awkwardName},
	},
	{
		file:    "get-awkward.txt",
		setUp:   awkwardTree,
		line:    func(root string) (string, error) { return Get(root+"/r/"+awkwardName, root+"/l/"+awkwardName) },
		changed: map[string]string{"l/" + awkwardName: "remote " + awkwardName},
	},
	{
		file:    "rm-awkward.txt",
		setUp:   awkwardTree,
		line:    func(root string) (string, error) { return Remove(root + "/r/" + awkwardName) },
		changed: map[string]string{"r/" + awkwardName: ""},
	},
	{
		file:  "get-missing.txt",
		setUp: awkwardTree,
		line:  func(root string) (string, error) { return Get(root+"/r/missing", root+"/l/missing") },
		kind:  proto.KindNoSuchFile,
	},
	{
		file:  "rm-missing.txt",
		setUp: awkwardTree,
		line:  func(root string) (string, error) { return Remove(root + "/r/missing") },
		kind:  proto.KindNoSuchFile,
	},
	{
		file:  "put-not-a-directory.txt",
		setUp: awkwardTree,
		line:  func(root string) (string, error) { return Put(root+"/l/a", root+"/r/a/x") },
		kind:  proto.KindNoSuchFile,
	},
	{file: "pwd-awkward.txt", start: awkwardName, pwd: true, pwdOK: true},
	{file: "pwd-backslash-printable.txt", start: `lit\101`, pwd: true, pwdOK: true},
	{file: "pwd-escaped-byte.txt", start: "ctl\x01a", pwd: true},
	{file: "pwd-backslash-digits.txt", start: `ctl\001a`, pwd: true},
	{file: "pwd-invalid-utf8.txt", start: "lat\xe9n", pwd: true},
	{file: "pwd-newline.txt", start: "new\nline", pwd: true},
}

// awkwardTree is a local and a remote directory, each with awkwardName
// and the decoys a lost quote would reach: "a" and "b" for the braces, and
// "x" for the glob characters ([ab] matches a and b, * and ? anything).
func awkwardTree(t testing.TB, root string) {
	for _, side := range []string{"l", "r"} {
		owner := map[string]string{"l": "local ", "r": "remote "}[side]
		for _, n := range []string{awkwardName, "a", "b", "x"} {
			write(t, filepath.Join(root, side, n), owner+n)
		}
	}
}

// scenarioLine is the line sent for sc, with root standing for the
// directory sftp runs in.
func (sc *scenario) scenarioLine(root string) (string, error) {
	if sc.pwd {
		return Pwd, nil
	}
	return sc.line(root)
}

func TestTranscripts(t *testing.T) {
	if *update {
		recordTranscripts(t)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, sc := range scenarios {
		want = append(want, filepath.Join("testdata", sc.file))
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, files); diff != "" {
		t.Fatalf("testdata's transcripts are not the scenarios' (-scenarios +testdata); run go test ./batch -run TestTranscripts -update:\n%s", diff)
	}
	for _, sc := range scenarios {
		t.Run(sc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", sc.file))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := parseTranscript(data)
			if err != nil {
				t.Fatalf("%s: %v", sc.file, err)
			}
			replay(t, &sc, tr)
		})
	}
}

// replay checks a transcript against the package: the line it would send,
// and what it reads from the output.
func replay(t *testing.T, sc *scenario, tr *transcript) {
	t.Helper()
	line, err := sc.scenarioLine(transcriptRoot)
	if err != nil || line != tr.Line {
		t.Fatalf("line %q, %v; recorded %q", line, err, tr.Line)
	}
	msgs := Messages(tr.Output)
	if diff := cmp.Diff(tr.Messages, msgs); diff != "" {
		t.Errorf("Messages (-recorded +got):\n%s", diff)
	}
	checkMessages(t, sc, msgs)
	if sc.pwd {
		got, err := ParsePwd(tr.Output)
		switch {
		case tr.PwdError != "" && (err == nil || err.Error() != tr.PwdError):
			t.Errorf("ParsePwd = %q, %v; want the error %q", got, err, tr.PwdError)
		case tr.PwdError == "" && (err != nil || got != tr.Pwd):
			t.Errorf("ParsePwd = %q, %v; want %q", got, err, tr.Pwd)
		}
	}
}

// checkMessages holds the messages to the scenario's kind.
func checkMessages(t *testing.T, sc *scenario, msgs []string) {
	t.Helper()
	switch {
	case sc.kind == "" && len(msgs) > 0:
		t.Errorf("messages %q, want none", msgs)
	case sc.kind != "" && len(msgs) == 0:
		t.Errorf("no message, want one of kind %s", sc.kind)
	case sc.kind != "":
		if got := MessagesError(msgs).Kind; got != sc.kind {
			t.Errorf("messages %q are of kind %s, want %s", msgs, got, sc.kind)
		}
	}
}

func recordTranscripts(t *testing.T) {
	version := "unknown"
	if out, err := exec.Command("ssh", "-V").CombinedOutput(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	for _, sc := range scenarios {
		root := scratchDir(t)
		if sc.setUp != nil {
			sc.setUp(t, root)
		}
		start := filepath.Join(root, sc.start)
		if err := os.MkdirAll(start, 0o755); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, root)
		p := startSftp(t, start)
		out := p.run(must(sc.scenarioLine(root)))

		want := maps.Clone(before)
		for path, content := range sc.changed {
			if content == "" {
				delete(want, path)
			} else {
				want[path] = content
			}
		}
		if diff := cmp.Diff(want, snapshot(t, root)); diff != "" {
			t.Fatalf("%s: the tree after the command (-want +got):\n%s", sc.file, diff)
		}
		for i := range out {
			out[i] = strings.ReplaceAll(out[i], root, transcriptRoot)
		}
		tr := &transcript{Version: version, Line: must(sc.scenarioLine(transcriptRoot)), Output: out, Messages: Messages(out)}
		checkMessages(t, &sc, tr.Messages)
		if sc.pwd {
			got, err := ParsePwd(out)
			wantPwd := transcriptRoot + "/" + sc.start
			switch {
			case sc.pwdOK && (err != nil || got != wantPwd):
				t.Fatalf("%s: ParsePwd(%q) = %q, %v; want %q", sc.file, out, got, err, wantPwd)
			case !sc.pwdOK && err == nil:
				t.Fatalf("%s: ParsePwd(%q) = %q; want an error", sc.file, out, got)
			case err != nil:
				tr.PwdError = err.Error()
			default:
				tr.Pwd = got
			}
		}
		if err := os.WriteFile(filepath.Join("testdata", sc.file), formatTranscript(tr), 0o644); err != nil {
			t.Fatal(err)
		}
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
	fmt.Fprintf(&b, "# A command run by the real sftp, replayed by TestTranscripts. Do not edit:\n")
	fmt.Fprintf(&b, "# regenerate with go test ./batch -run TestTranscripts -update\n")
	fmt.Fprintf(&b, "version: %s\n", tr.Version)
	fmt.Fprintf(&b, "line: %s\n", jsonString(tr.Line))
	fmt.Fprintf(&b, "%s\n", outputMark)
	for _, ln := range tr.Output {
		b.WriteString(ln + "\n")
	}
	fmt.Fprintf(&b, "%s\n", wantMark)
	for _, m := range tr.Messages {
		fmt.Fprintf(&b, "message: %s\n", jsonString(m))
	}
	if tr.Pwd != "" {
		fmt.Fprintf(&b, "pwd: %s\n", jsonString(tr.Pwd))
	}
	if tr.PwdError != "" {
		fmt.Fprintf(&b, "pwd error: %s\n", jsonString(tr.PwdError))
	}
	return b.Bytes()
}

func parseTranscript(data []byte) (*transcript, error) {
	tr := &transcript{}
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
		case "header line":
			err = json.Unmarshal([]byte(value), &tr.Line)
		case "want message":
			var m string
			err = json.Unmarshal([]byte(value), &m)
			tr.Messages = append(tr.Messages, m)
		case "want pwd":
			err = json.Unmarshal([]byte(value), &tr.Pwd)
		case "want pwd error":
			err = json.Unmarshal([]byte(value), &tr.PwdError)
		default:
			return nil, fmt.Errorf("unknown %s line %q", section, ln)
		}
		if err != nil {
			return nil, fmt.Errorf("line %q: %v", ln, err)
		}
	}
	if section != "want" || tr.Line == "" {
		return nil, errors.New("incomplete transcript")
	}
	return tr, nil
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
