"""Every SFTPClient method against the real server, in both modes, each
effect checked on the server's disk."""

import io
import os
import stat
import time

import pytest

import sftper
from conftest import read_local, write_local


def test_hello_and_mode(sftp, mode):
    assert sftp.hello["protocol"] == 1
    assert sftp.hello["mode"] == mode
    assert sftp.mode == mode
    assert "PUT" in sftp.hello["commands"]


def test_put(sftp, remote, local):
    src = write_local(os.path.join(local, "a.txt"), b"hello put\n", 0o640)
    attrs = sftp.put(src, remote.r("a.txt"))
    assert isinstance(attrs, sftper.SFTPAttributes)
    assert attrs.st_size == 10
    assert stat.S_ISREG(attrs.st_mode)
    assert remote.read("a.txt") == b"hello put\n"
    # confirm=False: an empty attributes object, as paramiko's
    attrs = sftp.put(src, remote.r("b.txt"), confirm=False)
    assert attrs.st_size is None and attrs.st_mode is None
    assert remote.read("b.txt") == b"hello put\n"


def test_put_replaces_and_keeps_mode(sftp, remote, local):
    remote.write("a", b"old old old", 0o600)
    src = write_local(os.path.join(local, "a"), b"new", 0o644)
    sftp.put(src, remote.r("a"))
    assert remote.read("a") == b"new"
    assert stat.S_IMODE(os.stat(remote.p("a")).st_mode) == 0o600


def test_put_relative_local_path_follows_chdir(sftp, remote, local, monkeypatch):
    write_local(os.path.join(local, "rel.txt"), b"relative")
    monkeypatch.chdir(local)
    sftp.put("rel.txt", remote.r("rel.txt"))
    assert remote.read("rel.txt") == b"relative"


def test_put_preserve_mtime(sftp, remote, local):
    src = write_local(os.path.join(local, "t"), b"times", 0o604)
    os.utime(src, (1000000000, 1200000000))
    attrs = sftp.put(src, remote.r("t"), preserve_mtime=True)
    assert attrs.st_mtime == 1200000000
    st = os.stat(remote.p("t"))
    assert (int(st.st_atime), int(st.st_mtime)) == (1000000000, 1200000000)


def test_put_into_a_directory(sftp, remote, local):
    """paramiko cannot open a directory as the file; sftper's PUT stores
    the file inside it, and confirm says so."""
    remote.mkdir("d")
    src = write_local(os.path.join(local, "a.txt"), b"a")
    with pytest.raises(IsADirectoryError) as e:
        sftp.put(src, remote.r("d"))
    assert e.value.kind == "is_a_directory" and "inside" in str(e.value)
    assert remote.read("d/a.txt") == b"a"
    results = sftp.put_many([(src, remote.r("d"))], return_exceptions=True)
    assert isinstance(results[0], IsADirectoryError)


def test_putfo(sftp, remote):
    seen = []
    attrs = sftp.putfo(io.BytesIO(b"from a file object"), remote.r("fo"), 18, lambda a, b: seen.append((a, b)))
    assert attrs.st_size == 18
    assert remote.read("fo") == b"from a file object"
    assert seen[-1] == (18, 18)


def test_get(sftp, remote, local):
    remote.write("g.bin", bytes(range(256)) * 10)
    dest = os.path.join(local, "g.bin")
    assert sftp.get(remote.r("g.bin"), dest) is None
    assert read_local(dest) == bytes(range(256)) * 10
    # replaces an existing local file
    write_local(dest, b"old")
    sftp.get(remote.r("g.bin"), dest, None, False)
    assert read_local(dest) == bytes(range(256)) * 10


def test_get_preserve_mtime(sftp, remote, local):
    path = remote.write("t", b"x")
    os.utime(path, (1000000001, 1100000001))
    dest = os.path.join(local, "t")
    sftp.get(remote.r("t"), dest, preserve_mtime=True)
    assert int(os.stat(dest).st_mtime) == 1100000001


def test_getfo(sftp, remote):
    remote.write("fo", b"into a file object")
    buf = io.BytesIO()
    assert sftp.getfo(remote.r("fo"), buf) == 18
    assert buf.getvalue() == b"into a file object"


def test_listdir_and_listdir_attr(sftp, remote):
    remote.write("f", b"12345", 0o640)
    remote.mkdir("d")
    remote.symlink("f", "l")
    remote.write(".hidden")
    assert sftp.listdir(remote.rel) == [".hidden", "d", "f", "l"]
    attrs = {a.filename: a for a in sftp.listdir_attr(remote.rel)}
    assert set(attrs) == {".hidden", "d", "f", "l"}
    f = attrs["f"]
    st = os.stat(remote.p("f"))
    assert (f.st_size, f.st_mode, f.st_mtime, f.st_atime, f.st_uid, f.st_gid) == (
        5, st.st_mode, int(st.st_mtime), int(st.st_atime), st.st_uid, st.st_gid)
    assert stat.S_ISDIR(attrs["d"].st_mode)
    assert stat.S_ISLNK(attrs["l"].st_mode)  # listed as itself
    assert f.longname.startswith("-rw-r-----") and f.longname.endswith(" f")
    assert [a.filename for a in sftp.listdir_iter(remote.rel)] == [".hidden", "d", "f", "l"]


def test_listdir_default_is_starting_directory(sftp, remote):
    assert remote.rel in sftp.listdir()
    sftp.chdir(remote.rel)
    remote.write("only")
    assert sftp.listdir() == ["only"]


def test_stat_and_lstat(sftp, remote):
    remote.write("f", b"abc", 0o600)
    remote.symlink("f", "l")
    a = sftp.stat(remote.r("l"))
    assert stat.S_ISREG(a.st_mode) and a.st_size == 3 and stat.S_IMODE(a.st_mode) == 0o600
    b = sftp.lstat(remote.r("l"))
    assert stat.S_ISLNK(b.st_mode)
    assert "size=3" in repr(a)
    assert not hasattr(a, "filename")  # as paramiko: only listings name entries


def test_remove_and_unlink(sftp, remote):
    remote.write("a")
    remote.write("b")
    remote.symlink("a", "l")
    assert sftp.remove(remote.r("a")) is None
    sftp.unlink(remote.r("b"))
    sftp.remove(remote.r("l"))  # the link, not its target
    assert os.listdir(remote.abs) == []


def test_rename(sftp, remote):
    remote.write("a", b"A")
    sftp.rename(remote.r("a"), remote.r("b"))
    assert os.listdir(remote.abs) == ["b"]
    remote.write("c", b"C")
    with pytest.raises(FileExistsError) as e:
        sftp.rename(remote.r("b"), remote.r("c"))
    assert isinstance(e.value, IOError)
    assert e.value.kind == "already_exists"
    assert remote.read("b") == b"A" and remote.read("c") == b"C"
    with pytest.raises(FileExistsError):
        sftp.rename(remote.r("b"), remote.r("b"))
    with pytest.raises(FileNotFoundError):
        sftp.rename(remote.r("nope"), remote.r("nope"))


def test_posix_rename(sftp, remote):
    remote.write("a", b"A")
    remote.write("c", b"C")
    sftp.posix_rename(remote.r("a"), remote.r("c"))
    assert os.listdir(remote.abs) == ["c"]
    assert remote.read("c") == b"A"
    sftp.posix_rename(remote.r("c"), remote.r("c"))  # onto itself: nothing
    assert remote.read("c") == b"A"
    with pytest.raises(FileNotFoundError):
        sftp.posix_rename(remote.r("a"), remote.r("x"))


def test_mkdir(sftp, remote):
    sftp.mkdir(remote.r("d"))
    st = os.stat(remote.p("d"))
    assert stat.S_ISDIR(st.st_mode)
    # The default mode leaves it to the server: 0777 less its umask (022
    # here), as with paramiko.
    assert stat.S_IMODE(st.st_mode) == 0o755
    sftp.mkdir(remote.r("e"), 0o700)
    assert stat.S_IMODE(os.stat(remote.p("e")).st_mode) == 0o700
    # A whole st_mode is accepted: its permission bits are used.
    sftp.mkdir(remote.r("f"), stat.S_IFDIR | 0o750)
    assert stat.S_IMODE(os.stat(remote.p("f")).st_mode) == 0o750


def test_rmdir(sftp, remote):
    remote.mkdir("d")
    sftp.rmdir(remote.r("d"))
    assert os.listdir(remote.abs) == []


def test_chmod(sftp, remote):
    remote.write("f", b"", 0o644)
    sftp.chmod(remote.r("f"), 0o600)
    assert stat.S_IMODE(os.stat(remote.p("f")).st_mode) == 0o600
    sftp.chmod(remote.r("f"), os.stat(remote.p("f")).st_mode | 0o044)  # as st_mode
    assert stat.S_IMODE(os.stat(remote.p("f")).st_mode) == 0o644


def test_utime(sftp, remote):
    remote.write("f")
    sftp.utime(remote.r("f"), (1000000000, 1500000000.9))
    st = os.stat(remote.p("f"))
    assert (int(st.st_atime), int(st.st_mtime)) == (1000000000, 1500000000)
    before = int(time.time())
    sftp.utime(remote.r("f"), None)
    st = os.stat(remote.p("f"))
    assert before - 1 <= st.st_mtime <= time.time() + 1
    assert before - 1 <= st.st_atime <= time.time() + 1


def test_symlink_and_readlink(sftp, remote):
    remote.write("target", b"T")
    sftp.symlink("target", remote.r("l"))
    assert os.readlink(remote.p("l")) == "target"
    assert sftp.readlink(remote.r("l")) == "target"
    sftp.symlink("../nowhere/at all", remote.r("dangling"))  # stored exactly
    assert sftp.readlink(remote.r("dangling")) == "../nowhere/at all"


def test_normalize(sftp, remote, server):
    assert sftp.normalize(".") == os.path.realpath(server.home)
    remote.mkdir("d")
    assert sftp.normalize(remote.r("d", "..", "d")) == os.path.realpath(remote.p("d"))


def test_chdir_and_getcwd(sftp, remote):
    remote.mkdir("d")
    remote.write("d/f", b"in d")
    assert sftp.getcwd() is None
    sftp.chdir(remote.r("d"))
    assert sftp.getcwd() == os.path.realpath(remote.p("d"))
    assert sftp.listdir() == ["f"]
    assert sftp.stat("f").st_size == 4
    sftp.mkdir("sub")
    assert os.path.isdir(remote.p("d", "sub"))
    sftp.chdir("sub")  # relative to the emulated directory
    assert sftp.getcwd() == os.path.realpath(remote.p("d", "sub"))
    sftp.chdir("/")
    assert sftp.getcwd() == "/"
    assert sftp.stat(remote.p("d", "f")[1:]).st_size == 4  # "/" + relative
    sftp.chdir(None)
    assert sftp.getcwd() is None
    with pytest.raises(NotADirectoryError) as e:
        sftp.chdir(remote.r("d", "f"))
    assert e.value.errno == 20 and e.value.kind == "not_a_directory"
    with pytest.raises(FileNotFoundError):
        sftp.chdir(remote.r("missing"))


def test_get_channel(sftp):
    assert sftp.get_channel() is None


def test_context_manager_and_close(connect, remote):
    with connect() as c:
        assert c.listdir(remote.rel) == []
    with pytest.raises(sftper.SftperError) as e:
        c.listdir(remote.rel)
    assert not isinstance(e.value, sftper.SftperDied)
    assert "closed" in str(e.value)
    c.close()  # twice: nothing


def test_close_stops_sftper(sftp):
    proc = sftp._proc._proc
    sftp.close()
    assert proc.poll() == 0
