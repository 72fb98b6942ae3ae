"""connect(): finding the binary, its arguments, HELLO, and every way the
connection or sftper can fail, each with its own exception."""

import os
import signal
import socket
import subprocess
import time

import pytest

import sftper
from conftest import bare_args, free_port, write_local


def test_binary_from_argument_env_and_path(binaries, server, monkeypatch, tmp_path):
    args = (server.alias, "-F", server.ssh_config)
    with sftper.connect(*args, binary=binaries["sftper"]) as c:
        assert c.hello["sftper"]
    monkeypatch.setenv("SFTPER_BINARY", binaries["sftper"])
    with sftper.connect(*args) as c:
        assert c._proc.argv[0] == binaries["sftper"]
    monkeypatch.delenv("SFTPER_BINARY")
    bindir = tmp_path / "path"
    bindir.mkdir()
    os.symlink(binaries["sftper"], str(bindir / "sftper"))
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ["PATH"])
    with sftper.connect(*args) as c:
        assert c._proc.argv[0] == str(bindir / "sftper")


def test_no_binary_names_all_three(server, monkeypatch, tmp_path):
    monkeypatch.delenv("SFTPER_BINARY", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError) as e:
        sftper.connect(server.alias)
    msg = str(e.value)
    assert "binary=" in msg and "$SFTPER_BINARY" in msg and "PATH" in msg
    monkeypatch.setenv("SFTPER_BINARY", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError) as e:
        sftper.connect(server.alias)
    assert "$SFTPER_BINARY" in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        sftper.connect(server.alias, binary=str(tmp_path / "nothing"))
    assert "binary=" in str(e.value)


def test_bad_arguments(binaries, server):
    b = binaries["sftper"]
    with pytest.raises(TypeError):
        sftper.connect(server.alias, binary=b, no_such_option=1)
    with pytest.raises(TypeError):
        sftper.connect(5, binary=b)
    with pytest.raises(TypeError):
        sftper.connect(server.alias, 5, binary=b)
    with pytest.raises(ValueError):
        sftper.connect(server.alias, binary=b, mode="turbo")
    with pytest.raises(TypeError):
        sftper.connect(server.alias, binary=b, sessions="2")
    with pytest.raises(TypeError):
        sftper.connect(server.alias, binary=b, sessions=True)
    with pytest.raises(ValueError):
        sftper.connect(server.alias, binary=b, sessions=0)
    with pytest.raises(ValueError):
        sftper.connect(server.alias, binary=b, connect_timeout=0)
    with pytest.raises(TypeError):
        sftper.connect(server.alias, binary=b, password=b"bytes")
    # An option sftper itself refuses: its usage error, as ValueError.
    with pytest.raises(ValueError) as e:
        sftper.connect(server.alias, "--no-such-flag", binary=b)
    assert "no-such-flag" in str(e.value)


def test_sessions_needs_an_sftper_that_has_it(binaries, server):
    with subprocess.Popen([binaries["sftper"], "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as p:
        knows = "--sessions" in p.stdout.read().decode().split()
    if knows:
        with sftper.connect(server.alias, "-F", server.ssh_config, binary=binaries["sftper"], sessions=2) as c:
            assert c.sessions == 2 and "--sessions" in c._proc.argv
        return
    with pytest.raises(sftper.SftperError) as e:
        sftper.connect(server.alias, "-F", server.ssh_config, binary=binaries["sftper"], sessions=2)
    assert "--sessions" in str(e.value)


def test_options_passed(connect, remote, local, tmp_path):
    c = connect("-F", remote.server.ssh_config, sftp_command=["sftp", "-R", "8"], connect_timeout=20, stall_timeout="90s")
    argv = c._proc.argv
    assert argv[argv.index("--sftp-command") + 1] == "sftp -R 8"
    assert argv[argv.index("--connect-timeout") + 1] == "20.0"
    assert argv[argv.index("--stall-timeout") + 1] == "90s"
    src = write_local(os.path.join(local, "a"), b"a")
    c.put(src, remote.r("a"))
    assert remote.read("a") == b"a"


def test_auth_failed(connect, server, tmp_path):
    key = str(tmp_path / "unknown_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    cfg = _config(server, tmp_path, drop="IdentityFile", add=[
        "IdentityFile " + key, "IdentityAgent none",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no"])
    with pytest.raises(sftper.AuthenticationException) as e:
        connect("-F", cfg)
    assert e.value.kind == "auth_failed"
    assert "Permission denied" in str(e.value) or "auth" in str(e.value)
    assert not isinstance(e.value, OSError)


def _config(server, tmp_path, drop, add):
    """The server's ssh_config with the lines of option drop replaced by
    add."""
    with open(server.ssh_config) as f:
        lines = [l for l in f.read().splitlines() if l.split()[0] != drop]
    path = tmp_path / "ssh_config"
    path.write_text("\n".join(lines + ["  " + a for a in add]) + "\n")
    return str(path)


def _known_hosts_config(server, tmp_path, known_hosts_text):
    kh = tmp_path / "known_hosts"
    kh.write_text(known_hosts_text)
    return _config(server, tmp_path, "UserKnownHostsFile", ["UserKnownHostsFile %s" % kh])


def test_host_key_unknown(connect, server, tmp_path):
    cfg = _known_hosts_config(server, tmp_path, "")
    with pytest.raises(sftper.SSHException) as e:
        connect("-F", cfg)
    assert type(e.value) is sftper.SSHException
    assert e.value.kind == "host_key_unknown"
    assert "host key" in str(e.value)


def test_host_key_changed(connect, server, tmp_path):
    key = str(tmp_path / "other_host_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    with open(key + ".pub") as f:
        kind, blob = f.read().split()[:2]
    cfg = _known_hosts_config(server, tmp_path, "[127.0.0.1]:%d %s %s\n" % (server.port, kind, blob))
    with pytest.raises(sftper.BadHostKeyException) as e:
        connect("-F", cfg)
    assert e.value.kind == "host_key_changed"


def test_connect_failed(connect):
    port = free_port()  # nothing listens there
    with pytest.raises(sftper.SSHException) as e:
        connect(*bare_args(port), destination="nobody@127.0.0.1")
    assert type(e.value) is sftper.SSHException
    assert e.value.kind == "connect_failed"
    assert "refused" in str(e.value).lower()


def test_connect_timeout(connect):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)  # accepts (in the kernel) and never speaks
    try:
        start = time.monotonic()
        with pytest.raises(sftper.SSHTimeout) as e:
            connect(*bare_args(listener.getsockname()[1]), destination="nobody@127.0.0.1", connect_timeout=2)
        assert isinstance(e.value, TimeoutError)
        assert e.value.kind == "timeout"
        assert time.monotonic() - start < 30
    finally:
        listener.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="a password server needs root (useradd, chpasswd)")
def test_password(binaries, mode, tmp_path):
    from conftest import Server

    srv = Server(binaries["testserver"], "-password")
    try:
        args = (srv.alias, "-F", srv.password_config)
        with sftper.connect(*args, binary=binaries["sftper"], mode=mode, password=srv.password) as c:
            assert c.normalize(".") == os.path.realpath(srv.home)
        with pytest.raises(sftper.AuthenticationException):
            sftper.connect(*args, binary=binaries["sftper"], mode=mode, password="not-" + srv.password)
        pw = write_local(str(tmp_path / "pw"), srv.password + "\n", 0o600)
        with sftper.connect(*args, binary=binaries["sftper"], mode=mode, password_file=pw) as c:
            assert c.listdir(".") == []
    finally:
        srv.stop()


def slow_put(connect, local, remote, on_first_report):
    """A 4 MiB put slowed to about 16 s by sftp's own limit (-l 2000),
    with on_first_report called (once) at its first progress report."""
    c = connect(sftp_command="sftp -l 2000")
    src = write_local(os.path.join(local, "big"), b"z" * (4 << 20))
    calls = []

    def callback(done, total):
        calls.append((done, total))
        if len(calls) == 1:
            on_first_report(c)

    return c, lambda: c.put(src, remote.r("big"), callback=callback)


def test_connection_lost(connect, server, remote, local):
    c, put = slow_put(connect, local, remote, lambda c: server.kill_connections())
    with pytest.raises(sftper.ConnectionLost) as e:
        put()
    assert e.value.kind == "connection_lost"
    assert e.value.data["remote"] in ("unchanged", "partial")
    assert not os.path.exists(remote.p("big"))
    # The next request connects again.
    assert "big" not in c.listdir(remote.rel)


def test_interrupted(connect, remote, local):
    c, put = slow_put(connect, local, remote, lambda c: os.kill(c._proc.pid, signal.SIGTERM))
    with pytest.raises(sftper.SftperDied) as e:
        put()
    assert e.value.kind == "interrupted"
    with pytest.raises(sftper.SftperDied) as e:
        c.listdir(remote.rel)
    assert "SIGTERM" in str(e.value) or "143" in str(e.value)


def test_sftper_killed(sftp, remote):
    sftp.listdir(remote.rel)
    os.kill(sftp._proc.pid, signal.SIGKILL)
    with pytest.raises(sftper.SftperDied) as e:
        sftp.listdir(remote.rel)
    assert "SIGKILL" in str(e.value)
    assert not isinstance(e.value, OSError)
    with pytest.raises(sftper.SftperDied):  # and every call after
        sftp.stat(remote.rel)
    sftp.close()


def test_callback_exception_abandons_the_request(connect, remote, local):
    """An exception from callback propagates at once; the upload goes on
    in sftper and its result is dropped, and the client goes on working."""
    class Stop(Exception):
        pass

    def stop(c):
        raise Stop()

    c, put = slow_put(connect, local, remote, stop)
    with pytest.raises(Stop):
        put()
    c.close()  # stops the upload still in flight
    assert c._proc.returncode is not None
