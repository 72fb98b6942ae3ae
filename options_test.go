package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

func TestParseArgs(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	none := env(nil)
	tests := []struct {
		name string
		args []string
		env  func(string) string
		want options
	}{
		{"alias", []string{"myhost"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "myhost"}},
		{"user at host", []string{"bob@example.org"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "bob@example.org"}},
		{"ipv6", []string{"bob@[::1]"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "bob@[::1]"}},
		{"url without path", []string{"sftp://bob@h:2222"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "sftp://bob@h:2222"}},
		{"url with path", []string{"sftp://h/in%20box/sub"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "sftp://h", startDir: "in box/sub"}},
		{"url with absolute path", []string{"SFTP://h//srv/x"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "sftp://h", startDir: "/srv/x"}},
		{"url with trailing slash only", []string{"sftp://h/"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "sftp://h"}},
		{"openssh options in order, attached and separate", []string{"-F", "cfg", "-oBatchMode=no", "-o", "Port=2", "-i", "k", "-P", "22", "-J", "jump", "h"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "h",
				sshArgs: []string{"-F", "cfg", "-o", "BatchMode=no", "-o", "Port=2", "-i", "k", "-P", "22", "-J", "jump"}}},
		{"long options", []string{"--framing", "binary", "--connect-timeout=2s", "--sftp-command", "sftp -l 100", "h"}, none,
			options{framing: proto.FramingBinary, connectTimeout: 2 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "h", program: []string{"sftp", "-l", "100"}}},
		{"sessions", []string{"--sessions", "8", "h"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 8, destination: "h"}},
		{"unordered", []string{"--unordered", "h"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, unordered: true, destination: "h"}},
		{"sessions attached", []string{"--sessions=64", "h"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 64, destination: "h"}},
		{"stall timeout", []string{"--stall-timeout", "90s", "h"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: 90 * time.Second, sessions: 1, destination: "h"}},
		{"timeout in seconds", []string{"--connect-timeout", "1.5", "h"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 1500 * time.Millisecond, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "h"}},
		{"sftp command from the environment", []string{"h"}, env(map[string]string{"SFTPER_SFTP_COMMAND": `/opt/my\ sftp -R 64`}),
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "h", program: []string{"/opt/my sftp", "-R", "64"}}},
		{"flag beats the environment", []string{"--sftp-command=sftp", "h"}, env(map[string]string{"SFTPER_SFTP_COMMAND": "other"}),
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "h", program: []string{"sftp"}}},
		{"double dash", []string{"--", "h"}, none,
			options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, destination: "h"}},
		{"help", []string{"--help"}, none, options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, help: true}},
		{"version", []string{"--version"}, none, options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1, version: true}},
	}
	for _, tt := range tests {
		got, err := parseArgs(tt.args, tt.env)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, *got, cmp.AllowUnexported(options{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParseArgsRefuses(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "missing DESTINATION"},
		{[]string{"-x", "h"}, "unknown option -x"},
		{[]string{"--bogus", "h"}, "unknown option --bogus"},
		{[]string{"-o"}, "needs a value"},
		{[]string{"--framing", "json", "h"}, "unknown framing"},
		{[]string{"--connect-timeout", "soon", "h"}, "bad connect timeout"},
		{[]string{"--connect-timeout", "-1s", "h"}, "must be positive"},
		{[]string{"--stall-timeout", "0", "h"}, "stall timeout must be positive"},
		{[]string{"--stall-timeout", "never", "h"}, "bad stall timeout"},
		{[]string{"--stall-timeout", "500ms", "h"}, "at least 1s"},
		{[]string{"-P", "http", "h"}, "bad port"},
		{[]string{"--unordered=yes", "h"}, "takes no value"},
		{[]string{"--sessions", "0", "h"}, "bad --sessions"},
		{[]string{"--sessions", "65", "h"}, "bad --sessions"},
		{[]string{"--sessions", "4.5", "h"}, "bad --sessions"},
		{[]string{"--sessions", "h"}, "bad --sessions"},
		{[]string{"h", "extra"}, "unexpected argument"},
		{[]string{"host:dir"}, "bad DESTINATION"},
		{[]string{"-- -oProxyCommand=x"}, "unknown option"},
		{[]string{"--", "-oProxyCommand=x"}, "bad DESTINATION"},
		{[]string{"sftp://"}, "bad DESTINATION"},
		{[]string{"sftp://-oProxyCommand=x/"}, "bad DESTINATION"},
		{[]string{"--sftp-command", "'unterminated", "h"}, "sftp command"},
		{[]string{"--sftp-command", "  ", "h"}, "names no program"},
	}
	for _, tt := range tests {
		_, err := parseArgs(tt.args, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseArgs(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
