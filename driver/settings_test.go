package driver

import (
	"slices"
	"testing"
)

func TestParseSettings(t *testing.T) {
	for _, tc := range []struct {
		name         string
		in           string
		known, batch bool
		noKeepAlive  bool
		controlPath  string
		identity     string
	}{
		{name: "unread", in: "", known: true},
		{
			name: "defaults",
			in: "user tester\nhostname 127.0.0.1\nport 2222\nbatchmode no\nserveraliveinterval 0\n" +
				"controlpath none\nidentityfile ~/.ssh/id_rsa\nidentityfile ~/.ssh/id_ed25519\n",
			known: true, noKeepAlive: true, identity: "~/.ssh/id_rsa",
		},
		{
			name:  "the user's sharing and keep-alives",
			in:    "batchmode yes\nserveraliveinterval 30\ncontrolpath /home/u/.ssh/cm-%C\n",
			known: true, batch: true, controlPath: "/home/u/.ssh/cm-%C",
		},
		{
			name:  "CR LF, a keyword without value, upper case",
			in:    "BatchMode yes\r\nproxycommand\r\nControlPath none\r\n",
			known: true, batch: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := parseSettings([]byte(tc.in))
			if s.Known() != tc.known || s.BatchMode() != tc.batch || s.NoKeepAlive() != tc.noKeepAlive || s.ControlPath() != tc.controlPath {
				t.Errorf("known %v batch %v noKeepAlive %v controlPath %q; want %v %v %v %q",
					s.Known(), s.BatchMode(), s.NoKeepAlive(), s.ControlPath(), tc.known, tc.batch, tc.noKeepAlive, tc.controlPath)
			}
			if id, _ := s.Get("IdentityFile"); id != tc.identity {
				t.Errorf("IdentityFile %q, want %q (the first one)", id, tc.identity)
			}
			if _, ok := s.Get("proxycommand"); ok {
				t.Errorf("a keyword without a value was kept")
			}
		})
	}
	var zero Settings
	if zero.Known() || zero.NoKeepAlive() || zero.ControlPath() != "" || zero.BatchMode() {
		t.Errorf("the zero Settings must leave everything to ssh")
	}
}

func TestWithoutJump(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"-F", "cfg", "-J", "jump", "-o", "X=1"}, []string{"-F", "cfg", "-o", "X=1"}},
		{[]string{"-Jjump", "-i", "key"}, []string{"-i", "key"}},
		{[]string{"-o", "-J"}, []string{"-o", "-J"}}, // an -o value, not an option
		{[]string{"-P", "22"}, []string{"-P", "22"}},
		{nil, []string{}},
	} {
		if got := withoutJump(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("withoutJump(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
