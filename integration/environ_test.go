package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"testing"

	"github.com/sftper/sftper/integration/client"
)

// TestPasswordNotInEnviron: a password given in SFTPER_PASSWORD is gone
// from sftper's /proc/PID/environ, which shows the environment sftper was
// started with, while it runs. (The server takes the test's key; the
// password is never used.)
func TestPasswordNotInEnviron(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		var rnd [12]byte
		rand.Read(rnd[:])
		secret := "pw-" + hex.EncodeToString(rnd[:])
		s := start(t, runOpts{mode: m, framing: client.Text, env: []string{
			"SFTPER_PASSWORD=" + secret, "SFTPER_TEST_MARK=present",
		}}, defaultArgs()...)
		s.must("ok", listdir("."))
		env, err := os.ReadFile("/proc/" + strconv.Itoa(s.p.Pid()) + "/environ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(env, []byte("\x00SFTPER_TEST_MARK=present\x00")) {
			t.Fatalf("/proc/%d/environ does not show the environment sftper was started with", s.p.Pid())
		}
		if bytes.Contains(env, []byte(secret)) {
			t.Errorf("/proc/%d/environ still shows the value of SFTPER_PASSWORD", s.p.Pid())
		}
		if bytes.Contains([]byte(s.p.Stderr()), []byte(secret)) {
			t.Errorf("stderr shows the password")
		}
		s.finish()
		if bytes.Contains([]byte(s.p.Stderr()), []byte("environ")) {
			t.Errorf("stderr says the password could not be removed from the environment:\n%s", s.p.Stderr())
		}
	})
}
