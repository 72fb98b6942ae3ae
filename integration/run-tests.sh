#!/usr/bin/env bash
# The project's full test command: bash integration/run-tests.sh
#
# Installs the OpenSSH client and server when missing (root only), checks
# gofmt and go vet, then runs every test with the race detector from the
# repository root, then the Python client's tests (python/tests). The
# integration tests skip when OpenSSH is missing, except when CI is set
# (non-empty): then they fail. CI is passed through as found, never set
# here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "run-tests.sh: no go in PATH (nor /usr/local/go/bin); install Go 1.24 or later" >&2
  exit 1
fi

echo "== OpenSSH"
bash integration/install-openssh.sh

# -race needs cgo, so a C compiler; a fresh machine may lack one.
if ! command -v "$(go env CC)" >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing a C compiler for -race"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends gcc libc6-dev </dev/null
  else
    echo "run-tests.sh: go test -race needs a C compiler ($(go env CC)); install gcc" >&2
    exit 1
  fi
fi

echo "== gofmt"
# Package directories only: testdata holds recorded transcripts, not code.
unformatted=$(gofmt -l $(go list -f '{{.Dir}}' ./...))
if [ -n "$unformatted" ]; then
  echo "gofmt -l lists files that need formatting:" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "== go vet"
go vet ./...

# sftper runs where sysadmins' scripts do: macOS and FreeBSD as well as
# Linux (README: Platforms). The tests run on Linux only; every other
# platform is built and vetted here, tests included, so that a call one of
# them lacks cannot land.
echo "== go vet and go build for other platforms"
for target in darwin/arm64 darwin/amd64 freebsd/amd64 linux/arm64; do
  echo "-- $target"
  GOOS=${target%/*} GOARCH=${target#*/} go vet ./...
  GOOS=${target%/*} GOARCH=${target#*/} go build -o /dev/null .
done

echo "== bench smoke (its own module: gofmt, vet, then one tiny run of every workload and contender)"
unformatted=$(gofmt -l bench)
if [ -n "$unformatted" ]; then
  echo "gofmt -l lists bench files that need formatting:" >&2
  echo "$unformatted" >&2
  exit 1
fi
(cd bench && go vet ./...)
# run.sh installs what the contenders need (python3-paramiko) when missing.
bash bench/run.sh -smoke

echo "== go test -race (CI=${CI:-})"
go test -race -count=1 ./...

# The Python client's tests run with Debian's python3 (a python3 earlier in
# PATH, pyenv or a venv, would not see Debian's packages), against the same
# real sshd; pytest and, for the mirror script, paramiko are installed when
# missing.
echo "== python tests (CI=${CI:-})"
pypkgs=()
if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import pytest' >/dev/null 2>&1; then
  pypkgs+=(python3-pytest)
fi
if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import paramiko' >/dev/null 2>&1; then
  pypkgs+=(python3-paramiko)
fi
if [ ${#pypkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "run-tests.sh: missing ${pypkgs[*]}; install as root: apt-get install -y ${pypkgs[*]}" >&2
    exit 1
  fi
  echo "== installing ${pypkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${pypkgs[@]}" </dev/null
fi
/usr/bin/python3 -m pytest -q python/tests
