package driver

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSSHFirstCommand(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	first := []string{"-o", "ControlMaster=yes"}
	for _, tc := range []struct {
		prog, want []string
		ssh        string
	}{
		{[]string{"sftp"}, []string{"sftp", "-S", exe}, "ssh"},
		{[]string{"/opt/sftp", "-l", "100", "-S", "/opt/ssh", "-R", "8"}, []string{"/opt/sftp", "-l", "100", "-R", "8", "-S", exe}, "/opt/ssh"},
		{[]string{"sftp", "-S/opt/ssh"}, []string{"sftp", "-S", exe}, "/opt/ssh"},
		// A wrapper's own arguments stay first.
		{[]string{"wrap", "log file", "-l", "1"}, []string{"wrap", "log file", "-l", "1", "-S", exe}, "ssh"},
		// After --, nothing is an option of sftp's.
		{[]string{"sftp", "--", "-S", "x"}, []string{"sftp", "-S", exe, "--", "-S", "x"}, "ssh"},
	} {
		got, env, err := sshFirstCommand(tc.prog, first)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q: (-want +got)\n%s", tc.prog, diff)
		}
		name, value, _ := strings.Cut(env, "=")
		var carried []string
		if err := json.Unmarshal([]byte(value), &carried); name != SSHExecEnv || err != nil {
			t.Fatalf("environment entry %q: %v", env, err)
		}
		if diff := cmp.Diff(append([]string{tc.ssh}, first...), carried); diff != "" {
			t.Errorf("%q: carried (-want +got)\n%s", tc.prog, diff)
		}
	}
	if _, _, err := sshFirstCommand(nil, first); err == nil {
		t.Error("no error for no program")
	}
}

// ExecSSH replaces the process with the program, the options first: the
// test runs itself with SSHExecEnv set, as sftp would run sftper.
func TestExecSSH(t *testing.T) {
	if v := os.Getenv("SFTPER_TEST_EXEC_SSH"); v != "" {
		err := ExecSSH(os.Getenv(SSHExecEnv), []string{"sftp's", "args"})
		os.Stdout.WriteString("ExecSSH returned: " + err.Error())
		os.Exit(3)
	}
	run := func(value string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExecSSH$")
		cmd.Env = append(os.Environ(), "SFTPER_TEST_EXEC_SSH=1", SSHExecEnv+"="+value)
		out, err := cmd.Output()
		return string(out), err
	}
	// sh prints its arguments and whether the variable reached it.
	script := `printf '%s|' "$@"; printf 'env=%s' "${` + SSHExecEnv + `-unset}"`
	value, _ := json.Marshal([]string{"sh", "-c", script, "sh", "first"})
	out, err := run(string(value))
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if want := "first|sftp's|args|env=unset"; out != want {
		t.Errorf("the program printed %q, want %q", out, want)
	}
	for _, bad := range []string{"", "[]", `[""]`, "{}", `["/no/such/program"]`, `["no-such-program-anywhere"]`} {
		out, err := run(bad)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.HasPrefix(out, "ExecSSH returned: ") {
			t.Errorf("%q: %v, %q; want ExecSSH to return an error", bad, err, out)
		}
	}
}
