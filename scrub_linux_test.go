package main

import (
	"bytes"
	"os"
	"os/exec"
	"reflect"
	"testing"
)

func TestEntryValues(t *testing.T) {
	block := []byte("A=1\x00PW=secret\x00PWX=no\x00XPW=no\x00PW=\x00PW=again\x00PW")
	got := entryValues(block, "PW")
	want := [][2]int{{7, 13}, {35, 40}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entryValues = %v, want %v", got, want)
	}
	if string(block[7:13]) != "secret" || string(block[35:40]) != "again" {
		t.Fatalf("spans do not hold the values")
	}
	// A block whose last entry lacks its NUL.
	if got := entryValues([]byte("B=2\x00PW=tail"), "PW"); !reflect.DeepEqual(got, [][2]int{{7, 11}}) {
		t.Errorf("entryValues of an unterminated last entry = %v", got)
	}
	if got := entryValues(nil, "PW"); got != nil {
		t.Errorf("entryValues(nil) = %v", got)
	}
}

// TestScrubEnv runs the test binary again with a password in its
// environment; it scrubs it and reads its own /proc/self/environ.
func TestScrubEnv(t *testing.T) {
	if os.Getenv("SCRUB_TEST_CHILD") != "" {
		pw := os.Getenv("SCRUB_TEST_PW")
		if err := scrubEnv("SCRUB_TEST_PW", pw); err != nil {
			t.Fatal(err)
		}
		if os.Getenv("SCRUB_TEST_PW") != pw {
			t.Fatal("the runtime's copy changed")
		}
		env, err := os.ReadFile("/proc/self/environ")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(env, []byte("hunter2-scrub")) {
			t.Fatalf("environ still holds the value: %q", env)
		}
		if !bytes.Contains(env, []byte("\x00SCRUB_TEST_PW=\x00\x00\x00\x00")) || !bytes.Contains(env, []byte("SCRUB_TEST_CHILD=1\x00")) {
			t.Fatalf("environ is not the block with the value zeroed: %q", env)
		}
		// A value that is not the block's is refused, and nothing written.
		if err := scrubEnv("SCRUB_TEST_CHILD", "2"); err == nil {
			t.Fatal("scrubEnv accepted a value that is not in the block")
		} else if bytes.Contains([]byte(err.Error()), []byte("2")) {
			t.Errorf("error shows the value: %v", err)
		}
		if err := scrubEnv("SCRUB_TEST_ABSENT", "x"); err == nil {
			t.Fatal("scrubEnv found a variable that is not there")
		}
		env, _ = os.ReadFile("/proc/self/environ")
		if !bytes.Contains(env, []byte("SCRUB_TEST_CHILD=1\x00")) {
			t.Fatalf("a refused scrub changed the block: %q", env)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestScrubEnv$", "-test.v")
	cmd.Env = append(os.Environ(), "SCRUB_TEST_CHILD=1", "SCRUB_TEST_PW=hunter2-scrub", "SCRUB_TEST_AFTER=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestScrubEnv")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
