#!/usr/bin/python3
"""The bench's paramiko contender: what a user's script would do with
Debian's python3-paramiko.

Usage: paramiko_client.py CONFIG ALIAS OPSFILE
       paramiko_client.py CONFIG ALIAS --probe

It reads the host, port, user, identity file and known_hosts file for
ALIAS from the ssh_config the bench generated, connects with SSHClient
(unknown host keys rejected, no agent, no other keys), opens an
SFTPClient and does the ops of OPSFILE in order, one at a time, with
SFTPClient.put, get and listdir_attr, as documented, default settings.
OPSFILE holds one op a line: "put\\tLOCAL\\tREMOTE", "get\\tREMOTE\\tLOCAL",
"list\\tREMOTE", "puttree\\tLOCAL\\tREMOTE" or "gettree\\tREMOTE\\tLOCAL".
After each op one line goes to stdout: "ok put SIZE", "ok get SIZE", for
a listing "e SIZE NAME" per entry and then "ok list COUNT", for a tree
"ok puttree FILES" or "ok gettree FILES". paramiko has no recursive
transfer: a tree is walked the way a user's script does it (put: os.walk,
mkdir each directory, put each file; get: listdir_attr recursively,
os.makedirs, get each file), REMOTE (put) or LOCAL (get) being the copy's
root, which must not exist yet. The first failure ends the script with a
traceback and status 1. --probe connects, prints paramiko's version and
the algorithms negotiated, and exits.
"""

import os
import posixpath
import stat
import sys

import paramiko


def connect(config_path, alias):
    config = paramiko.SSHConfig.from_path(config_path)
    host = config.lookup(alias)
    client = paramiko.SSHClient()
    client.load_host_keys(os.path.expanduser(host["userknownhostsfile"]))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        host["hostname"],
        port=int(host.get("port", 22)),
        username=host["user"],
        key_filename=host["identityfile"],
        look_for_keys=False,
        allow_agent=False,
    )
    return client


def put_tree(sftp, local, remote):
    """Uploads the tree at local as remote; returns the files copied."""
    files = 0
    for dirpath, _, filenames in os.walk(local):
        rel = os.path.relpath(dirpath, local)
        rdir = remote if rel == "." else posixpath.join(remote, *rel.split(os.sep))
        sftp.mkdir(rdir)
        for name in filenames:
            sftp.put(os.path.join(dirpath, name), posixpath.join(rdir, name))
            files += 1
    return files


def get_tree(sftp, remote, local):
    """Downloads the tree at remote as local; returns the files copied."""
    os.makedirs(local)
    files = 0
    for a in sftp.listdir_attr(remote):
        r, l = posixpath.join(remote, a.filename), os.path.join(local, a.filename)
        if stat.S_ISDIR(a.st_mode):
            files += get_tree(sftp, r, l)
        else:
            sftp.get(r, l)
            files += 1
    return files


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    config_path, alias, ops_path = sys.argv[1:]
    client = connect(config_path, alias)
    if ops_path == "--probe":
        t = client.get_transport()
        print("paramiko %s, cipher %s, mac %s (its own choice: it has no chacha20-poly1305)"
              % (paramiko.__version__, t.local_cipher, t.local_mac))
        client.close()
        return
    sftp = client.open_sftp()
    out = sys.stdout
    with open(ops_path) as ops:
        for line in ops:
            op = line.rstrip("\n").split("\t")
            if op[0] == "put" and len(op) == 3:
                attrs = sftp.put(op[1], op[2])
                out.write("ok put %d\n" % attrs.st_size)
            elif op[0] == "get" and len(op) == 3:
                sftp.get(op[1], op[2])
                out.write("ok get %d\n" % os.stat(op[2]).st_size)
            elif op[0] == "list" and len(op) == 2:
                entries = sftp.listdir_attr(op[1])
                for e in entries:
                    out.write("e %d %s\n" % (e.st_size, e.filename))
                out.write("ok list %d\n" % len(entries))
            elif op[0] == "puttree" and len(op) == 3:
                out.write("ok puttree %d\n" % put_tree(sftp, op[1], op[2]))
            elif op[0] == "gettree" and len(op) == 3:
                out.write("ok gettree %d\n" % get_tree(sftp, op[1], op[2]))
            else:
                sys.exit("bad op line %r" % line)
            out.flush()
    sftp.close()
    client.close()


if __name__ == "__main__":
    main()
