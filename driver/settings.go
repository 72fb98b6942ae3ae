package driver

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Settings is what `ssh -G` says of the user's configuration for the
// destination: how ssh would connect, with every default filled in. It is
// read once per connection owner, parsed by parseSettings, and never
// changes afterwards; the zero value means the configuration could not be
// read, and every accessor then answers "leave it to ssh".
type Settings struct {
	values map[string]string // keys in ssh -G's lower case; nil when unread
}

// parseSettings parses the output of ssh -G: one "keyword value" per line,
// the keyword in lower case. A keyword ssh prints more than once (an
// IdentityFile, a SendEnv) keeps its first value, the one ssh uses first.
// Lines without a value are skipped.
func parseSettings(out []byte) Settings {
	s := Settings{values: map[string]string{}}
	for _, ln := range bytes.Split(out, []byte("\n")) {
		k, v, ok := strings.Cut(strings.TrimRight(string(ln), "\r"), " ")
		if !ok || k == "" {
			continue
		}
		k = strings.ToLower(k)
		if _, seen := s.values[k]; !seen {
			s.values[k] = v
		}
	}
	return s
}

// Known reports whether the configuration was read.
func (s Settings) Known() bool { return s.values != nil }

// Get is the value ssh -G printed for keyword (in any case), and whether
// it printed one.
func (s Settings) Get(keyword string) (string, bool) {
	v, ok := s.values[strings.ToLower(keyword)]
	return v, ok
}

// BatchMode reports whether the configuration sets BatchMode yes.
func (s Settings) BatchMode() bool {
	v, _ := s.Get("batchmode")
	return v == "yes"
}

// NoKeepAlive reports whether the configuration has no ServerAliveInterval
// (ssh -G prints 0 both for none and for an explicit 0); false when the
// configuration could not be read, so that sftper adds nothing then.
func (s Settings) NoKeepAlive() bool {
	v, ok := s.Get("serveraliveinterval")
	return ok && v == "0"
}

// ControlPath is the control socket the user's configuration shares
// connections on, or "" when it shares none (or could not be read).
func (s Settings) ControlPath() string {
	if v, ok := s.Get("controlpath"); ok && v != "none" && v != "" {
		return v
	}
	return ""
}

// readSettings asks ssh how it would connect (ssh -G, with the user's
// options and destination: their configuration as ssh reads it). An error
// says why it could not; the Settings are then unknown.
func readSettings(cfg *Config) (Settings, error) {
	args := append(append([]string{"-G"}, sshArgs(cfg.Args)...), "--", sshDestination(cfg.Destination))
	cmd := exec.Command(sshProgram(cfg.Program), args...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Settings{}, fmt.Errorf("ssh -G: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return parseSettings(out), nil
}
