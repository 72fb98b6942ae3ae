package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sftper/sftper/integration/client"
)

// plainBinary is sftper built without the race detector, whose memory
// use says nothing of sftper's own (and whose garbage collector's timing
// makes peaks vary by tens of megabytes); sftperBin when that is one.
func plainBinary(t *testing.T) string {
	t.Helper()
	if !raceBuild || os.Getenv("SFTPER_TEST_BINARY") != "" {
		return sftperBin
	}
	plainOnce.Do(func() {
		plain = filepath.Join(filepath.Dir(sftperBin), "sftper-norace")
		out, err := exec.Command("go", "build", "-o", plain, "github.com/sftper/sftper").CombinedOutput()
		if err != nil {
			plainErr = fmt.Errorf("building sftper without -race: %v\n%s", err, out)
		}
	})
	if plainErr != nil {
		t.Fatal(plainErr)
	}
	return plain
}

var (
	plainOnce sync.Once
	plain     string
	plainErr  error
)

// peakRSS is a process's peak resident set (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// Pipelined LISTDIRs of a large directory, read as fast as they come: a
// finished listing must be freed once its result is written, so sftper's
// peak memory does not grow with the number of requests in flight. (It
// did: 19 MB at 2 in flight, 257 MB at 64 for 10,000 entries, the finished listings kept
// reachable from the queues' arrays.)
func TestPipelinedListingsDoNotAccumulate(t *testing.T) {
	eachMode(t, testPipelinedListingsDoNotAccumulate)
}

func testPipelinedListingsDoNotAccumulate(t *testing.T, m mode) {
	_, dir := remoteDir(t, srv)
	const entries = 3000
	for i := 0; i < entries; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("entry-%05d-with-a-longer-name.txt", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	peak := func(inFlight int) int64 {
		s := start(t, runOpts{mode: m, framing: client.Binary, binary: plainBinary(t)}, defaultArgs()...)
		s.must("ok", listdir(dir)) // connected, and one listing's worth of memory
		payload, _ := json.Marshal(listdir(dir))
		for i := 0; i < inFlight; i++ {
			if err := s.p.Send(payload, reqTimeout); err != nil {
				t.Fatal(err)
			}
		}
		// Read every result before decoding any: a reader slower than
		// sftper would leave finished results waiting to be written,
		// which sftper holds by design (up to its window of requests in
		// flight), and the test would measure the reader.
		results := make([][]byte, inFlight)
		for i := range results {
			b, err := s.p.Recv(bulkTimeout)
			if err != nil {
				t.Fatalf("result %d of %d: %v", i+1, inFlight, err)
			}
			results[i] = b
		}
		for i, b := range results {
			if res, err := client.Decode(b); err != nil || res.Status != "ok" {
				t.Fatalf("result %d of %d: %s, %v", i+1, inFlight, b, err)
			}
		}
		hwm := peakRSS(t, s.p.Pid())
		s.finish()
		return hwm
	}
	const inFlight = 32
	few, many := peak(2), peak(inFlight)
	t.Logf("peak RSS of sftper (%s mode, %d-entry listings): %.1f MB at 2 in flight, %.1f MB at %d", m, entries, float64(few)/1e6, float64(many)/1e6, inFlight)
	// Each listing held whole is over a megabyte: 30 more of them are
	// well above this.
	if many > few+16<<20 {
		t.Errorf("peak RSS %.1f MB at %d listings in flight against %.1f MB at 2: finished listings are kept", float64(many)/1e6, inFlight, float64(few)/1e6)
	}
}
