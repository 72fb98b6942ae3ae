#!/usr/bin/env bash
# The benchmark in one command, on a fresh Debian or Ubuntu machine:
#
#   bash bench/run.sh            # the full run: every workload, every contender, -runs 5
#   bash bench/run.sh -smoke     # tiny sizes, one round: checks the plumbing in seconds
#
# Installs what is missing with apt-get (root only): the OpenSSH client and
# server, through integration/install-openssh.sh, and Debian's
# python3-paramiko for the paramiko contender. Then runs `go run .` in this
# directory with the arguments given (see README.md for the flags).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "run.sh: no go in PATH (nor /usr/local/go/bin); install Go 1.24 or later" >&2
  exit 1
fi

bash ../integration/install-openssh.sh

# Debian's package installs for Debian's python3 (/usr/bin/python3), which
# a python3 earlier in PATH (pyenv, a venv) would not see; the bench looks
# there first.
if ! /usr/bin/python3 -c 'import paramiko' >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "run.sh: Debian's python3-paramiko is missing; install it as root: apt-get install -y python3-paramiko" >&2
    exit 1
  fi
  echo "run.sh: installing python3-paramiko"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends python3-paramiko </dev/null
fi

exec go run . "$@"
