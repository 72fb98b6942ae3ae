#!/usr/bin/python3
"""The bench's Python-client contenders: what a paramiko user's script
becomes with ``sftper.connect`` in place of paramiko's SSHClient, using
the package in ../python (standard library only).

Usage: sftper_client.py SFTPER CONFIG ALIAS STYLE OPSFILE [SESSIONS]

SFTPER is the sftper binary, CONFIG the ssh_config the bench generated,
ALIAS its host. STYLE is how the script is written:

  loop  the paramiko script unchanged: one call at a time (put, get,
        listdir_attr), each waiting for its result, as a loop of
        paramiko calls does;
  many  runs of consecutive puts go to put_many and of gets to get_many
        (all their requests sent at once, so sftper pipelines them); a
        listing is listdir_attr.

OPSFILE and what goes to stdout are paramiko_client.py's (see there):
one op a line, "put", "get" or "list"; after each, "ok put SIZE", "ok get
SIZE", or "e SIZE NAME" per entry and "ok list COUNT". A tree is not
taken (the bench gives this client only workloads of files and
listings). The first failure ends the script with a traceback and status
1. SESSIONS, when given, is passed to connect as sessions=N.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import sftper  # noqa: E402  (after the path above)


def read_ops(path):
    ops = []
    with open(path) as f:
        for line in f:
            op = line.rstrip("\n").split("\t")
            if op[0] in ("put", "get") and len(op) == 3:
                ops.append(op)
            elif op[0] == "list" and len(op) == 2:
                ops.append(op)
            else:
                sys.exit("bad op line %r" % line)
    return ops


def listing(sftp, path, out):
    entries = sftp.listdir_attr(path)
    for e in entries:
        out.write("e %d %s\n" % (e.st_size, e.filename))
    out.write("ok list %d\n" % len(entries))


def run_loop(sftp, ops, out):
    for op in ops:
        if op[0] == "put":
            attrs = sftp.put(op[1], op[2])
            out.write("ok put %d\n" % attrs.st_size)
        elif op[0] == "get":
            sftp.get(op[1], op[2])
            out.write("ok get %d\n" % os.stat(op[2]).st_size)
        else:
            listing(sftp, op[1], out)
        out.flush()


def run_many(sftp, ops, out):
    i = 0
    while i < len(ops):
        kind = ops[i][0]
        if kind == "list":
            listing(sftp, ops[i][1], out)
            out.flush()
            i += 1
            continue
        j = i
        while j < len(ops) and ops[j][0] == kind:
            j += 1
        pairs = [(op[1], op[2]) for op in ops[i:j]]
        if kind == "put":
            for attrs in sftp.put_many(pairs):
                out.write("ok put %d\n" % attrs.st_size)
        else:
            sftp.get_many(pairs)
            for _, local in pairs:
                out.write("ok get %d\n" % os.stat(local).st_size)
        out.flush()
        i = j


def main():
    if len(sys.argv) not in (6, 7):
        sys.exit(__doc__)
    binary, config, alias, style, ops_path = sys.argv[1:6]
    sessions = int(sys.argv[6]) if len(sys.argv) == 7 else 1
    if style not in ("loop", "many"):
        sys.exit("STYLE is loop or many, not %r" % style)
    ops = read_ops(ops_path)
    sftp = sftper.connect(alias, "-F", config, binary=binary, sessions=sessions)
    try:
        (run_loop if style == "loop" else run_many)(sftp, ops, sys.stdout)
    finally:
        sftp.close()


if __name__ == "__main__":
    main()
