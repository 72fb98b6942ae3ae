"""put_many and get_many: every request sent at once, one result each, in
order; failures in their places."""

import os
import stat

import pytest

import sftper
from conftest import read_local, write_local


def test_put_many(sftp, remote, local):
    pairs = []
    for i in range(150):
        src = write_local(os.path.join(local, "f%03d" % i), b"x" * i)
        pairs.append((src, remote.r("f%03d" % i)))
    before = sftp._proc._next_id
    results = sftp.put_many(pairs)
    assert [r.st_size for r in results] == list(range(150))
    assert all(stat.S_ISREG(r.st_mode) for r in results)
    assert sorted(os.listdir(remote.abs)) == ["f%03d" % i for i in range(150)]
    for i in (0, 1, 77, 149):
        assert remote.read("f%03d" % i) == b"x" * i
    assert sftp._proc._next_id - before == 300  # a PUT and a STAT each, no more
    results = sftp.put_many(pairs[:3], confirm=False)
    assert [r.st_size for r in results] == [0, 1, 2]
    assert sftp.put_many([]) == []


def test_put_many_sends_everything_before_reading(sftp, remote, local, monkeypatch):
    """All requests are written before the first result is awaited."""
    src = write_local(os.path.join(local, "src"), b"s")
    order = []
    send, wait = sftp._proc.send, sftp._proc.wait
    monkeypatch.setattr(sftp._proc, "send", lambda *a: order.append("send") or send(*a))
    monkeypatch.setattr(sftp._proc, "wait", lambda calls: order.append("wait") or wait(calls))
    sftp.put_many([(src, remote.r("a%d" % i)) for i in range(10)], confirm=False)
    assert order == ["send"] * 10 + ["wait"]


def test_put_many_failures(sftp, remote, local):
    src = write_local(os.path.join(local, "src"), b"s")
    pairs = [(src, remote.r("ok1")), (src, remote.r("missing", "x")), (src, remote.r("ok2"))]
    results = sftp.put_many(pairs, return_exceptions=True)
    assert results[0].st_size == 1 and results[2].st_size == 1
    assert isinstance(results[1], FileNotFoundError) and results[1].kind == "no_such_file"
    with pytest.raises(FileNotFoundError) as e:
        sftp.put_many(pairs)
    assert e.value.results[0].st_size == 1 and e.value.results[2].st_size == 1
    assert sorted(os.listdir(remote.abs)) == ["ok1", "ok2"]


def test_put_many_local_problems(sftp, remote, local):
    src = write_local(os.path.join(local, "src"), b"s")
    pairs = [(src, remote.r("a")), (os.path.join(local, "gone"), remote.r("b"))]
    sent = sftp._proc._next_id
    with pytest.raises(FileNotFoundError):
        sftp.put_many(pairs)  # before anything is sent
    assert sftp._proc._next_id == sent and os.listdir(remote.abs) == []
    results = sftp.put_many(pairs, return_exceptions=True)
    assert results[0].st_size == 1 and isinstance(results[1], FileNotFoundError)
    assert os.listdir(remote.abs) == ["a"]


def test_get_many(sftp, remote, local):
    for i in range(100):
        remote.write("g%02d" % i, b"y" * i)
    pairs = [(remote.r("g%02d" % i), os.path.join(local, "g%02d" % i)) for i in range(100)]
    pairs.append((remote.r("missing"), os.path.join(local, "missing")))
    results = sftp.get_many(pairs, return_exceptions=True)
    assert results[:100] == list(range(100))
    assert isinstance(results[100], FileNotFoundError)
    for i in (0, 5, 99):
        assert read_local(os.path.join(local, "g%02d" % i)) == b"y" * i
    assert not os.path.exists(os.path.join(local, "missing"))
    with pytest.raises(FileNotFoundError) as e:
        sftp.get_many(pairs)
    assert e.value.results[:100] == list(range(100))
    with pytest.raises(IsADirectoryError):
        sftp.get_many([(remote.r("g01"), local)])


def test_many_on_a_dead_sftper(sftp, remote, local):
    src = write_local(os.path.join(local, "src"), b"s")
    sftp._proc._proc.kill()
    with pytest.raises(sftper.SftperDied):
        sftp.put_many([(src, remote.r("a")), (src, remote.r("b"))])
