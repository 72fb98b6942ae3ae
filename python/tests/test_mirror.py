"""The issue's proof: a paramiko-style mirror script, written once against
paramiko's SFTPClient API, run unchanged with a real paramiko client and
with sftper.connect(...), against the same server; the server's files are
checked after each run."""

import errno
import os
import stat

import pytest

from conftest import missing, write_local


# The script, as a paramiko user writes it. Nothing below knows which
# client it is given.

def remote_rmtree(sftp, path):
    for attr in sftp.listdir_attr(path):
        child = path + "/" + attr.filename
        if stat.S_ISDIR(attr.st_mode):
            remote_rmtree(sftp, child)
        else:
            sftp.remove(child)
    sftp.rmdir(path)


def mirror(sftp, local_root, remote_root):
    """Makes remote_root a copy of the local tree local_root: walks the
    local tree, stats each remote file, puts the changed ones (size or
    mtime differ) and sets their times as the local file's, removes what
    is no longer here. Returns (uploaded, removed), relative paths."""
    uploaded, removed = [], []
    for dirpath, dirnames, filenames in os.walk(local_root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, local_root)
        rdir = remote_root if rel == "." else remote_root + "/" + rel.replace(os.sep, "/")
        try:
            sftp.stat(rdir)
        except IOError as e:
            if e.errno != errno.ENOENT:
                raise
            sftp.mkdir(rdir)
        for name in sorted(filenames):
            lpath = os.path.join(dirpath, name)
            rpath = rdir + "/" + name
            st = os.stat(lpath)
            try:
                ra = sftp.stat(rpath)
                changed = ra.st_size != st.st_size or ra.st_mtime != int(st.st_mtime)
            except IOError as e:
                if e.errno != errno.ENOENT:
                    raise
                changed = True
            if changed:
                sftp.put(lpath, rpath)
                sftp.utime(rpath, (int(st.st_atime), int(st.st_mtime)))
                uploaded.append(os.path.normpath(os.path.join(rel, name)))
        wanted = set(dirnames) | set(filenames)
        for attr in sorted(sftp.listdir_attr(rdir), key=lambda a: a.filename):
            if attr.filename in wanted:
                continue
            rpath = rdir + "/" + attr.filename
            if stat.S_ISDIR(attr.st_mode):
                remote_rmtree(sftp, rpath)
            else:
                sftp.remove(rpath)
            removed.append(os.path.normpath(os.path.join(rel, attr.filename)))
    return uploaded, removed


# The test around it.

OLD = 1500000000  # an mtime long past


def paramiko_client(server):
    """paramiko's SFTPClient on the test server, connected as the bench's
    paramiko contender connects (bench/paramiko_client.py)."""
    try:
        import paramiko
    except ImportError:
        missing("paramiko is not installed (Debian: python3-paramiko)")
    host = paramiko.SSHConfig.from_path(server.ssh_config).lookup(server.alias)
    client = paramiko.SSHClient()
    client.load_host_keys(os.path.expanduser(host["userknownhostsfile"]))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        host["hostname"], port=int(host.get("port", 22)), username=host["user"],
        key_filename=host["identityfile"], look_for_keys=False, allow_agent=False,
    )
    return client, client.open_sftp()


def make_local(root):
    os.makedirs(os.path.join(root, "new dir", "deeper"))
    files = {
        "a new file.txt": b"new",
        "same.txt": b"unchanged",
        "grown.txt": b"grown, so longer than before",
        "touched.txt": b"same size",
        "new dir/deeper/e 'quoted'.txt": b"deep",
        "new dir/f.txt": b"f",
    }
    for rel, data in files.items():
        p = write_local(os.path.join(root, rel), data)
        os.utime(p, (OLD + 7, OLD + 100))
    return files


def make_remote(remote, root):
    remote.mkdir(root)
    remote.mkdir(root + "/stale dir")
    remote.write(root + "/stale dir/x.txt", b"x")
    remote.write(root + "/stale.txt", b"stale")
    remote.write(root + "/same.txt", b"unchanged")
    os.utime(remote.p(root, "same.txt"), (OLD, OLD + 100))
    remote.write(root + "/grown.txt", b"short")
    os.utime(remote.p(root, "grown.txt"), (OLD, OLD + 100))
    remote.write(root + "/touched.txt", b"old  size")
    os.utime(remote.p(root, "touched.txt"), (OLD, OLD + 50))


def snapshot(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = ("dir", stat.S_IMODE(os.stat(p).st_mode))
        for n in files:
            p = os.path.join(d, n)
            st = os.stat(p)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = (f.read(), int(st.st_mtime), stat.S_IMODE(st.st_mode))
    return out


def expected(files):
    # Modes as the server makes them: 0777 and 0666 less its umask (022).
    out = {"new dir": ("dir", 0o755), "new dir/deeper": ("dir", 0o755)}
    for rel, data in files.items():
        out[rel] = (data, OLD + 100, 0o644)
    return out


WANT_UPLOADED = ["a new file.txt", "grown.txt", "touched.txt", "new dir/f.txt", "new dir/deeper/e 'quoted'.txt"]
WANT_REMOVED = ["stale dir", "stale.txt"]


def run_and_check(sftp, local_root, remote, root):
    did = mirror(sftp, local_root, remote.r(root))
    assert did == (WANT_UPLOADED, WANT_REMOVED)
    return did


def test_mirror_with_paramiko_then_sftper(server, connect, remote, local):
    local_root = os.path.join(local, "src")
    files = make_local(local_root)
    want = expected(files)

    make_remote(remote, "by-paramiko")
    client, sftp = paramiko_client(server)
    try:
        assert run_and_check(sftp, local_root, remote, "by-paramiko")
        assert snapshot(remote.p("by-paramiko")) == want
        assert mirror(sftp, local_root, remote.r("by-paramiko")) == ([], [])  # nothing left to do
    finally:
        sftp.close()
        client.close()

    make_remote(remote, "by-sftper")
    with connect() as sftp:  # the only line that differs
        assert run_and_check(sftp, local_root, remote, "by-sftper")
        assert snapshot(remote.p("by-sftper")) == want
        assert mirror(sftp, local_root, remote.r("by-sftper")) == ([], [])

    assert snapshot(remote.p("by-sftper")) == snapshot(remote.p("by-paramiko"))
