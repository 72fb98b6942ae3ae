package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// Batch mode's connection sharing: sftper's own ControlMaster, with its
// socket in a private directory under $TMPDIR, and what is left behind on
// every way out. Each test gives sftper a $TMPDIR of its own, so that
// "nothing left behind" can be checked exactly.

// masterOf returns the pid of sftper's connection master, or 0.
func masterOf(t *testing.T, s *sftper) int {
	t.Helper()
	for pid := range children(t, s.p.Pid()) {
		if strings.Contains(cmdline(pid), "ControlMaster=yes") {
			return pid
		}
	}
	return 0
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// strays lists processes anywhere on the machine whose command line names
// tmp (a master's ControlPath, or a script using it).
func strays(tmp string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !sshdtest.Alive(pid) {
			continue
		}
		if c := cmdline(pid); strings.Contains(c, tmp) {
			out = append(out, strconv.Itoa(pid)+": "+c)
		}
	}
	return out
}

// clean waits a little, then wants no process using tmp and nothing in it.
func clean(t *testing.T, tmp string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := strays(tmp)
		ents, _ := os.ReadDir(tmp)
		for _, e := range ents {
			left = append(left, "file "+e.Name())
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("left behind: %q", left)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// batchSftper starts sftper in batch mode on server, with the server's
// ssh_config unless config is given, and $TMPDIR set to a fresh directory,
// which it returns.
func batchSftper(t *testing.T, server *sshdtest.Server, config ...string) (*sftper, string) {
	t.Helper()
	tmp, err := os.MkdirTemp("", "tmpdir-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	cfg := server.SSHConfig
	if len(config) > 0 {
		cfg = config[0]
	}
	s := start(t, runOpts{mode: batch, framing: client.Text, server: server, env: []string{"TMPDIR=" + tmp}}, "-F", cfg, sshdtest.Alias)
	return s, tmp
}

func logins(s *sshdtest.Server) int { return strings.Count(s.Log(), "Accepted publickey") }

// TestBatchSharesOneConnection: twenty requests, each its own script, one
// login on the server.
func TestBatchSharesOneConnection(t *testing.T) {
	server := startServer(t, sshdtest.Options{})
	s, tmp := batchSftper(t, server)
	src := filepath.Join(s.dir, "f")
	writeFile(t, nil, src, []byte("shared"))
	for i := range 20 {
		s.must("ok", put(src, "f"+strconv.Itoa(i)))
	}
	if n := logins(server); n != 1 {
		t.Errorf("%d logins for 20 batch requests, want 1", n)
	}
	if n := strings.Count(server.Log(), "subsystem 'sftp'"); n < 21 {
		t.Errorf("%d sftp sessions, want at least 21 (the first script and one per request)", n)
	}
	if masterOf(t, s) == 0 {
		t.Error("no connection master among sftper's children")
	}
	s.finish()
	clean(t, tmp)
}

// TestBatchSharesOneConnectionLongTMPDIR: a $TMPDIR as long as macOS's
// per-user one (/var/folders/xx/.../T/, about 49 bytes) or longer still
// leaves room for the control socket's path: up to 64 bytes.
func TestBatchSharesOneConnectionLongTMPDIR(t *testing.T) {
	for _, n := range []int{60, 64} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			server := startServer(t, sshdtest.Options{})
			base, err := os.MkdirTemp("", "tmpdir-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(base) })
			tmp := base + "/" + strings.Repeat("t", max(n-len(base)-1, 0))
			if len(tmp) != n {
				t.Skipf("the test's temporary directory %s is too long", base)
			}
			if err := os.Mkdir(tmp, 0o700); err != nil {
				t.Fatal(err)
			}
			s := start(t, runOpts{mode: batch, framing: client.Text, server: server, env: []string{"TMPDIR=" + tmp}},
				"-F", server.SSHConfig, sshdtest.Alias)
			for range 3 {
				s.must("ok", listdir("."))
			}
			if masterOf(t, s) == 0 {
				t.Error("no connection master among sftper's children")
			}
			s.finish()
			if n := logins(server); n != 1 {
				t.Errorf("%d logins for 3 batch requests, want 1", n)
			}
			if strings.Contains(s.p.Stderr(), "cannot share one ssh connection") {
				t.Errorf("no sharing with a $TMPDIR of %d bytes:\n%s", len(tmp), s.p.Stderr())
			}
			clean(t, tmp)
		})
	}
}

// TestBatchMasterCleanup: the master and its socket go on every way out,
// and a master that dies is replaced by the next request.
func TestBatchMasterCleanup(t *testing.T) {
	needSSH(t)
	server := startServer(t, sshdtest.Options{})

	t.Run("end of input", func(t *testing.T) {
		s, tmp := batchSftper(t, server)
		s.must("ok", listdir("."))
		s.finish()
		clean(t, tmp)
	})

	t.Run("SIGTERM", func(t *testing.T) {
		s, tmp := batchSftper(t, server)
		s.must("ok", listdir("."))
		if masterOf(t, s) == 0 {
			t.Fatal("no connection master")
		}
		s.p.Signal(syscall.SIGTERM)
		if _, err := s.p.Wait(reqTimeout); err != nil {
			t.Fatal(err)
		}
		clean(t, tmp)
	})

	t.Run("master crashes", func(t *testing.T) {
		off := server.LogOffset()
		s, tmp := batchSftper(t, server)
		s.must("ok", listdir("."))
		// Let the spare scripts finish connecting through the master:
		// one still connecting when the master dies would, as ssh
		// does with a dead control socket, log in on its own.
		waitSessions(t, server, off, 4) // the first script, the request, two spares
		before := logins(server)
		pid := masterOf(t, s)
		if pid == 0 {
			t.Fatal("no connection master")
		}
		syscall.Kill(pid, syscall.SIGKILL)
		for sshdtest.Alive(pid) {
			time.Sleep(10 * time.Millisecond)
		}
		// The next request connects again, through a new master.
		s.must("ok", listdir("."))
		if n := logins(server) - before; n != 1 {
			t.Errorf("%d new logins after the master died, want 1", n)
		}
		if p := masterOf(t, s); p == 0 || p == pid {
			t.Errorf("master after the crash: %d (was %d), want a new one", p, pid)
		}
		s.must("ok", listdir("."))
		s.finish()
		clean(t, tmp)
	})

	t.Run("server restart", func(t *testing.T) {
		s, tmp := batchSftper(t, server)
		s.must("ok", listdir("."))
		pid := masterOf(t, s)
		if err := server.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := server.Restart(); err != nil {
			t.Fatal(err)
		}
		for sshdtest.Alive(pid) { // the master notices its connection is gone
			time.Sleep(10 * time.Millisecond)
		}
		s.must("ok", listdir("."))
		s.finish()
		clean(t, tmp)
	})
}

// TestBatchWithoutSharing: when no control socket can be made, batch mode
// still works, every script connecting on its own, and says so once.
func TestBatchWithoutSharing(t *testing.T) {
	server := startServer(t, sshdtest.Options{})
	tmp := filepath.Join(t.TempDir(), strings.Repeat("long-", 20))
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	s := start(t, runOpts{mode: batch, framing: client.Text, server: server, env: []string{"TMPDIR=" + tmp}},
		"-F", server.SSHConfig, sshdtest.Alias)
	src := filepath.Join(t.TempDir(), "f")
	writeFile(t, nil, src, []byte("f"))
	for range 3 {
		s.must("ok", listdir("."))
		s.must("ok", put(src, "f"))
	}
	s.finish()
	// The first script, one per PUT, and one for the attribute
	// channel that every LISTDIR rides.
	if n := logins(server); n != 5 {
		t.Errorf("%d logins, want 5 (the first script, one per PUT, one for the attribute channel)", n)
	}
	if n := strings.Count(s.p.Stderr(), "cannot share one ssh connection"); n != 1 {
		t.Errorf("stderr says %d times that sharing is impossible, want once:\n%s", n, s.p.Stderr())
	}
	clean(t, tmp)
}

// TestBatchUsesTheUsersSharing: a ControlPath in the user's configuration
// is theirs to manage; sftper starts no master of its own.
func TestBatchUsesTheUsersSharing(t *testing.T) {
	server := startServer(t, sshdtest.Options{})
	sock := filepath.Join(t.TempDir(), "user-cm")
	config := filepath.Join(t.TempDir(), "ssh_config")
	b, err := os.ReadFile(server.SSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	// ssh keeps the first value it reads: these come before the file's
	// "ControlMaster no" and "ControlPath none".
	mine := "Host " + sshdtest.Alias + "\n  ControlMaster auto\n  ControlPath " + sock + "\n  ControlPersist no\n"
	if err := os.WriteFile(config, append([]byte(mine), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	s, tmp := batchSftper(t, server, config)
	s.must("ok", listdir("."))
	if pid := masterOf(t, s); pid != 0 {
		t.Errorf("sftper started a master of its own: %s", cmdline(pid))
	}
	s.finish()
	if !strings.Contains(s.p.Stderr(), "using the connection sharing of your ssh configuration") {
		t.Errorf("stderr does not say whose sharing is used:\n%s", s.p.Stderr())
	}
	clean(t, tmp)
}

// waitSessions waits until the server's log, after offset off, shows n
// SFTP sessions started.
func waitSessions(t *testing.T, s *sshdtest.Server, off int64, n int) {
	t.Helper()
	for deadline := time.Now().Add(reqTimeout); ; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(s.LogFile)
		if off <= int64(len(b)) && strings.Count(string(b[off:]), "subsystem 'sftp'") >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d sftp sessions on the server", n)
		}
	}
}
