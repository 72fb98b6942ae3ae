#!/usr/bin/env bash
# Installs the OpenSSH client and server with apt-get, only when missing,
# ProFTPD with its mod_sftp (proftpd-core, proftpd-mod-crypto), a second
# kind of SSH server that the integration tests start on their own, and
# gesftpserver, an SFTP server they run as sshd's subsystem.
# Used by run-tests.sh and demo.sh. Needs root to install; as any other user
# it only checks, and fails with what to install when something is missing.
set -euo pipefail

missing=()
proftpd=() # the part of missing that is ProFTPD's
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

# proftpd lives in /usr/sbin too; mod_sftp is a module of its own package.
if ! command -v proftpd >/dev/null 2>&1 && [ ! -x /usr/sbin/proftpd ]; then
  proftpd+=(proftpd-core)
fi
if [ ! -e /usr/lib/proftpd/mod_sftp.so ] && ! { proftpd -l 2>/dev/null || /usr/sbin/proftpd -l 2>/dev/null; } | grep -q 'mod_sftp\.c'; then
  proftpd+=(proftpd-mod-crypto)
fi
missing+=("${proftpd[@]}")
# gesftpserver: a third SFTP server, run as sshd's subsystem by the tests.
if [ ! -x /usr/libexec/gesftpserver ]; then
  missing+=(gesftpserver)
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
openssh=()
for p in "${missing[@]}"; do
  case "$p" in openssh-* | gesftpserver) openssh+=("$p") ;; esac
done
if [ ${#openssh[@]} -gt 0 ]; then
  apt-get install -y -q --no-install-recommends "${openssh[@]}" </dev/null
fi
if [ ${#proftpd[@]} -eq 0 ]; then
  exit 0
fi
# Debian's proftpd-core starts a system FTP daemon on port 21 when it is
# installed. The tests start ProFTPD servers of their own and need none: a
# policy-rc.d that answers 101 ("action forbidden") keeps invoke-rc.d from
# starting it. One already there (as in Docker images) is left alone; ours
# is removed again, however the install ends.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  trap 'rm -f "$policy"' EXIT
  printf '#!/bin/sh\n# written by install-openssh.sh for the length of its install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
fi
apt-get install -y -q --no-install-recommends "${proftpd[@]}" </dev/null
