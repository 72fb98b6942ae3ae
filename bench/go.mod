module github.com/sftper/sftper/bench

go 1.24.0

require (
	github.com/pkg/sftp v1.13.10
	github.com/sftper/sftper v0.0.0
)

require (
	github.com/kr/fs v0.1.0 // indirect
	golang.org/x/crypto v0.41.0 // indirect
	golang.org/x/sys v0.36.0 // indirect
)

replace github.com/sftper/sftper => ../
