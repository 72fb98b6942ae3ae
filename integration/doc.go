// Package integration holds sftper's end-to-end tests: the sftper binary,
// built once by TestMain, run exactly as a user's script runs it, against a
// real OpenSSH sshd started by integration/sshdtest. Every effect is checked
// on the server's file system directly, not only through sftper.
//
// The tests need the OpenSSH server and client. Without them they skip,
// unless the environment variable CI is non-empty, where they fail.
// SFTPER_TEST_BINARY names a prebuilt sftper to test instead of building one.
//
// This file exists so the directory is a package outside of `go test`
// too; everything else is in _test.go files.
package integration
