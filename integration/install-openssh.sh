#!/usr/bin/env bash
# Installs the OpenSSH client and server with apt-get, only when missing.
# Used by run-tests.sh and demo.sh. Needs root to install; as any other user
# it only checks, and fails with what to install when something is missing.
set -euo pipefail

missing=()
for prog in ssh sftp ssh-keygen; do
  if ! command -v "$prog" >/dev/null 2>&1; then
    missing+=(openssh-client)
    break
  fi
done
# sshd lives in /usr/sbin, often not in a non-root PATH.
if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
  missing+=(openssh-server)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-openssh.sh: missing ${missing[*]}; install as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-openssh.sh: missing ${missing[*]} and there is no apt-get; install OpenSSH by hand" >&2
  exit 1
fi
echo "install-openssh.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
