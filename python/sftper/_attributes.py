"""SFTPAttributes: a remote file's attributes, with paramiko's fields."""

import stat
import time

__all__ = ["SFTPAttributes"]

# Half a year, in seconds: ls shows the year instead of the time for files
# older (or newer) than this, and so does __str__.
_HALF_YEAR = 15552000


class SFTPAttributes(object):
    """The attributes of a remote file, as paramiko's SFTPAttributes has
    them: ``st_size``, ``st_uid``, ``st_gid``, ``st_mode``, ``st_atime``
    and ``st_mtime`` (None where the server sent nothing), so that
    ``stat.S_ISDIR(a.st_mode)`` and mtime comparisons work as with
    os.stat. Entries of listdir_attr also have ``filename`` (the name,
    a surrogate-escaped str for a name that is not UTF-8) and ``longname``
    (an ``ls -l`` line). ``attr`` is an empty dict: sftper reports no
    extended attributes.
    """

    FLAG_SIZE = 1
    FLAG_UIDGID = 2
    FLAG_PERMISSIONS = 4
    FLAG_AMTIME = 8
    FLAG_EXTENDED = 0x80000000

    def __init__(self):
        self.st_size = None
        self.st_uid = None
        self.st_gid = None
        self.st_mode = None
        self.st_atime = None
        self.st_mtime = None
        self.attr = {}

    @classmethod
    def from_stat(cls, obj, filename=None):
        """Attributes copied from an os.stat result (or anything with the
        same fields)."""
        a = cls()
        a.st_size = obj.st_size
        a.st_uid = obj.st_uid
        a.st_gid = obj.st_gid
        a.st_mode = obj.st_mode
        a.st_atime = obj.st_atime
        a.st_mtime = obj.st_mtime
        if filename is not None:
            a.filename = filename
        return a

    @classmethod
    def _from_sftper(cls, data, filename=None):
        """Attributes from the data of STAT or a LISTDIR entry."""
        a = cls()
        a.st_size = data.get("size")
        a.st_uid = data.get("uid")
        a.st_gid = data.get("gid")
        a.st_mode = data.get("mode")
        a.st_atime = data.get("atime")
        a.st_mtime = data.get("mtime")
        if filename is not None:
            a.filename = filename
            a.longname = str(a)
        return a

    def _debug_str(self):
        parts = []
        if self.st_size is not None:
            parts.append("size=%d" % self.st_size)
        if self.st_uid is not None and self.st_gid is not None:
            parts.append("uid=%d gid=%d" % (self.st_uid, self.st_gid))
        if self.st_mode is not None:
            parts.append("mode=" + oct(self.st_mode))
        if self.st_atime is not None and self.st_mtime is not None:
            parts.append("atime=%d mtime=%d" % (self.st_atime, self.st_mtime))
        return "[ " + " ".join(parts) + " ]"

    def __repr__(self):
        return "<SFTPAttributes: %s>" % self._debug_str()

    def __str__(self):
        """An ``ls -l`` line, as paramiko gives one."""
        if self.st_mode is None:
            modes = "?---------"
        else:
            modes = stat.filemode(self.st_mode)
        if self.st_mtime is None:
            when = "(unknown date)"
        else:
            t = time.localtime(self.st_mtime)
            if abs(time.time() - self.st_mtime) > _HALF_YEAR:
                when = time.strftime("%d %b %Y", t)
            else:
                when = time.strftime("%d %b %H:%M", t)
        return "%s   1 %-8s %-8s %8s %-12s %s" % (
            modes,
            "" if self.st_uid is None else self.st_uid,
            "" if self.st_gid is None else self.st_gid,
            "" if self.st_size is None else self.st_size,
            when,
            getattr(self, "filename", "?"),
        )

    def asbytes(self):
        return str(self).encode("utf-8", "surrogateescape")
