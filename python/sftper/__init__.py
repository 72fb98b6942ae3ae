"""sftper: paramiko's SFTPClient, carried out by sftper.

Replace::

    client = paramiko.SSHClient(); client.connect(host, ...)
    sftp = client.open_sftp()

with::

    import sftper
    sftp = sftper.connect(host)            # or "sftp://user@host:2222/dir"

and the rest of a script (put, get, listdir_attr, stat, remove, rename...)
runs as before, through your own OpenSSH configuration, keys and agent, at
the OpenSSH client's speed. Also pysftp's put_r, get_r, makedirs, exists,
lexists, isdir, isfile and walktree, and put_many/get_many, which send all
their requests at once.

Pure Python, standard library only, POSIX only (sftper runs on Linux,
macOS and FreeBSD). See python/README.md for what differs from paramiko.
"""

from ._attributes import SFTPAttributes
from ._client import SFTPClient, connect, find_binary
from ._errors import (
    AuthenticationException,
    BadHostKeyException,
    ConnectionLost,
    SftperDied,
    SftperError,
    SSHException,
    SSHTimeout,
)

__version__ = "0.1.0"

__all__ = [
    "connect",
    "find_binary",
    "SFTPClient",
    "SFTPAttributes",
    "SSHException",
    "AuthenticationException",
    "BadHostKeyException",
    "ConnectionLost",
    "SSHTimeout",
    "SftperError",
    "SftperDied",
]
