package driver

import (
	"fmt"
	"sync"
)

// Secret is the password or key passphrase sftper may give to ssh, and
// where it came from (for messages). Its String never shows it, so that it
// cannot reach a log or a result by accident.
type Secret struct {
	value  []byte
	source string // "--password-file FILE" or "SFTPER_PASSWORD"
}

// NewSecret wraps value, read from source.
func NewSecret(value []byte, source string) *Secret {
	return &Secret{value: value, source: source}
}

func (s *Secret) String() string { return "secret from " + s.source }

// answers decides which of ssh's questions get the secret: a password,
// keyboard-interactive or passphrase prompt, each distinct prompt once
// (a jump host and the target may each ask once). The same prompt a second
// time means the secret was wrong: it is refused, so that a wrong secret
// fails at once instead of being tried in a loop. Anything else (a host
// key question above all) is never answered.
type answers struct {
	secret *Secret
	mu     sync.Mutex
	given  map[string]bool
	again  string // a prompt asked again after its answer, if any
}

func newAnswers(s *Secret) *answers {
	return &answers{secret: s, given: map[string]bool{}}
}

// answer returns what to reply to prompt p, or ok false to refuse it.
func (a *answers) answer(p Prompt) (reply []byte, ok bool) {
	if a == nil || a.secret == nil || (p.Kind != PromptPassword && p.Kind != PromptPassphrase) {
		return nil, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.given[p.Text] {
		a.again = p.Text
		return nil, false
	}
	a.given[p.Text] = true
	return a.secret.value, true
}

// rejected says, when ssh asked the same question again after its answer,
// that the secret was not accepted.
func (a *answers) rejected() (string, bool) {
	if a == nil {
		return "", false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.again == "" {
		return "", false
	}
	return fmt.Sprintf("authentication failed: ssh asked %q again after sftper gave it the %s, which was not accepted; "+
		"sftper does not try again", a.again, a.secret), true
}
