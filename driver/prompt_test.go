package driver

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDetectPrompt(t *testing.T) {
	hostKey := "\rThe authenticity of host '[127.0.0.1]:42622 ([127.0.0.1]:42622)' can't be established.\r\n" +
		"ED25519 key fingerprint is SHA256:1ROtB79zLmHJ/WbS/CU13hV9Yt1U9Rw/17ETAc5k9Yo.\r\n" +
		"This key is not known by any other names.\r\n" +
		"Are you sure you want to continue connecting (yes/no/[fingerprint])? "
	tests := []struct {
		name string
		tty  string
		want Prompt
		ok   bool
	}{
		{"nothing", "", Prompt{}, false},
		{"finished line", "Warning: something\r\n", Prompt{}, false},
		{"host key", hostKey, Prompt{PromptHostKey, "The authenticity of host '[127.0.0.1]:42622 ([127.0.0.1]:42622)' can't be established.\n" +
			"ED25519 key fingerprint is SHA256:1ROtB79zLmHJ/WbS/CU13hV9Yt1U9Rw/17ETAc5k9Yo.\n" +
			"This key is not known by any other names.\n" +
			"Are you sure you want to continue connecting (yes/no/[fingerprint])?"}, true},
		{"host key, old wording", "The authenticity of host 'h (1.2.3.4)' can't be established.\r\nRSA key fingerprint is SHA256:x.\r\nAre you sure you want to continue connecting (yes/no)? ",
			Prompt{PromptHostKey, "The authenticity of host 'h (1.2.3.4)' can't be established.\nRSA key fingerprint is SHA256:x.\nAre you sure you want to continue connecting (yes/no)?"}, true},
		{"host key arriving in pieces", hostKey[:40], Prompt{}, false},
		{"host key re-asked", "\rPlease type 'yes', 'no' or the fingerprint: ", Prompt{PromptHostKey, "Please type 'yes', 'no' or the fingerprint:"}, true},
		{"password method", "\rsfref@127.0.0.1's password: ", Prompt{PromptPassword, "sfref@127.0.0.1's password:"}, true},
		{"keyboard-interactive", "\r(sfref@127.0.0.1) Password: ", Prompt{PromptPassword, "(sfref@127.0.0.1) Password:"}, true},
		{"password after a denial", "\rPermission denied, please try again.\r\r\n\ru@h's password: ", Prompt{PromptPassword, "u@h's password:"}, true},
		{"passphrase", "\rEnter passphrase for key '/srv/t/clientkey_pp': ", Prompt{PromptPassphrase, "Enter passphrase for key '/srv/t/clientkey_pp':"}, true},
		{"otp", "Verification code: ", Prompt{PromptPassword, "Verification code:"}, true},
		{"other question", "Enter PIN for 'token': ", Prompt{PromptPassword, "Enter PIN for 'token':"}, true},
		{"unknown question", "Favourite colour? ", Prompt{PromptOther, "Favourite colour?"}, true},
		{"text without a question", "Banner text without newline", Prompt{}, false},
	}
	for _, tt := range tests {
		got, ok := DetectPrompt(tt.tty)
		if ok != tt.ok {
			t.Errorf("%s: ok = %v, want %v", tt.name, ok, tt.ok)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
