package driver

import (
	"regexp"
	"strings"
)

// PromptKind tells what ssh asked on the terminal.
type PromptKind int

const (
	PromptHostKey    PromptKind = iota + 1 // confirm an unknown host key
	PromptPassword                         // password or keyboard-interactive
	PromptPassphrase                       // private key passphrase
	PromptOther                            // any other question
)

func (k PromptKind) String() string {
	switch k {
	case PromptHostKey:
		return "host key confirmation"
	case PromptPassword:
		return "password"
	case PromptPassphrase:
		return "key passphrase"
	}
	return "question"
}

// Prompt is a question ssh is waiting to have answered.
type Prompt struct {
	Kind PromptKind
	Text string // what ssh wrote, CRs removed and blank lines trimmed
}

var (
	hostKeyQuestion = regexp.MustCompile(`(?s)Are you sure you want to continue connecting \(yes/no(/\[fingerprint\])?\)\? $|Please type 'yes', 'no' or the fingerprint: $`)
	passphraseAsk   = regexp.MustCompile(`(?i)enter passphrase for .*: ?$`)
	passwordAsk     = regexp.MustCompile(`(?i)(password|passcode|pin|verification code|one-time code|otp)[^:\n]*: ?$`)
	questionEnd     = regexp.MustCompile(`(: ?|\? ?)$`)
)

// DetectPrompt reports whether what ssh has written on the terminal so far
// ends in a question it is now waiting on. ssh writes each prompt without a
// trailing newline and then reads the answer, so only the text after the
// last newline (and, for the host-key question, the lines before it that
// belong to it) is considered.
//
// Host-key, password and passphrase prompts are recognised by their wording
// and reported at once. Any other text left without a newline that ends in
// ": " or "? " is reported as PromptOther; since a prompt can arrive in
// pieces, the caller should only act on PromptOther once the terminal has
// been quiet for a moment.
func DetectPrompt(text string) (Prompt, bool) {
	if text == "" || strings.HasSuffix(text, "\n") {
		return Prompt{}, false
	}
	clean := func(s string) string {
		return strings.TrimSpace(strings.ReplaceAll(s, "\r", ""))
	}
	if hostKeyQuestion.MatchString(text) {
		// The question follows the paragraph that names the host and
		// the fingerprint; keep it, it is what the user must check.
		start := strings.LastIndex(text, "The authenticity of host")
		if start < 0 {
			start = 0
		}
		return Prompt{Kind: PromptHostKey, Text: clean(text[start:])}, true
	}
	last := text[strings.LastIndexByte(text, '\n')+1:]
	last = last[strings.LastIndexByte(last, '\r')+1:]
	switch {
	case passphraseAsk.MatchString(last):
		return Prompt{Kind: PromptPassphrase, Text: clean(last)}, true
	case passwordAsk.MatchString(last):
		return Prompt{Kind: PromptPassword, Text: clean(last)}, true
	case strings.TrimSpace(last) != "" && questionEnd.MatchString(last):
		return Prompt{Kind: PromptOther, Text: clean(last)}, true
	}
	return Prompt{}, false
}
