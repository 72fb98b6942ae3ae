package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// Since OpenSSH 10.0, sftp gives ssh -oControlMaster no ahead of every
// option it passes on, so an option given through sftp's -o cannot make a
// session's ssh the connection's master; sftper puts its own ahead of
// sftp's (driver/sshfirst.go). The sftp here is 9.2, so the wrapper below
// makes its ssh see what 10.x's sees: -oControlMaster=no before everything
// sftp gives it. Without sftper's mechanism LISTDIR and STAT fail in
// session mode ("the connection's master is gone"), as they did against a
// real 10.5p1 sftp.
const sftp10 = `#!/bin/bash
# sftp, running its ssh as OpenSSH 10.0 and later do.
args=() real=ssh
while [ $# -gt 0 ]; do
  case $1 in
    -S) real=$2; shift 2 ;;
    --) break ;;
    *) args+=("$1"); shift ;;
  esac
done
export SFTP10_SSH=$real
exec sftp -S "$(dirname "$0")/ssh10" "${args[@]}" "$@"
`

const ssh10 = `#!/bin/sh
exec "$SFTP10_SSH" -oControlMaster=no "$@"
`

func TestSessionMasterAheadOfSFTPsOptions(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"sftp10": sftp10, "ssh10": ssh10} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	server := startServer(t, sshdtest.Options{})
	s := start(t, runOpts{mode: session, framing: client.Binary, server: server},
		"--sftp-command", filepath.Join(dir, "sftp10"), "-F", server.SSHConfig, sshdtest.Alias)
	src := filepath.Join(s.dir, "f")
	writeFile(t, nil, src, []byte("sftp 10"))
	s.must("ok", put(src, "f"))
	if got := data[[]entry](t, s.must("ok", listdir("."))); len(got) != 1 || got[0].Name != "f" || got[0].Size != 7 {
		t.Errorf("LISTDIR: %+v", got)
	}
	s.must("ok", stat("f"))

	// The session's ssh: sftp's child, not under a process of sftper's,
	// with sftper's options first and nothing of the mechanism in its
	// environment.
	var ssh []int
	for pid, name := range children(t, s.p.Pid()) {
		if name == "ssh" && strings.Contains(cmdline(pid), "ControlMaster=yes") {
			ssh = append(ssh, pid)
		}
		if name == "sftper" {
			t.Errorf("a process named sftper (%d) under sftper: %s", pid, cmdline(pid))
		}
	}
	if len(ssh) != 1 {
		t.Fatalf("ssh processes made masters: %v", ssh)
	}
	args := strings.Split(strings.TrimSuffix(readProc(t, ssh[0], "cmdline"), "\x00"), "\x00")
	if len(args) < 3 || args[1] != "-o" || args[2] != "ControlMaster=yes" {
		t.Errorf("the session's ssh: %q, want sftper's options first", args)
	}
	if env := readProc(t, ssh[0], "environ"); strings.Contains(env, "SFTPER_SSH_EXEC") {
		t.Error("the session's ssh has SFTPER_SSH_EXEC in its environment")
	}
	s.finish()
	if n := strings.Count(server.Log(), "Accepted publickey"); n != 1 {
		t.Errorf("%d logins, want 1: the attribute channel did not ride the session's", n)
	}
}

func readProc(t *testing.T, pid int, what string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + what)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
