package driver

import (
	"slices"
	"testing"
)

func TestSFTPServer(t *testing.T) {
	tests := []struct {
		prog   []string
		server string
		direct bool
	}{
		{nil, "sftp", false},
		{[]string{"sftp"}, "sftp", false},
		{[]string{"sftp", "-l", "2000"}, "sftp", false},
		{[]string{"sftp", "-s", "sftp-alt"}, "sftp-alt", false},
		{[]string{"sftp", "-s/usr/lib/sftp-server"}, "/usr/lib/sftp-server", false},
		{[]string{"sftp", "-D", "/usr/libexec/gesftpserver"}, "/usr/libexec/gesftpserver", true},
		{[]string{"sftp", "--", "-s", "x"}, "sftp", false},
	}
	for _, tc := range tests {
		server, direct := sftpServer(tc.prog)
		if server != tc.server || direct != tc.direct {
			t.Errorf("sftpServer(%q) = %q, %v; want %q, %v", tc.prog, server, direct, tc.server, tc.direct)
		}
	}
}

// TestAttrCommand: the channel's ssh rides the given master and never
// becomes one, takes the user's options and ssh program, and asks for the
// subsystem sftp would.
func TestAttrCommand(t *testing.T) {
	cfg := &Config{Program: []string{"sftp", "-S", "/opt/ssh"}, Args: []string{"-P", "2222", "-o", "User=u"}, Destination: "sftp://h"}
	name, args := attrCommand(cfg, Settings{}, "/tmp/s/cm1")
	if name != "/opt/ssh" {
		t.Errorf("program %q, want the -S one", name)
	}
	want := []string{"-o", "ControlMaster=no", "-o", "ControlPath=/tmp/s/cm1", "-p", "2222", "-o", "User=u"}
	if !isSubsequence(args, want) {
		t.Errorf("args %q lack %q in that order", args, want)
	}
	if tail := args[len(args)-4:]; !slices.Equal(tail, []string{"-s", "--", "ssh://h", "sftp"}) {
		t.Errorf("args end %q", tail)
	}
	if i := slices.Index(args, "BatchMode=yes"); i < 0 || i < slices.Index(args, "User=u") {
		t.Errorf("BatchMode=yes missing or ahead of the user's options: %q", args)
	}

	_, args = attrCommand(&Config{Destination: "h"}, Settings{}, "")
	if slices.ContainsFunc(args, func(a string) bool { return len(a) > 12 && a[:12] == "ControlPath=" }) {
		t.Errorf("no master, yet a ControlPath: %q", args)
	}
	name, args = attrCommand(&Config{Program: []string{"sftp", "-D", "/usr/libexec/gesftpserver"}, Destination: "h"}, Settings{}, "")
	if name != "/usr/libexec/gesftpserver" || len(args) != 0 {
		t.Errorf("-D: %q %q, want the local server alone", name, args)
	}
	_, args = attrCommand(&Config{Program: []string{"sftp", "-s", "/usr/lib/sftp-server"}, Destination: "h"}, Settings{}, "")
	if tail := args[len(args)-3:]; !slices.Equal(tail, []string{"--", "h", "/usr/lib/sftp-server"}) || slices.Contains(args, "-s") {
		t.Errorf("-s /path must run the path as a command: %q", args)
	}
}

func isSubsequence(s, sub []string) bool {
	i := 0
	for _, x := range s {
		if i < len(sub) && x == sub[i] {
			i++
		}
	}
	return i == len(sub)
}
