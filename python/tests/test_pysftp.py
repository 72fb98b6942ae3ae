"""pysftp's conveniences, with pysftp's meanings."""

import os
import stat

import pytest

import sftper
from conftest import read_local, write_local


def make_local_tree(root):
    os.makedirs(os.path.join(root, "sub", "deeper"))
    write_local(os.path.join(root, "top.txt"), b"top")
    write_local(os.path.join(root, "sub", "mid.txt"), b"mid")
    write_local(os.path.join(root, "sub", "deeper", "low.txt"), b"low")
    os.makedirs(os.path.join(root, "empty"))


def test_put_r(sftp, remote, local):
    tree = os.path.join(local, "tree")
    make_local_tree(tree)
    os.utime(os.path.join(tree, "top.txt"), (1000000000, 1000000000))
    # remotepath is the copy's root: the tree's contents go into it
    assert sftp.put_r(tree, remote.r("dest")) is None
    assert remote.read("dest/top.txt") == b"top"
    assert remote.read("dest/sub/mid.txt") == b"mid"
    assert remote.read("dest/sub/deeper/low.txt") == b"low"
    assert os.path.isdir(remote.p("dest", "empty"))
    # again, into what is there: merged, files replaced
    write_local(os.path.join(tree, "top.txt"), b"top v2")
    sftp.put_r(tree, remote.r("dest"), True, True)
    assert remote.read("dest/top.txt") == b"top v2"
    assert int(os.stat(remote.p("dest", "top.txt")).st_mtime) == int(os.stat(os.path.join(tree, "top.txt")).st_mtime)


def make_remote_tree(remote):
    remote.mkdir("pub")
    remote.mkdir("pub/foo1")
    remote.mkdir("pub/foo2")
    remote.mkdir("pub/foo2/bar1")
    remote.write("read.me", b"readme")
    remote.write("pub/make.txt", b"make")
    remote.write("pub/foo1/foo1.txt", b"foo1")
    remote.write("pub/foo2/foo2.txt", b"foo2")
    remote.write("pub/foo2/bar1/bar1.txt", b"bar1")


def listing(root):
    out = []
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        out += [os.path.normpath(os.path.join(rel, n)) for n in dirs + files]
    return sorted(out)


def test_get_r_as_pysftp(sftp, remote, local):
    """pysftp's own tests' expectations (tests/test_get_r.py): the remote
    directory's path as given is made again under localdir."""
    make_remote_tree(remote)
    sftp.chdir(remote.rel)
    d1 = os.path.join(local, "1")
    os.mkdir(d1)
    sftp.get_r(".", d1)
    assert listing(d1) == [
        "pub", "pub/foo1", "pub/foo1/foo1.txt", "pub/foo2", "pub/foo2/bar1",
        "pub/foo2/bar1/bar1.txt", "pub/foo2/foo2.txt", "pub/make.txt", "read.me"]
    assert read_local(os.path.join(d1, "pub/foo2/bar1/bar1.txt")) == b"bar1"
    d2 = os.path.join(local, "2")
    os.mkdir(d2)
    sftp.get_r("pub/foo2", d2)
    assert listing(d2) == ["pub", "pub/foo2", "pub/foo2/bar1", "pub/foo2/bar1/bar1.txt", "pub/foo2/foo2.txt"]
    d3 = os.path.join(local, "3")
    os.mkdir(d3)
    sftp.chdir("pub/foo2")
    sftp.get_r("./bar1", d3)
    assert listing(d3) == ["bar1", "bar1/bar1.txt"]
    d4 = os.path.join(local, "4")
    os.mkdir(d4)
    sftp.get_r(".", d4, preserve_mtime=True)
    assert listing(d4) == ["bar1", "bar1/bar1.txt", "foo2.txt"]
    # an absolute remotedir lands under localdir too
    d5 = os.path.join(local, "5")
    os.mkdir(d5)
    sftp.get_r(remote.p("pub", "foo1"), d5)
    assert read_local(d5 + remote.p("pub", "foo1", "foo1.txt")) == b"foo1"


def test_makedirs(sftp, remote):
    sftp.makedirs(remote.r("a", "b", "c"))
    assert os.path.isdir(remote.p("a", "b", "c"))
    assert stat.S_IMODE(os.stat(remote.p("a")).st_mode) == 0o755  # the server's default
    sftp.makedirs(remote.r("a", "b", "c"))  # there already: nothing
    sftp.makedirs(remote.r("a", "x", "y"), 0o700)  # each one made gets the mode
    assert stat.S_IMODE(os.stat(remote.p("a", "x")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(remote.p("a", "x", "y")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(remote.p("a")).st_mode) == 0o755  # was there
    remote.write("file")
    with pytest.raises(OSError):
        sftp.makedirs(remote.r("file"))
    with pytest.raises(OSError):
        sftp.makedirs(remote.r("file", "below"))


def test_exists_lexists_isdir_isfile(sftp, remote):
    remote.write("f")
    remote.mkdir("d")
    remote.symlink("f", "lf")
    remote.symlink("d", "ld")
    remote.symlink("nowhere", "dangling")
    remote.mkdir("locked", 0o000, owner=False)
    r = remote.r
    assert [sftp.exists(r(n)) for n in ("f", "d", "lf", "dangling", "nope")] == [True, True, True, False, False]
    assert [sftp.lexists(r(n)) for n in ("f", "dangling", "nope")] == [True, True, False]
    assert [sftp.isdir(r(n)) for n in ("f", "d", "lf", "ld", "dangling", "nope")] == [False, True, False, True, False, False]
    assert [sftp.isfile(r(n)) for n in ("f", "d", "lf", "ld", "dangling", "nope")] == [True, False, True, False, False, False]
    # a permission error is False too, as with pysftp
    assert sftp.exists(r("locked", "inside")) is False


def test_exists_does_not_hide_a_dead_sftper(sftp, remote):
    sftp._proc._proc.kill()
    with pytest.raises(sftper.SftperDied):
        sftp.exists(remote.rel)


def test_walktree(sftp, remote):
    make_remote_tree(remote)
    remote.symlink("pub/foo1", "linkdir")
    remote.symlink("read.me", "linkfile")
    remote.symlink("nowhere", "dangling")
    os.mkfifo(remote.p("fifo"))
    files, dirs, unknown = [], [], []
    sftp.walktree(remote.rel, files.append, dirs.append, unknown.append)
    r = remote.r
    assert dirs == [r("linkdir"), r("pub"), r("pub/foo1"), r("pub/foo2"), r("pub/foo2/bar1")]
    assert files == [r("linkdir/foo1.txt"), r("linkfile"), r("pub/foo1/foo1.txt"), r("pub/foo2/bar1/bar1.txt"),
                     r("pub/foo2/foo2.txt"), r("pub/make.txt"), r("read.me")]
    assert unknown == [r("dangling"), r("fifo")]
    files, dirs, unknown = [], [], []
    sftp.walktree(remote.rel, files.append, dirs.append, unknown.append, recurse=False)
    assert dirs == [r("linkdir"), r("pub")]
    assert files == [r("linkfile"), r("read.me")]
