"""callback(bytes_so_far, total), fed from sftper's progress reports."""

import os
import sys

import pytest

from conftest import read_local, write_local

BIG = 48 << 20  # long enough on loopback for a report every 250 ms


def check_calls(calls, size):
    assert calls, "no callback"
    assert calls[-1] == (size, size)  # paramiko's last call
    assert all(total == size for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and 0 <= done[0] <= size


def test_put_callback(connect, remote, local):
    sftp = connect(sftp_command="sftp -l 200000")  # about 2 s
    src = write_local(os.path.join(local, "big"), os.urandom(1 << 20) * (BIG >> 20))
    calls = []
    sftp.put(src, remote.r("big"), callback=lambda d, t: calls.append((d, t)))
    check_calls(calls, BIG)
    if sys.platform.startswith("linux"):  # sftper reports PUT progress on Linux only
        assert len(calls) > 1, calls
    assert os.path.getsize(remote.p("big")) == BIG


def test_get_callback(connect, remote, local):
    sftp = connect(sftp_command="sftp -l 200000")
    with open(remote.p("big"), "wb") as f:
        f.write(b"\0" * BIG)
    remote.server.give(remote.p("big"))
    calls = []
    sftp.get(remote.r("big"), os.path.join(local, "big"), callback=lambda d, t: calls.append((d, t)))
    check_calls(calls, BIG)
    assert len(calls) > 1, calls
    assert os.path.getsize(os.path.join(local, "big")) == BIG


def test_small_and_empty(sftp, remote, local):
    calls = []
    src = write_local(os.path.join(local, "small"), b"12345")
    sftp.put(src, remote.r("small"), lambda d, t: calls.append((d, t)))
    assert calls == [(5, 5)]
    calls.clear()
    sftp.get(remote.r("small"), os.path.join(local, "back"), lambda d, t: calls.append((d, t)))
    assert calls == [(5, 5)]
    calls.clear()
    empty = write_local(os.path.join(local, "empty"), b"")
    sftp.put(empty, remote.r("empty"), lambda d, t: calls.append((d, t)))
    sftp.get(remote.r("empty"), os.path.join(local, "empty2"), lambda d, t: calls.append((d, t)))
    assert calls == []  # paramiko calls nothing for an empty file
    assert read_local(os.path.join(local, "empty2")) == b""


def test_no_callback_asks_no_progress(sftp, remote, local, monkeypatch):
    src = write_local(os.path.join(local, "small"), b"1")
    sent = []
    send = sftp._proc.send
    monkeypatch.setattr(sftp._proc, "send", lambda c, a, p=None: sent.append(a) or send(c, a, p))
    sftp.put(src, remote.r("a"))
    sftp.put(src, remote.r("b"), callback=lambda d, t: None)
    assert "progress" not in sent[0] and sent[2]["progress"] is True
