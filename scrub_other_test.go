//go:build !linux

package main

import (
	"strings"
	"testing"
)

// Where the environment block cannot be overwritten, scrubEnv says so
// (main prints it), and says where the value stays visible.
func TestScrubEnvRefuses(t *testing.T) {
	if err := scrubEnv("SFTPER_PASSWORD", "s3cret"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("scrubEnv: %v; want an error that does not show the value", err)
	}
	if where := environShown(42); !strings.Contains(where, "42") {
		t.Errorf("environShown(42) = %q", where)
	}
}
