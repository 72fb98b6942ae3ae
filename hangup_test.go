package main

import (
	"os"
	"testing"
	"time"
)

// readerGone notices the reader of a pipe going, at once, without a write.
func TestReaderGone(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	gone := readerGone(w, t.Logf)
	select {
	case <-gone:
		t.Fatal("gone while the reader is there")
	case <-time.After(100 * time.Millisecond):
	}
	r.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("not gone 5 s after the reader closed")
	}
}

// A regular file has no reader to lose: never gone.
func TestReaderGoneFile(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	select {
	case <-readerGone(f, t.Logf):
		t.Fatal("gone for a regular file")
	case <-time.After(100 * time.Millisecond):
	}
}
