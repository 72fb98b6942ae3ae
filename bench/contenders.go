package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sftper/sftper/integration/sshdtest"
)

// contender is one way of running a workload's ops in one fresh session,
// connection set-up included: one new process (and one new SSH
// connection) per run. run prepares its input untimed, times exactly one
// process with timeProcess and checks what the process reported; the
// bench then checks the files on disk and any listings.
type contender struct {
	key  string // its name for -contenders
	name string // its name in the table
	// skip, when set, says why this contender cannot run at all in this
	// bench run; the table says so in its place.
	skip string
	// applies says why the contender has no way to run w, or "" if it has.
	applies func(w *workload) string
	run     func(e *env, w *workload) (measurement, error)
}

// newContenders lists the contenders in table order; the first is the
// baseline for the ratios.
func newContenders(e *env) []*contender {
	always := func(*workload) string { return "" }
	cs := []*contender{
		{key: "sftp", name: "openssh sftp -b", applies: always, run: runOpenSSH},
		{key: "sftper", name: "sftper", applies: always,
			run: func(e *env, w *workload) (measurement, error) { return runSftper(e, e.sftper, w, nil, nil, false) }},
		{key: "batch", name: "sftper batch", applies: always,
			run: func(e *env, w *workload) (measurement, error) {
				return runSftper(e, e.sftper, w, []string{"--mode", "batch"}, nil, false)
			}},
		// sftper's PUT is atomic by default (each file uploaded to a
		// temporary name, then renamed on the server); this row is the
		// same sftper with "atomic": false on every PUT, writing into the
		// destination itself as sftp does: what atomicity costs.
		{key: "noatomic", name: "sftper atomic:false", applies: loopbackUploads,
			run: func(e *env, w *workload) (measurement, error) {
				return runSftper(e, e.sftper, w, nil, map[string]any{"atomic": false}, false)
			}},
		// Issue 13's strictly sequential client: the many-file
		// workloads (3, 4) with each request written only once the
		// previous result is in, so sftper's own CPU per request (its
		// CPU over the file count) is what the target of under 40 µs
		// judges; atomic:false too, a PUT's least work.
		{key: "seq", name: "sftper one at a time", applies: manyFiles,
			run: func(e *env, w *workload) (measurement, error) { return runSftper(e, e.sftper, w, nil, nil, true) }},
		{key: "seqnoatomic", name: "sftper 1 at a time, atomic:false", applies: manyUploads,
			run: func(e *env, w *workload) (measurement, error) {
				return runSftper(e, e.sftper, w, nil, map[string]any{"atomic": false}, true)
			}},
		// Issue 13's --sessions N: up to N sftp children on the one
		// connection, each request handed to an idle one. 4 on the
		// loopback many-file workloads (it must cost nothing there) and
		// through the delay proxy; 8 through the proxy only.
		{key: "sessions4", name: "sftper 4 sessions", applies: sessionsApply(4),
			run: func(e *env, w *workload) (measurement, error) {
				return runSftper(e, e.sftper, w, []string{"--sessions", "4"}, nil, false)
			}},
		{key: "sessions8", name: "sftper 8 sessions", applies: sessionsApply(8),
			run: func(e *env, w *workload) (measurement, error) {
				return runSftper(e, e.sftper, w, []string{"--sessions", "8"}, nil, false)
			}},
		// The bulk target's question: does sftp's own default of 64
		// requests in flight limit a transfer over a long round trip?
		// The same sftper with the user's -R 256 passed through
		// --sftp-command, on the round-trip one-file workloads. (sftp
		// already asks OpenSSH's server for its largest request size,
		// limits@openssh.com, so -B has nothing to add there.)
		{key: "sftperR256", name: "sftper, sftp -R 256", applies: rttBulk,
			run: func(e *env, w *workload) (measurement, error) {
				return runSftper(e, e.sftper, w, []string{"--sftp-command", "sftp -R 256"}, nil, false)
			}},
		// The same two as sftper and sftper batch built from another
		// checkout (-base), for an A/B of a change in one run on one
		// noisy machine.
		{key: "base", name: "base sftper", applies: always,
			run: func(e *env, w *workload) (measurement, error) { return runSftper(e, e.base, w, nil, nil, false) }},
		{key: "base-batch", name: "base sftper batch", applies: always,
			run: func(e *env, w *workload) (measurement, error) {
				return runSftper(e, e.base, w, []string{"--mode", "batch"}, nil, false)
			}},
		{key: "scp", name: "scp", applies: scpApplies, run: runSCP},
		{key: "paramiko", name: "paramiko", applies: always,
			run: func(e *env, w *workload) (measurement, error) {
				return runLibrary(e, w, exec.Command(e.python, e.paramikoScript, w.sshConfig(e), sshdtest.Alias))
			}},
		{key: "pkgsftp", name: "pkg/sftp over ssh", applies: always,
			run: func(e *env, w *workload) (measurement, error) {
				return runLibrary(e, w, exec.Command(e.pkgsftp, w.sshConfig(e), sshdtest.Alias))
			}},
		// Issue 14's Python client (../python) driving this sftper: the
		// paramiko script unchanged, one call at a time, and the same
		// script with its runs of puts and gets given to put_many and
		// get_many (sftper_client.py).
		{key: "pyloop", name: "python client, loop", applies: pythonApplies,
			run: func(e *env, w *workload) (measurement, error) {
				return runLibrary(e, w, exec.Command(e.python, e.sftperScript, e.sftper, w.sshConfig(e), sshdtest.Alias, "loop"))
			}},
		{key: "pymany", name: "python client, *_many", applies: pythonApplies,
			run: func(e *env, w *workload) (measurement, error) {
				return runLibrary(e, w, exec.Command(e.python, e.sftperScript, e.sftper, w.sshConfig(e), sshdtest.Alias, "many"))
			}},
	}
	byKey := func(key string) *contender {
		i := slices.IndexFunc(cs, func(c *contender) bool { return c.key == key })
		return cs[i]
	}
	if !e.batchMode {
		byKey("batch").skip = "not run: this sftper's --help does not mention --mode"
	}
	if !e.sessions {
		for _, k := range []string{"sessions4", "sessions8"} {
			byKey(k).skip = "not run: this sftper's --help does not mention --sessions"
		}
	}
	if e.base == "" {
		// Nothing to compare with: not even a row.
		return slices.DeleteFunc(cs, func(c *contender) bool { return c.key == "base" || c.key == "base-batch" })
	}
	if !e.baseBatchMode {
		byKey("base-batch").skip = "not run: the base sftper's --help does not mention --mode"
	}
	return cs
}

// loopbackUploads: the atomic:false row differs from sftper's only where
// there is a PUT; the round-trip workloads run issue 13's contenders only.
func loopbackUploads(w *workload) string {
	if w.rtt > 0 {
		return "the round-trip workloads run issue 13's contenders only"
	}
	for _, o := range w.ops {
		if o.kind == opPut || o.kind == opPutTree {
			return ""
		}
	}
	return "it differs from sftper only in PUTs"
}

// manyFiles: the loopback many-file workloads, 3 and 4.
func manyFiles(w *workload) string {
	if w.rtt == 0 && (w.num == 3 || w.num == 4) {
		return ""
	}
	return "only the loopback many-file workloads (3, 4)"
}

// manyUploads: the loopback many-file upload, 3.
func manyUploads(w *workload) string {
	if w.rtt == 0 && w.num == 3 {
		return ""
	}
	return "only the loopback many-file upload (3)"
}

// rttBulk: the one-file workloads through the delay proxy.
func rttBulk(w *workload) string {
	if j := w.rttJob(); j == rttPutBig || j == rttGetBig {
		return ""
	}
	return "only the one-file workloads through the delay proxy"
}

// pythonApplies: the Python client rows run the loopback workloads of
// files and listings; a tree is put_r's and get_r's, one sftper request
// each, which the sftper row already measures, and the round-trip
// workloads run issue 13's contenders only.
func pythonApplies(w *workload) string {
	if w.rtt > 0 {
		return "the round-trip workloads run issue 13's contenders only"
	}
	if w.opsOf(opPutTree) || w.opsOf(opGetTree) {
		return "a tree is one sftper request (put_r, get_r), as the sftper row"
	}
	return ""
}

// sessionsApply: sftper with n sessions runs every round-trip workload,
// and with 4 the loopback many-file PUT and GET (3 and 4) too.
func sessionsApply(n int) func(w *workload) string {
	return func(w *workload) string {
		switch {
		case w.rtt > 0:
			return ""
		case n == 4 && (w.num == 3 || w.num == 4):
			return ""
		case n == 4:
			return "on loopback, only the many-file workloads (3, 4)"
		}
		return "only the round-trip workloads"
	}
}

// runOpenSSH runs one `sftp -b BATCHFILE` process for the whole workload.
// A listing is `ls -lan DIR`: sftp's own way to list a directory with
// attributes, which does what sftper's LISTDIR does on the wire (OPENDIR,
// READDIR until the end, CLOSE), and prints it.
func runOpenSSH(e *env, w *workload) (measurement, error) {
	var b strings.Builder
	for _, o := range w.ops {
		switch o.kind {
		case opPut:
			fmt.Fprintf(&b, "put %s %s\n", batchQuote(o.local), batchQuote(o.remote))
		case opGet:
			fmt.Fprintf(&b, "get %s %s\n", batchQuote(o.remote), batchQuote(o.local))
		case opList:
			fmt.Fprintf(&b, "ls -lan %s\n", batchQuote(o.remote))
		case opPutTree:
			fmt.Fprintf(&b, "put -r %s %s\n", batchQuote(o.local), batchQuote(o.remote))
		case opGetTree:
			fmt.Fprintf(&b, "get -r %s %s\n", batchQuote(o.remote), batchQuote(o.local))
		}
	}
	batch := filepath.Join(e.work, "batch.sftp")
	if err := os.WriteFile(batch, []byte(b.String()), 0o644); err != nil {
		return measurement{}, err
	}
	defer os.Remove(batch)
	cmd := exec.Command(e.sftp, "-F", w.sshConfig(e), "-b", batch, sshdtest.Alias)
	cmd.Dir = e.local
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var listings [][]entry
	m, err := timeProcess(cmd, func(r io.Reader, mark func()) error {
		var err error
		listings, err = readSftpOutput(r, len(w.listing)+2, mark)
		return err
	})
	m.listings = listings
	if err != nil {
		return m, fmt.Errorf("%v; stderr ends:\n%s", err, tail(stderr.Bytes()))
	}
	return m, nil
}

// readSftpOutput reads what `sftp -b` prints: each command echoed after
// "sftp> ", then its output, which for `ls -lan` is one line per entry,
// "." and ".." included, and for `put -r` and `get -r` one line per
// directory ("Entering DIR", "Retrieving DIR"; the quiet of batch mode
// does not silence them). A listing is complete (marked) when its lines
// number perList, or failing that when the next command or the end of the
// output shows that it is over. sftp's stdout is line-buffered, so each
// line arrives as it is printed.
func readSftpOutput(r io.Reader, perList int, mark func()) ([][]entry, error) {
	var listings [][]entry
	var cur []entry
	listing, marked, lines := false, false, 0
	dirLine := "" // what each output line of a recursive put or get starts with
	end := func() {
		if listing {
			if !marked {
				mark()
			}
			listings = append(listings, cur)
		}
		cur, listing, marked, lines = nil, false, false, 0
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if cmd, ok := strings.CutPrefix(line, "sftp> "); ok {
			end()
			listing = strings.HasPrefix(cmd, "ls ")
			switch dirLine = ""; {
			case strings.HasPrefix(cmd, "put -r "):
				dirLine = "Entering "
			case strings.HasPrefix(cmd, "get -r "):
				dirLine = "Retrieving "
			}
			continue
		}
		if dirLine != "" && strings.HasPrefix(line, dirLine) {
			continue
		}
		if !listing {
			return listings, fmt.Errorf("unexpected output from sftp: %q", line)
		}
		ent, err := parseLsLine(line)
		if err != nil {
			return listings, err
		}
		if ent.name != "." && ent.name != ".." {
			cur = append(cur, ent)
		}
		if lines++; lines == perList {
			mark()
			marked = true
		}
	}
	end()
	return listings, sc.Err()
}

// parseLsLine reads name and size from one line of `ls -lan`:
// "-rw-r--r--    ? 1001  1001  4096 Nov 25 20:12 /dir/name". The bench's
// names hold no spaces, so fields are enough.
func parseLsLine(line string) (entry, error) {
	f := strings.Fields(line)
	if len(f) != 9 {
		return entry{}, fmt.Errorf("not an ls -l line: %q", line)
	}
	size, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return entry{}, fmt.Errorf("ls -l line %q: size: %v", line, err)
	}
	return entry{name: path.Base(f[8]), size: size}, nil
}

// safePath is what batchQuote lets through: the bench makes all its paths
// itself, so it never needs sftp's full quoting rules.
var safePath = regexp.MustCompile(`^[A-Za-z0-9/._+-]+$`)

func batchQuote(p string) string {
	if !safePath.MatchString(p) {
		panic(fmt.Sprintf("bench: path %q needs quoting rules the bench does not implement", p))
	}
	return `"` + p + `"`
}

// request is one sftper request; result the part of its answer we check.
type request struct {
	Command string         `json:"command"`
	Args    map[string]any `json:"args"`
	ID      int            `json:"id"`
}

type result struct {
	Status  string          `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	ID      int             `json:"id"`
}

// runSftper runs one sftper process (the binary bin) for the whole
// workload, with extra options before the destination and putArgs added
// to every PUT request. A tree op is one PUT or GET with "recursive":
// true, whose result must count the tree's files. For most workloads every request is
// written to its stdin at once and stdin is then closed, as a script
// that streams its requests would: sftper pipelines them. For a
// sequential workload, or with oneAtATime, each request is written only
// once the previous result has been read.
func runSftper(e *env, bin string, w *workload, extra []string, putArgs map[string]any, oneAtATime bool) (measurement, error) {
	reqs := make([][]byte, len(w.ops))
	for i, o := range w.ops {
		req := request{ID: i}
		switch o.kind {
		case opPut, opPutTree:
			req.Command, req.Args = "PUT", map[string]any{"source": o.local, "dest": o.remote}
			maps.Copy(req.Args, putArgs)
		case opGet, opGetTree:
			req.Command, req.Args = "GET", map[string]any{"source": o.remote, "dest": o.local}
		case opList:
			req.Command, req.Args = "LISTDIR", map[string]any{"path": o.remote}
		}
		if o.kind == opPutTree || o.kind == opGetTree {
			req.Args["recursive"] = true
		}
		b, err := json.Marshal(req)
		if err != nil {
			return measurement{}, err
		}
		reqs[i] = append(b, '\n')
	}
	args := append(slices.Clone(extra), "-F", w.sshConfig(e), sshdtest.Alias)
	cmd := exec.Command(bin, args...)
	cmd.Dir = e.local
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var stdin io.WriteCloser
	if w.sequential || oneAtATime {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return measurement{}, err
		}
	} else {
		cmd.Stdin = bytes.NewReader(bytes.Join(reqs, nil))
	}
	var listings [][]entry
	m, err := timeProcess(cmd, func(r io.Reader, mark func()) error {
		if stdin != nil {
			defer stdin.Close()
			if _, err := stdin.Write(reqs[0]); err != nil {
				return err
			}
		}
		br := bufio.NewReaderSize(r, 1<<20)
		for i := range w.ops {
			line, err := br.ReadBytes('\n')
			if err != nil {
				return fmt.Errorf("%d results for %d requests: %w", i, len(w.ops), err)
			}
			mark()
			if stdin != nil {
				if i+1 < len(reqs) {
					if _, err := stdin.Write(reqs[i+1]); err != nil {
						return err
					}
				} else {
					stdin.Close()
				}
			}
			var res result
			if err := json.Unmarshal(line, &res); err != nil {
				return fmt.Errorf("result %d: %v: %q", i, err, line)
			}
			if res.Status != "ok" || res.ID != i {
				return fmt.Errorf("result %d is not ok for request %d: %s", i, i, line)
			}
			if k := w.ops[i].kind; k == opPutTree || k == opGetTree {
				var data struct {
					Files  *int              `json:"files"`
					Failed []json.RawMessage `json:"failed"`
				}
				if err := json.Unmarshal(res.Data, &data); err != nil {
					return fmt.Errorf("result %d: data: %v", i, err)
				}
				if data.Files == nil || *data.Files != w.ops[i].files || len(data.Failed) != 0 {
					return fmt.Errorf("result %d: want %d files copied and none failed: %s", i, w.ops[i].files, line)
				}
			}
			if w.ops[i].kind == opList {
				var data []struct {
					Name string `json:"name"`
					Size int64  `json:"size"`
				}
				if err := json.Unmarshal(res.Data, &data); err != nil {
					return fmt.Errorf("result %d: data: %v", i, err)
				}
				l := make([]entry, len(data))
				for j, d := range data {
					l[j] = entry{d.Name, d.Size}
				}
				listings = append(listings, l)
			}
		}
		if rest, _ := io.ReadAll(br); len(rest) > 0 {
			return fmt.Errorf("output after the last result: %q", tail(rest))
		}
		return nil
	})
	m.listings = listings
	if err != nil {
		return m, fmt.Errorf("%v; stderr ends:\n%s", err, tail(stderr.Bytes()))
	}
	return m, nil
}

// scpApplies: scp copies files, in one direction per process. Many files
// go in one process: uploads as a list of local files into a remote
// directory; downloads as a remote glob of the directory, which must hold
// exactly the files to get (one process given many remote sources opens
// one SSH connection per source). A tree is `scp -r SRC DST`: with DST
// absent, scp makes DST the copy of SRC.
func scpApplies(w *workload) string {
	_, err := scpArgs(w)
	if err != nil {
		return err.Error()
	}
	return ""
}

func scpArgs(w *workload) ([]string, error) {
	switch {
	case len(w.ops) == 1 && w.ops[0].kind == opPutTree:
		return []string{"-r", w.ops[0].local, sshdtest.Alias + ":" + w.ops[0].remote}, nil
	case len(w.ops) == 1 && w.ops[0].kind == opGetTree:
		return []string{"-r", sshdtest.Alias + ":" + w.ops[0].remote, w.ops[0].local}, nil
	case len(w.ops) == 1 && w.ops[0].kind == opPut:
		return []string{w.ops[0].local, sshdtest.Alias + ":" + w.ops[0].remote}, nil
	case len(w.ops) == 1 && w.ops[0].kind == opGet:
		return []string{sshdtest.Alias + ":" + w.ops[0].remote, w.ops[0].local}, nil
	case w.opsOf(opPut):
		dir := filepath.Dir(w.ops[0].remote)
		var args []string
		for _, o := range w.ops {
			if filepath.Dir(o.remote) != dir || filepath.Base(o.remote) != filepath.Base(o.local) {
				return nil, errors.New("uploads to more than one directory or under other names")
			}
			args = append(args, o.local)
		}
		return append(args, sshdtest.Alias+":"+dir+"/"), nil
	case w.opsOf(opGet):
		src, dst := filepath.Dir(w.ops[0].remote), filepath.Dir(w.ops[0].local)
		for _, o := range w.ops {
			if filepath.Dir(o.remote) != src || filepath.Dir(o.local) != dst || filepath.Base(o.remote) != filepath.Base(o.local) {
				return nil, errors.New("downloads from more than one directory or under other names")
			}
		}
		return []string{sshdtest.Alias + ":" + src + "/*", dst + "/"}, nil
	}
	return nil, errors.New("it copies files; it does not list directories")
}

// runSCP runs one scp process for the whole workload.
func runSCP(e *env, w *workload) (measurement, error) {
	args, err := scpArgs(w)
	if err != nil {
		return measurement{}, err
	}
	if w.opsOf(opGet) && len(w.ops) > 1 {
		// The glob must mean exactly the files to get.
		ents, err := os.ReadDir(filepath.Dir(w.ops[0].remote))
		if err != nil {
			return measurement{}, err
		}
		if len(ents) != len(w.ops) {
			return measurement{}, fmt.Errorf("remote directory holds %d entries, not the %d to get", len(ents), len(w.ops))
		}
	}
	cmd := exec.Command(e.scp, append([]string{"-F", w.sshConfig(e)}, args...)...)
	cmd.Dir = e.local
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	m, err := timeProcess(cmd, nil)
	if err != nil {
		return m, fmt.Errorf("%v; output ends:\n%s", err, tail(out.Bytes()))
	}
	return m, nil
}

// runLibrary runs a client program built on an SFTP library (paramiko,
// pkg/sftp) for the whole workload: cmd plus one argument, a file of ops
// written untimed, one a line: "put\tLOCAL\tREMOTE", "get\tREMOTE\tLOCAL",
// "list\tREMOTE", "puttree\tLOCAL\tREMOTE", "gettree\tREMOTE\tLOCAL".
// The program does them in order, one at a time, and prints one line per
// op as soon as it is done: "ok put SIZE", "ok get SIZE", for a listing
// "e SIZE NAME" per entry and then "ok list COUNT", for a tree
// "ok puttree FILES" or "ok gettree FILES". A tree is copied the way a
// user's script walks one: directory by directory, one file at a time.
func runLibrary(e *env, w *workload, cmd *exec.Cmd) (measurement, error) {
	var b strings.Builder
	for _, o := range w.ops {
		switch o.kind {
		case opPut, opPutTree:
			fmt.Fprintf(&b, "%v\t%s\t%s\n", o.kind, o.local, o.remote)
		case opGet, opGetTree:
			fmt.Fprintf(&b, "%v\t%s\t%s\n", o.kind, o.remote, o.local)
		case opList:
			fmt.Fprintf(&b, "%v\t%s\n", o.kind, o.remote)
		}
	}
	opsFile := filepath.Join(e.work, "ops.txt")
	if err := os.WriteFile(opsFile, []byte(b.String()), 0o644); err != nil {
		return measurement{}, err
	}
	defer os.Remove(opsFile)
	cmd.Args = append(cmd.Args, opsFile)
	cmd.Dir = e.local
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var listings [][]entry
	m, err := timeProcess(cmd, func(r io.Reader, mark func()) error {
		var cur []entry
		done := 0
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 3 && f[0] == "e":
				size, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					return fmt.Errorf("entry line %q: %v", sc.Text(), err)
				}
				cur = append(cur, entry{name: f[2], size: size})
			case len(f) == 3 && f[0] == "ok":
				mark()
				if done >= len(w.ops) {
					return fmt.Errorf("more results than ops: %q", sc.Text())
				}
				o := w.ops[done]
				if f[1] != o.kind.String() {
					return fmt.Errorf("result %d is %q, want one for %v", done, sc.Text(), o.kind)
				}
				if o.kind == opPutTree || o.kind == opGetTree {
					if n, err := strconv.Atoi(f[2]); err != nil || n != o.files {
						return fmt.Errorf("result %d is %q, want %d files copied", done, sc.Text(), o.files)
					}
				}
				if o.kind == opList {
					listings = append(listings, cur)
					cur = nil
				}
				done++
			default:
				return fmt.Errorf("unexpected output: %q", sc.Text())
			}
		}
		if done != len(w.ops) {
			return fmt.Errorf("%d results for %d ops", done, len(w.ops))
		}
		return sc.Err()
	})
	m.listings = listings
	if err != nil {
		return m, fmt.Errorf("%v; stderr ends:\n%s", err, tail(stderr.Bytes()))
	}
	return m, nil
}
