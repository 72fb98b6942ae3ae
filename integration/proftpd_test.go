package integration

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// ProFTPD's mod_sftp is an SSH server of its own, with its own channel
// handling: these tests run sftper against it, in both modes.

// startProFTPD starts a ProFTPD mod_sftp server of the test's own. When
// ProFTPD is not installed the test is skipped, and fails in CI
// (integration/install-openssh.sh installs it).
func startProFTPD(t *testing.T) *sshdtest.Server {
	t.Helper()
	return ownServer(t, "proftpd", sshdtest.ErrNoProFTPD, func() (*sshdtest.Server, error) {
		return sshdtest.StartProFTPD(sshdtest.ProFTPDOptions{})
	})
}

func startOn(t *testing.T, s *sshdtest.Server, m mode) *sftper {
	t.Helper()
	return start(t, runOpts{mode: m, server: s}, "-F", s.SSHConfig, sshdtest.Alias)
}

// TestProFTPDCommands runs each command once against ProFTPD, and the
// failures a missing file gives, checking each effect on the server's disk.
func TestProFTPDCommands(t *testing.T) {
	pf := startProFTPD(t)
	eachMode(t, func(t *testing.T, m mode) {
		s := startOn(t, pf, m)
		rel, abs := remoteDir(t, pf)
		local := t.TempDir()
		content := []byte("hello, proftpd\n")
		src := filepath.Join(local, "hello.txt")
		writeFile(t, nil, src, content)

		// ProFTPD replaces a file only with AllowOverwrite: the PUT
		// that roundTrip makes is over this one.
		s.must("ok", put(src, rel+"/hello.txt"))
		roundTrip(t, s, local, rel, abs, content)

		// A missing file, each way round.
		missing := []string{"No such file", "not found"}
		if res := s.expect("error", get(rel+"/nope", filepath.Join(local, "nope"))); !containsFold(res.Message, missing...) {
			t.Errorf("GET of a missing file: message %q does not say so", res.Message)
		}
		if exists(filepath.Join(local, "nope")) {
			t.Error("a failed GET left a local file")
		}
		if res := s.expect("error", del(rel+"/nope")); !containsFold(res.Message, missing...) {
			t.Errorf("DELETE of a missing file: message %q does not say so", res.Message)
		}
		if res := s.expect("error", listdir(rel+"/nope")); !containsFold(res.Message, missing...) {
			t.Errorf("LISTDIR of a missing directory: message %q does not say so", res.Message)
		}
		res := s.expect("error", put(filepath.Join(local, "nope"), rel+"/nope"))
		if !containsFold(res.Message, missing...) {
			t.Errorf("PUT of a missing local file: message %q does not say so", res.Message)
		}
		if remoteData(t, res) != "unchanged" || exists(filepath.Join(abs, "nope")) {
			t.Errorf("PUT of a missing local file: %s; want remote unchanged and no remote file", res.Raw)
		}
		s.finish()
	})
}

// TestProFTPDLoop is the loop that broke batch mode against ProFTPD: PUT
// of a 5 MiB file, LISTDIR, GET, DELETE, one request at a time, 40 rounds.
// With scripts kept ready, a spare's sftp starting on its own channel
// while an upload ran had its first SFTP packets taken into the upload's
// (mod_sftp assembles packets in one buffer for all channels): the upload
// stalled, or the server's process aborted and the connection was lost.
func TestProFTPDLoop(t *testing.T) {
	pf := startProFTPD(t)
	eachMode(t, func(t *testing.T, m mode) {
		s := startOn(t, pf, m)
		rel, abs := remoteDir(t, pf)
		local := t.TempDir()
		src := filepath.Join(local, "big.bin")
		back := filepath.Join(local, "back.bin")
		content := make([]byte, 5<<20)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range content {
			content[i] = byte(rng.Uint32())
		}
		const rounds = 40
		const within = 20 * time.Second // a stalled upload fails in bounded time
		started := time.Now()
		ok := 0
		check := func(round int, what string, res client.Result) {
			t.Helper()
			if res.Status != "ok" {
				t.Fatalf("round %d: %s: %s (%d of %d requests ok before it)", round, what, res.Raw, ok, 4*rounds)
			}
			ok++
		}
		for round := 1; round <= rounds; round++ {
			// A different file each round, so that a stale one cannot pass.
			copy(content, []byte{byte(round), byte(round >> 8), 'r', 'o', 'u', 'n', 'd'})
			writeFile(t, nil, src, content)

			check(round, "PUT", s.doWithin(put(src, rel+"/big.bin"), within))
			if got := readFile(t, filepath.Join(abs, "big.bin")); !bytes.Equal(got, content) {
				t.Fatalf("round %d: the server holds %d bytes, not the %d uploaded", round, len(got), len(content))
			}
			res := s.doWithin(listdir(rel), within)
			check(round, "LISTDIR", res)
			if got := entries(t, res); len(got) != 1 || got[0].Name != "big.bin" || got[0].Size != int64(len(content)) {
				t.Fatalf("round %d: LISTDIR gives %+v, want big.bin alone, %d bytes", round, got, len(content))
			}
			check(round, "GET", s.doWithin(get(rel+"/big.bin", back), within))
			if got := readFile(t, back); !bytes.Equal(got, content) {
				t.Fatalf("round %d: downloaded %d bytes that differ from the file", round, len(got))
			}
			check(round, "DELETE", s.doWithin(del(rel+"/big.bin"), within))
			if exists(filepath.Join(abs, "big.bin")) {
				t.Fatalf("round %d: DELETE left the file on the server", round)
			}
		}
		t.Logf("%s mode: %d of %d requests ok in %v", m, ok, 4*rounds, time.Since(started).Round(time.Millisecond))
		s.finish()
	})
}
