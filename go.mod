module github.com/sftper/sftper

go 1.24.0

require (
	github.com/creack/pty v1.1.24
	github.com/google/go-cmp v0.7.0
	github.com/google/shlex v0.0.0-20191202100458-e7afc7fbc510
)

require golang.org/x/sys v0.36.0
