"""Every exception type, as paramiko raises it: the OSError subclass of
the errno, sftper's message as the text, e.kind; bad arguments refused
before anything is sent."""

import errno
import os

import pytest

import sftper
from sftper import _errors
from conftest import write_local


def expect(exc_type, kind, err, fn, *args, **kwargs):
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    e = info.value
    assert type(e) is exc_type, (type(e), e)
    assert isinstance(e, IOError)  # what paramiko users catch
    assert e.kind == kind, str(e)
    assert e.errno == err, str(e)
    return e


def test_no_such_file(sftp, remote, local):
    e = expect(FileNotFoundError, "no_such_file", errno.ENOENT, sftp.stat, remote.r("nope"))
    assert "No such file" in e.strerror and "nope" in e.strerror
    expect(FileNotFoundError, "no_such_file", errno.ENOENT, sftp.lstat, remote.r("nope"))
    expect(FileNotFoundError, "no_such_file", errno.ENOENT, sftp.listdir, remote.r("nope"))
    expect(FileNotFoundError, "no_such_file", errno.ENOENT, sftp.remove, remote.r("nope"))
    expect(FileNotFoundError, "no_such_file", errno.ENOENT, sftp.get, remote.r("nope"), os.path.join(local, "x"))
    src = write_local(os.path.join(local, "src"), b"s")
    e = expect(FileNotFoundError, "no_such_file", errno.ENOENT, sftp.put, src, remote.r("nodir", "x"))
    assert e.data["remote"] == "unchanged"
    assert not os.path.exists(os.path.join(local, "x"))
    assert os.listdir(local) == ["src"]


def test_permission_denied(sftp, remote, local):
    # Owned by root (as root) or without write permission: the login
    # account may not write there either way.
    ro = remote.mkdir("ro", 0o555, owner=False)
    remote.write("secret", b"s", 0o000, owner=False)
    remote.mkdir("noread", 0o311, owner=False)
    src = write_local(os.path.join(local, "src"), b"s")
    e = expect(PermissionError, "permission_denied", errno.EACCES, sftp.put, src, remote.r("ro", "x"))
    assert e.data["remote"] == "unchanged" and os.listdir(ro) == []
    expect(PermissionError, "permission_denied", errno.EACCES, sftp.get, remote.r("secret"), os.path.join(local, "s"))
    expect(PermissionError, "permission_denied", errno.EACCES, sftp.listdir, remote.r("noread"))
    expect(PermissionError, "permission_denied", errno.EACCES, sftp.mkdir, remote.r("ro", "d"))
    if os.geteuid() == 0:  # only root can make a file the login account does not own
        assert "Permission denied" in str(
            expect(PermissionError, "permission_denied", errno.EACCES, sftp.chmod, remote.r("secret"), 0o644))


def test_not_a_directory(sftp, remote):
    remote.write("f")
    expect(NotADirectoryError, "not_a_directory", errno.ENOTDIR, sftp.listdir, remote.r("f"))
    expect(NotADirectoryError, "not_a_directory", errno.ENOTDIR, sftp.rmdir, remote.r("f"))


def test_is_a_directory(sftp, remote, local):
    remote.mkdir("d")
    expect(IsADirectoryError, "is_a_directory", errno.EISDIR, sftp.get, remote.r("d"), os.path.join(local, "d"))
    assert os.listdir(local) == []


def test_already_exists(sftp, remote):
    remote.mkdir("d")
    remote.write("f")
    expect(FileExistsError, "already_exists", errno.EEXIST, sftp.mkdir, remote.r("d"))
    expect(FileExistsError, "already_exists", errno.EEXIST, sftp.symlink, "x", remote.r("f"))
    expect(FileExistsError, "already_exists", errno.EEXIST, sftp.rename, remote.r("f"), remote.r("d"))
    expect(FileExistsError, "already_exists", errno.EEXIST, sftp.makedirs, remote.r("f"))


def test_not_empty(sftp, remote):
    remote.mkdir("d")
    remote.write("d/f")
    e = expect(OSError, "not_empty", errno.ENOTEMPTY, sftp.rmdir, remote.r("d"))
    assert "not empty" in str(e)
    assert os.path.exists(remote.p("d", "f"))


def test_failure(sftp, remote):
    remote.mkdir("d")
    # OpenSSH's server says only "Failure" for removing a directory:
    # paramiko raises IOError("Failure") without errno, and so does this.
    e = expect(OSError, "failure", None, sftp.remove, remote.r("d"))
    assert "Failure" in str(e)
    assert os.path.isdir(remote.p("d"))


def test_not_a_symlink(sftp, remote):
    remote.write("f")
    expect(OSError, "not_a_symlink", errno.EINVAL, sftp.readlink, remote.r("f"))


def test_unsupported(sftp, remote, local):
    # A name sftp's command line cannot carry, inside a tree: the rest is
    # copied, and the first failure's kind is raised with the list.
    tree = os.path.join(local, "tree")
    os.mkdir(tree)
    write_local(os.path.join(tree, "fine"), b"ok")
    write_local(os.path.join(tree, "new\nline"), b"no")
    e = expect(OSError, "unsupported", errno.EOPNOTSUPP, sftp.put_r, tree, remote.r("copy"))
    assert [f["path"] for f in e.data["failed"]] == ["new\nline"]
    assert e.data["failed"][0]["kind"] == "unsupported"
    assert remote.read("copy/fine") == b"ok"


def test_local(sftp, remote, local):
    fifo = os.path.join(local, "fifo")
    os.mkfifo(fifo)
    e = expect(OSError, "local", None, sftp.put, fifo, remote.r("x"))
    assert "fifo" in str(e)
    assert os.listdir(remote.abs) == []


def test_local_errors_as_paramiko_meets_them(sftp, remote, local):
    """paramiko opens the local file itself: these are the OS's own
    exceptions, raised before anything is sent."""
    sent = sftp._proc._next_id
    with pytest.raises(FileNotFoundError) as e:
        sftp.put(os.path.join(local, "missing"), remote.r("x"))
    assert e.value.filename == os.path.join(local, "missing")
    with pytest.raises(IsADirectoryError):
        sftp.put(local, remote.r("x"))
    remote.write("f", b"f")
    with pytest.raises(IsADirectoryError):
        sftp.get(remote.r("f"), local)  # a directory is not a file name
    with pytest.raises(FileNotFoundError):
        sftp.get(remote.r("f"), os.path.join(local, "no", "x"))
    write_local(os.path.join(local, "file"))
    with pytest.raises(NotADirectoryError):
        sftp.get(remote.r("f"), os.path.join(local, "file", "x"))
    with pytest.raises(FileNotFoundError):
        sftp.put_r(os.path.join(local, "missing"), remote.r("x"))
    with pytest.raises(NotADirectoryError):
        sftp.put_r(os.path.join(local, "file"), remote.r("x"))
    with pytest.raises(FileNotFoundError):
        sftp.get_r(remote.rel, os.path.join(local, "missing"))
    assert sftp._proc._next_id == sent
    if os.geteuid() != 0:
        unreadable = write_local(os.path.join(local, "unreadable"), b"u", 0o000)
        with pytest.raises(PermissionError):
            sftp.put(unreadable, remote.r("x"))


def test_bad_arguments_before_anything_is_sent(sftp, remote, local):
    sent = sftp._proc._next_id
    src = write_local(os.path.join(local, "src"), b"s")
    for fn, args in [
        (sftp.stat, (5,)),
        (sftp.stat, (None,)),
        (sftp.listdir, (["a"],)),
        (sftp.put, (src, 3.5)),
        (sftp.put, (object(), "x")),
        (sftp.put, (src, "x", "not callable")),
        (sftp.get, ("x", os.path.join(local, "y"), 1)),
        (sftp.chmod, ("x", "0644")),
        (sftp.chmod, ("x", True)),
        (sftp.mkdir, ("x", 7.0)),
        (sftp.utime, ("x", 5)),
        (sftp.utime, ("x", ("a", "b"))),
        (sftp.utime, ("x", (1, 2, 3))),
        (sftp.symlink, (None, "x")),
        (sftp.put_many, (5,)),
        (sftp.put_many, ([("a", "b", "c")],)),
        (sftp.put_many, (["ab"],)),
        (sftp.get_many, ([(1, "b")],)),
        (sftp.walktree, (".", None, print, print)),
    ]:
        with pytest.raises(TypeError):
            fn(*args)
    for fn, args in [
        (sftp.stat, ("",)),
        (sftp.stat, ("a\0b",)),
        (sftp.stat, ("lone \ud800 surrogate",)),
        (sftp.stat, ("escaped ascii \udc41",)),
        (sftp.put, (src, "new\nline")),
        (sftp.put, (src, "carriage\rreturn")),
        (sftp.remove, ("new\nline",)),
        (sftp.get, ("new\nline", os.path.join(local, "y"))),
        (sftp.get, ("x", os.path.join(local, "new\nline"))),
        (sftp.chmod, ("x", -1)),
        (sftp.utime, ("x", (-1, 0))),
        (sftp.utime, ("x", (0, 2 ** 32))),
        (sftp.put_many, ([(src, "ok"), (src, "new\nline")],)),
    ]:
        with pytest.raises(ValueError):
            fn(*args)
    assert sftp._proc._next_id == sent
    assert os.listdir(remote.abs) == []


def test_fail_is_value_error(sftp, remote):
    """What sftper refuses as malformed ("fail", nothing attempted) that
    the client's checks let through: a path longer than sftp's line."""
    with pytest.raises(ValueError) as e:
        sftp.remove(remote.r("x" * 3000))
    assert "sftp" in str(e.value)
    assert e.value.kind is None


def test_kind_mapping():
    """The kinds a real OpenSSH server cannot be made to produce here."""
    e = _errors.from_result({"status": "error", "message": "disk full", "data": {"kind": "no_space"}})
    assert type(e) is OSError and e.errno == errno.ENOSPC and e.kind == "no_space" and e.strerror == "disk full"
    e = _errors.from_result({"status": "error", "message": "new", "data": {"kind": "some_future_kind"}})
    assert type(e) is OSError and e.errno is None and e.kind == "some_future_kind" and str(e) == "new"
    for kind, cls in [
        ("connection_lost", sftper.ConnectionLost),
        ("connect_failed", sftper.SSHException),
        ("auth_failed", sftper.AuthenticationException),
        ("host_key_unknown", sftper.SSHException),
        ("host_key_changed", sftper.BadHostKeyException),
        ("timeout", sftper.SSHTimeout),
        ("interrupted", sftper.SftperDied),
    ]:
        e = _errors.from_result({"status": "error", "message": "m", "data": {"kind": kind}})
        assert type(e) is cls and e.kind == kind and str(e) == "m"
        assert isinstance(e, sftper.SSHException)
        assert isinstance(e, OSError) == (kind == "timeout")
    assert isinstance(_errors.from_result({"status": "fail", "message": "bad", "data": None}), ValueError)
