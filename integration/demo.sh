#!/usr/bin/env bash
# Demo: bash integration/demo.sh
#
# Installs OpenSSH if missing, builds sftper, starts a throwaway sshd on
# 127.0.0.1 (its own keys and config in a temp dir) and drives one real
# session, printing every request (>>>) and result (<<<).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

bash integration/install-openssh.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/sftper" .
go run ./integration/demo -sftper "$tmp/sftper"
