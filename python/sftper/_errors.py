"""The exceptions the client raises, and the one mapping from sftper's
results to them.

Errors about files are the built-in OSError subclasses that paramiko
raises (FileNotFoundError for ENOENT, PermissionError for EACCES, ...),
with sftper's message as their text and two more attributes: ``kind``
(sftper's data.kind, e.g. "no_such_file") and ``data`` (the whole data
object of the result, e.g. PUT's "remote" or a tree's "failed" list).
Problems with the connection or with sftper itself are SSHException and
its subclasses, which are not OSError (except SSHTimeout, which is a
TimeoutError as paramiko's socket.timeout is).
"""

import errno

__all__ = [
    "SSHException",
    "AuthenticationException",
    "BadHostKeyException",
    "ConnectionLost",
    "SSHTimeout",
    "SftperError",
    "SftperDied",
]


class SSHException(Exception):
    """The connection could not be made or kept (sftper's connection
    kinds: connect_failed, host_key_unknown, and the subclasses' kinds),
    or sftper itself failed (SftperError).

    ``kind`` is sftper's data.kind (None when the problem is not one
    sftper reported) and ``data`` the result's data object. As with
    paramiko, this is not an OSError: ``except IOError`` around file
    operations does not swallow it.
    """

    def __init__(self, message, kind=None, data=None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.data = data


class AuthenticationException(SSHException):
    """No credential was accepted (kind auth_failed). The next request
    tries again."""


class BadHostKeyException(SSHException):
    """The server's host key differs from the one in known_hosts (kind
    host_key_changed). Nothing was transferred."""


class ConnectionLost(SSHException):
    """The connection ended while the request ran (kind connection_lost).
    The request may be sent again: sftper connects again for the next
    one. For a put, ``data["remote"]`` says whether the remote file may
    be partial."""


class SSHTimeout(SSHException, TimeoutError):
    """Connecting, or a request that moved no data, took longer than
    sftper's bound (kind timeout; --connect-timeout, --stall-timeout).
    Also a TimeoutError, as paramiko's socket.timeout is."""


class SftperError(SSHException):
    """The sftper program cannot do what was asked: too old for an
    option or a command, or it answered something this client cannot
    read."""


class SftperDied(SftperError):
    """The sftper process has ended (or was stopped, kind interrupted) or
    its output can no longer be read. The client is unusable from then
    on: every later call raises this again. The message says how sftper
    ended and what it last wrote on stderr."""


# Kinds of file errors and the errno that says the same. A kind missing
# here (failure, local, and any kind a later sftper adds) gets an OSError
# without errno, as paramiko raises for a status code it has no errno for.
_ERRNO = {
    "no_such_file": errno.ENOENT,
    "permission_denied": errno.EACCES,
    "not_a_directory": errno.ENOTDIR,
    "is_a_directory": errno.EISDIR,
    "already_exists": errno.EEXIST,
    "not_empty": errno.ENOTEMPTY,
    "no_space": errno.ENOSPC,
    "unsupported": errno.EOPNOTSUPP,
    "not_a_symlink": errno.EINVAL,
}

# Kinds that are about the connection or sftper, not about a file.
_CONNECTION = {
    "connection_lost": ConnectionLost,
    "connect_failed": SSHException,
    "auth_failed": AuthenticationException,
    "host_key_unknown": SSHException,
    "host_key_changed": BadHostKeyException,
    "timeout": SSHTimeout,
    "interrupted": SftperDied,
}


def file_error(err, message, kind=None, data=None):
    """An OSError of the class Python gives err (FileNotFoundError for
    ENOENT...), carrying kind and data; err None gives a plain OSError."""
    e = OSError(message) if err is None else OSError(err, message)
    e.kind = kind
    e.data = data
    return e


def from_result(result):
    """The exception for a result whose status is not "ok"."""
    status = result.get("status")
    message = result.get("message") or ""
    data = result.get("data")
    if status == "fail":
        # The request was malformed and nothing was attempted: a bad
        # argument that the client's own checks let through.
        e = ValueError(message)
        e.kind = None
        e.data = data
        return e
    if status != "error":
        return SftperError("sftper answered status %r: %s" % (status, message))
    kind = data.get("kind") if isinstance(data, dict) else None
    cls = _CONNECTION.get(kind)
    if cls is not None:
        return cls(message, kind, data)
    return file_error(_ERRNO.get(kind), message, kind, data)
