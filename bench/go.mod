module github.com/sftper/sftper/bench

go 1.24.0

require github.com/sftper/sftper v0.0.0

replace github.com/sftper/sftper => ../
