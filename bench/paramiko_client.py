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
OPSFILE holds one op a line: "put\\tLOCAL\\tREMOTE", "get\\tREMOTE\\tLOCAL"
or "list\\tREMOTE". After each op one line goes to stdout: "ok put SIZE",
"ok get SIZE", or for a listing "e SIZE NAME" per entry and then
"ok list COUNT". The first failure ends the script with a traceback and
status 1. --probe connects, prints paramiko's version and the algorithms
negotiated, and exits.
"""

import os
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
            else:
                sys.exit("bad op line %r" % line)
            out.flush()
    sftp.close()
    client.close()


if __name__ == "__main__":
    main()
