package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoNetPackage: sftper must not import package net. With cgo available,
// net links the C library for its name resolver, which makes sftper a
// dynamic executable and costs every run about 2 MiB of memory, for nothing
// sftper uses (ssh does all the networking).
func TestNoNetPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "net" {
			t.Fatal("sftper depends on package net (see the comment on this test)")
		}
	}
}
