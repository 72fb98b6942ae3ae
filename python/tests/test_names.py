"""Awkward names: every character sftp's command line could trip on, and
names that are not UTF-8 (surrogate escapes, PEP 383) both ways."""

import os

import pytest

from conftest import read_local, write_local

AWKWARD = [
    "with space",
    "  leading and trailing  ",
    "\"double\" and 'single' quotes",
    "back\\slash \\1 \\n \\\\",
    "$(not run) `nor this` ;#!*?[]{}~ & | < >",
    "-leading-dash",
    "tab\there",
    "ünïcødé ✓ 名前",
    "%s %d %%",
]


@pytest.mark.parametrize("name", AWKWARD)
def test_awkward_name_round_trip(sftp, remote, local, name):
    data = ("contents of %r" % name).encode()
    src = write_local(os.path.join(local, name), data)
    attrs = sftp.put(src, remote.r(name))
    assert attrs.st_size == len(data)
    assert os.listdir(remote.abs) == [name]
    assert remote.read(name) == data
    assert sftp.listdir(remote.rel) == [name]
    assert sftp.stat(remote.r(name)).st_size == len(data)
    back = os.path.join(local, "back " + name)
    sftp.get(remote.r(name), back)
    assert read_local(back) == data
    sftp.rename(remote.r(name), remote.r(name + ".2"))
    sftp.symlink(name + ".2", remote.r(name))
    assert sftp.readlink(remote.r(name)) == name + ".2"
    sftp.remove(remote.r(name))
    sftp.remove(remote.r(name + ".2"))
    assert os.listdir(remote.abs) == []
    sftp.mkdir(remote.r(name))
    sftp.chmod(remote.r(name), 0o700)
    sftp.rmdir(remote.r(name))
    assert os.listdir(remote.abs) == []


def test_newline_names(sftp, remote, local):
    """Commands sftper carries out on its own SFTP channel take any name;
    put, get and remove go through sftp's command line and refuse one with
    a newline (ValueError, nothing sent)."""
    name = "new\nline\r\n"
    remote.write(name, b"nl")
    assert sftp.listdir(remote.rel) == [name]
    assert sftp.stat(remote.r(name)).st_size == 2
    sftp.chmod(remote.r(name), 0o600)
    sftp.utime(remote.r(name), (1, 2))
    assert int(os.stat(remote.p(name)).st_mtime) == 2
    sftp.rename(remote.r(name), remote.r("other\nname"))
    sftp.symlink("other\nname", remote.r("link\n"))
    assert sftp.readlink(remote.r("link\n")) == "other\nname"
    sftp.mkdir(remote.r("dir\n"))
    sftp.rmdir(remote.r("dir\n"))
    assert sorted(os.listdir(remote.abs)) == ["link\n", "other\nname"]
    sent = sftp._proc._next_id
    with pytest.raises(ValueError):
        sftp.get(remote.r("other\nname"), os.path.join(local, "x"))
    with pytest.raises(ValueError):
        sftp.remove(remote.r("other\nname"))
    with pytest.raises(ValueError):
        sftp.put(write_local(os.path.join(local, "src")), remote.r("x\ny"))
    assert sftp._proc._next_id == sent
    # posix_rename to an ordinary name makes it removable.
    sftp.posix_rename(remote.r("other\nname"), remote.r("plain"))
    sftp.remove(remote.r("plain"))


def test_not_utf8_from_the_server(sftp, remote, local):
    raw = b"caf\xe9 \xff\xfe"
    with open(remote.p(raw), "wb") as f:
        f.write(b"latin-1")
    remote.server.give(remote.p(raw))
    names = sftp.listdir(remote.rel)
    assert names == ["caf\udce9 \udcff\udcfe"]
    name = names[0]
    assert os.fsencode(name) == raw
    assert sftp.stat(remote.r(name)).st_size == 7
    dest = os.path.join(local, name)
    sftp.get(remote.r(name), dest)
    assert os.listdir(os.fsencode(local)) == [raw]
    assert read_local(dest) == b"latin-1"
    # the str works as a path argument of every kind
    sftp.rename(remote.r(name), remote.r(name + "2"))
    sftp.symlink(name + "2", remote.r(name))
    assert sftp.readlink(remote.r(name)) == name + "2"
    assert os.readlink(remote.p(raw)) == raw + b"2"
    sftp.remove(remote.r(name))
    sftp.remove(remote.r(name + "2"))
    assert os.listdir(remote.abs) == []


def test_not_utf8_to_the_server(sftp, remote, local):
    raw = b"\xff\xfe latin \xe9"
    name = os.fsdecode(raw)
    with open(os.path.join(os.fsencode(local), raw), "wb") as f:
        f.write(b"up")
    sftp.put(os.path.join(local, name), remote.r(name))
    assert os.listdir(os.fsencode(remote.abs)) == [raw]
    sftp.mkdir(remote.r(name + " dir"))
    assert os.path.isdir(remote.p(raw + b" dir"))
    # bytes paths are taken too, as paramiko takes them
    assert sftp.stat(os.fsencode(remote.r(name))).st_size == 2
    sftp.put_many([(os.path.join(local, name), remote.r(name + " many"))])
    assert os.path.exists(remote.p(raw + b" many"))
