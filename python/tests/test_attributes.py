"""SFTPAttributes without a server."""

import os
import stat

from sftper import SFTPAttributes


def test_fields_from_sftper():
    a = SFTPAttributes._from_sftper(
        {"name": "x", "size": 12, "mtime": 1700000000, "atime": 1600000000, "mode": 0o100640, "uid": 7, "gid": 8},
        "x")
    assert (a.st_size, a.st_mtime, a.st_atime, a.st_mode, a.st_uid, a.st_gid) == (
        12, 1700000000, 1600000000, 0o100640, 7, 8)
    assert a.filename == "x" and a.attr == {}
    assert stat.S_ISREG(a.st_mode)
    assert a.longname == str(a)
    assert str(a).startswith("-rw-r-----   1 7        8              12 ")
    assert str(a).endswith(" x")
    assert repr(a) == "<SFTPAttributes: [ size=12 uid=7 gid=8 mode=0o100640 atime=1600000000 mtime=1700000000 ]>"


def test_missing_fields_are_none():
    a = SFTPAttributes._from_sftper({"size": None, "mtime": None, "atime": None, "mode": None, "uid": None, "gid": None})
    assert a.st_size is None and a.st_mode is None and a.st_mtime is None
    assert repr(a) == "<SFTPAttributes: [  ]>"
    assert str(a).startswith("?---------")
    empty = SFTPAttributes()
    assert empty.st_size is None and empty.attr == {}


def test_from_stat():
    st = os.stat(__file__)
    a = SFTPAttributes.from_stat(st, "me")
    assert a.st_size == st.st_size and a.st_mode == st.st_mode and a.filename == "me"
    assert a.asbytes().endswith(b" me")
