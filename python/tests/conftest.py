"""Fixtures: the real sftper binary, built from this repository, against a
real throwaway OpenSSH sshd (integration/testserver, which wraps
integration/sshdtest).

The tests skip when Go or OpenSSH is missing, unless CI is set (non-empty):
then they fail. As root (as in CI) the server's login account is the
unprivileged sftpertest, so permission errors are real; files the tests
make on the server side are given to it.
"""

import faulthandler
import itertools
import json
import os
import select
import shutil
import socket
import subprocess
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.path.dirname(TESTS)
REPO = os.path.dirname(PYTHON)

# The package under test is this tree's, installed or not.
sys.path.insert(0, PYTHON)

import sftper  # noqa: E402

CI = bool(os.environ.get("CI"))

# No test may hang the suite: one that takes longer than this has its
# threads' tracebacks dumped and the run ends.
TEST_TIMEOUT = 300

# How long the test server may take to start (sshd, keys, useradd).
SERVER_START_TIMEOUT = 120


def missing(what):
    """Skips (fails in CI) for something the machine lacks."""
    if CI:
        pytest.fail("%s; CI is set, so the tests fail instead of skipping" % what)
    pytest.skip(what)


def find_go():
    go = shutil.which("go")
    if not go and os.access("/usr/local/go/bin/go", os.X_OK):
        go = "/usr/local/go/bin/go"
    return go


@pytest.fixture(autouse=True)
def _no_hang():
    faulthandler.dump_traceback_later(TEST_TIMEOUT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def binaries(tmp_path_factory):
    """sftper and the test server, built from this repository."""
    go = find_go()
    if not go:
        missing("no Go toolchain (go in PATH or /usr/local/go/bin/go)")
    if not (shutil.which("sshd") or os.access("/usr/sbin/sshd", os.X_OK)):
        missing("no OpenSSH server (sshd)")
    if not (shutil.which("sftp") and shutil.which("ssh")):
        missing("no OpenSSH client (sftp, ssh)")
    d = tmp_path_factory.mktemp("bin")
    out = {}
    for name, pkg in (("sftper", "."), ("testserver", "./integration/testserver")):
        out[name] = str(d / name)
        subprocess.run([go, "build", "-o", out[name], pkg], cwd=REPO, check=True)
    return out


class Server(object):
    """A running integration/testserver: one sshd and its files."""

    def __init__(self, binary, *args):
        self.proc = subprocess.Popen(
            [binary] + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        info = json.loads(self._line(SERVER_START_TIMEOUT))
        self.info = info
        self.ssh_config = info["ssh_config"]
        self.alias = info["alias"]
        self.home = info["home"]
        self.uid = info["uid"]
        self.gid = info["gid"]
        self.user = info["user"]
        self.port = info["port"]
        self.password = info.get("password")
        self.password_config = info.get("password_config")

    def _line(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            raise RuntimeError("testserver said nothing within %ss" % timeout)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("testserver ended (status %s)" % self.proc.wait())
        return line

    def command(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self._line(30))
        if "error" in answer:
            raise RuntimeError("testserver %s: %s" % (cmd, answer["error"]))
        return answer

    def kill_connections(self):
        return self.command("kill-connections")["killed"]

    def log(self):
        with open(self.info["log_file"], errors="replace") as f:
            return f.read()

    def give(self, path):
        """Gives path (not following a symlink) to the login account."""
        if os.geteuid() == 0:
            os.lchown(path, self.uid, self.gid)

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def server(binaries):
    s = Server(binaries["testserver"])
    yield s
    s.stop()


_dirs = itertools.count(1)


class Remote(object):
    """A fresh directory in the server's login directory, for one test:
    ``abs`` on this machine's file system, ``rel`` as the client names it
    (relative to the starting directory)."""

    def __init__(self, server, name):
        self.server = server
        self.rel = name
        self.abs = os.path.join(server.home, name)
        os.mkdir(self.abs)
        os.chmod(self.abs, 0o755)
        server.give(self.abs)

    def r(self, *names):
        """The client's path of names below this directory."""
        return "/".join((self.rel,) + names)

    def p(self, *names):
        """The server-side path of names (str, or bytes for bytes names)."""
        if names and isinstance(names[0], bytes):
            return os.path.join(os.fsencode(self.abs), *names)
        return os.path.join(self.abs, *names)

    def write(self, name, data=b"", mode=0o644, owner=True):
        path = self.p(name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.chmod(path, mode)
        if owner:
            self.server.give(path)
        return path

    def mkdir(self, name, mode=0o755, owner=True):
        path = self.p(name)
        os.mkdir(path)
        os.chmod(path, mode)
        if owner:
            self.server.give(path)
        return path

    def symlink(self, target, name):
        path = self.p(name)
        os.symlink(target, path)
        self.server.give(path)
        return path

    def read(self, name):
        with open(self.p(name), "rb") as f:
            return f.read()


@pytest.fixture
def remote(server, request):
    return Remote(server, "t%03d" % next(_dirs))


@pytest.fixture(params=["session", "batch"])
def mode(request):
    return request.param


@pytest.fixture
def connect(binaries, server, mode):
    """connect(*args, destination=None, **kwargs): a client on the test
    server (or destination) in this test's mode, closed at the end of the
    test. args default to the server's -F ssh_config."""
    clients = []

    def _connect(*args, destination=None, **kwargs):
        kwargs.setdefault("binary", binaries["sftper"])
        kwargs.setdefault("mode", mode)
        if not args:
            args = ("-F", server.ssh_config)
        c = sftper.connect(destination or server.alias, *args, **kwargs)
        clients.append(c)
        return c

    yield _connect
    for c in clients:
        c.close()


@pytest.fixture
def sftp(connect):
    return connect()


@pytest.fixture
def local(tmp_path):
    """A local directory for the test (str)."""
    return str(tmp_path)


def write_local(path, data=b"", mode=0o644):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)
    return path


def read_local(path):
    with open(path, "rb") as f:
        return f.read()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bare_args(port):
    """sftper options for 127.0.0.1:port with no configuration at all."""
    return [
        "-F", "/dev/null", "-P", str(port),
        "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes",
    ]
