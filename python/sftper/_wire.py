"""One sftper process and the stream of requests and results with it.

Requests go out in the binary framing (a 4-byte big-endian length, then
the JSON), each with an id; results come back in request order, with
progress reports for a request that asked for them in between. Everything
runs in the caller's thread: a selector moves bytes both ways (and drains
stderr) until the results waited for are in, so that any number of
requests can be written at once without either side blocking on a full
pipe. Nothing here knows what a command means.
"""

import collections
import json
import logging
import os
import selectors
import signal
import struct
import subprocess
import time

from ._errors import SftperDied, SftperError

log = logging.getLogger("sftper")

_HEADER = struct.Struct("!I")

# sftper never writes a frame longer than it reads one (16 MiB); a longer
# length means the stream is not what it should be.
_MAX_FRAME = 16 << 20

# Lines of sftper's stderr kept for the message of SftperDied.
_STDERR_LINES = 30

# close(): how long sftper may take, after its input ends, to finish the
# request in hand (none: close waits for every result first or stops
# sftper), close its session and exit, before it is killed. Closing an
# OpenSSH session takes milliseconds; this only bounds a hung one.
_EXIT_WAIT = 10.0

# After sftper's stdout ends: how long to wait for its exit status and the
# rest of its stderr, for the message. A dead sftper is normally reaped at
# once; this only bounds a process that closed stdout and lives on.
_DEATH_WAIT = 5.0

_READ_SIZE = 1 << 16


class Call:
    """One request sent: its result (the decoded JSON object) once it has
    come, and the function progress reports go to."""

    __slots__ = ("id", "command", "on_progress", "result", "abandoned")

    def __init__(self, id, command, on_progress):
        self.id = id
        self.command = command
        self.on_progress = on_progress
        self.result = None
        self.abandoned = False

    @property
    def done(self):
        return self.result is not None


class Process:
    """A running sftper and its three pipes. Not thread-safe by itself:
    the client holds a lock around every use."""

    def __init__(self, argv, env=None):
        self.argv = list(argv)
        # A session of its own: a Ctrl-C at the script's terminal raises
        # KeyboardInterrupt in the script and does not also stop sftper
        # under the client (close() then stops what is still running).
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
        self._in = self._proc.stdin.fileno()
        self._out = self._proc.stdout.fileno()
        self._err = self._proc.stderr.fileno()
        os.set_blocking(self._in, False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._out, selectors.EVENT_READ)
        self._sel.register(self._err, selectors.EVENT_READ)
        self._writing = False
        self._wbuf = bytearray()
        self._rbuf = bytearray()
        self._ebuf = bytearray()
        self._stderr = collections.deque(maxlen=_STDERR_LINES)
        self._pending = collections.deque()  # Calls sent, not yet answered, in order
        self._next_id = 1
        self._dead = None  # why the stream ended, once it has
        self._closed = False
        self.returncode = None

    @property
    def pid(self):
        return self._proc.pid

    def stderr_tail(self):
        """The last lines sftper wrote on stderr."""
        return list(self._stderr)

    # Sending and waiting.

    def send(self, command, args, on_progress=None):
        """Queues one request and returns its Call. Nothing is read or
        written until wait (or the next send's wait) runs the loop."""
        self._check_usable()
        call = Call(self._next_id, command, on_progress)
        self._next_id += 1
        req = {"command": command, "args": args, "id": call.id}
        if on_progress is not None:
            args["progress"] = True
        # ensure_ascii: a str holding surrogate escapes (PEP 383) goes out
        # as the JSON escape \udcXX, which sftper reads as that byte.
        payload = json.dumps(req, ensure_ascii=True, allow_nan=False).encode("ascii")
        self._wbuf += _HEADER.pack(len(payload))
        self._wbuf += payload
        self._pending.append(call)
        if not self._writing:
            self._sel.register(self._in, selectors.EVENT_WRITE)
            self._writing = True
        return call

    def wait(self, calls):
        """Runs the loop until every call in calls has its result. Raises
        SftperDied when the stream ends first, and whatever a progress
        function raises (the calls stay in flight: see abandon)."""
        for call in calls:
            while not call.done:
                self._check_usable()
                self._step()

    def abandon(self, calls):
        """Marks calls whose caller has gone (an exception): their results
        are read and dropped when they come."""
        for call in calls:
            if not call.done:
                call.abandoned = True

    def _check_usable(self):
        if self._closed:
            raise SftperError("the client is closed")
        if self._dead is not None:
            raise SftperDied(self._dead)

    def _step(self):
        """One turn of the loop: waits for a pipe to be ready and moves
        what it can."""
        for key, _ in self._sel.select():
            fd = key.fd
            if fd == self._in:
                self._write()
            elif fd == self._out:
                self._read_out()
            else:
                self._read_err()
            if self._dead is not None:
                return

    def _write(self):
        try:
            n = os.write(self._in, self._wbuf[:_READ_SIZE])
        except BlockingIOError:
            return
        except (BrokenPipeError, ConnectionResetError):
            # sftper is gone or closed its input; its stdout's end says
            # which, and why.
            self._wbuf.clear()
            self._stop_writing()
            return
        del self._wbuf[:n]
        if not self._wbuf:
            self._stop_writing()

    def _stop_writing(self):
        if self._writing:
            self._sel.unregister(self._in)
            self._writing = False

    def _read_err(self):
        data = os.read(self._err, _READ_SIZE)
        if not data:
            self._sel.unregister(self._err)
            self._err = -1
            if self._ebuf:
                self._stderr_line(bytes(self._ebuf))
                self._ebuf.clear()
            return
        self._ebuf += data
        while True:
            i = self._ebuf.find(b"\n")
            if i < 0:
                break
            self._stderr_line(bytes(self._ebuf[:i]))
            del self._ebuf[: i + 1]
        if len(self._ebuf) > _READ_SIZE:  # a line without end: keep a part
            self._stderr_line(bytes(self._ebuf))
            self._ebuf.clear()

    def _stderr_line(self, line):
        text = line.decode("utf-8", "replace").rstrip("\r")
        self._stderr.append(text)
        log.info("%s", text)

    def _read_out(self):
        data = os.read(self._out, _READ_SIZE)
        if not data:
            why = "sftper closed its output"
            if self._pending:
                why += " with %d request(s) unanswered" % len(self._pending)
            self._die(why)
            return
        self._rbuf += data
        while len(self._rbuf) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(self._rbuf)
            if n > _MAX_FRAME:
                self._die("sftper sent a frame of %d bytes, more than it ever writes" % n, kill=True)
                return
            if len(self._rbuf) < _HEADER.size + n:
                break
            payload = bytes(self._rbuf[_HEADER.size : _HEADER.size + n])
            del self._rbuf[: _HEADER.size + n]
            self._message(payload)
            if self._dead is not None:
                return

    def _message(self, payload):
        try:
            msg = json.loads(payload.decode("utf-8"))
        except ValueError as e:
            self._die("sftper sent a result that is not JSON (%s): %r" % (e, payload[:200]), kill=True)
            return
        if not isinstance(msg, dict):
            self._die("sftper sent a result that is not an object: %r" % payload[:200], kill=True)
            return
        if msg.get("status") == "progress":
            call = next((c for c in self._pending if c.id == msg.get("id")), None)
            data = msg.get("data")
            if call is not None and call.on_progress is not None and not call.abandoned and isinstance(data, dict):
                call.on_progress(data.get("bytes"), data.get("total"))
            return
        if not self._pending:
            self._die("sftper sent a result for no request: %r" % payload[:200], kill=True)
            return
        call = self._pending[0]
        if msg.get("id") != call.id:
            self._die(
                "sftper answered id %r where id %r (%s) was due" % (msg.get("id"), call.id, call.command),
                kill=True,
            )
            return
        self._pending.popleft()
        call.result = msg

    def _die(self, why, kill=False):
        """Ends the stream for good: reaps sftper and keeps why, with its
        exit status and the end of its stderr, for SftperDied."""
        if kill:
            self._kill()
        deadline = time.monotonic() + _DEATH_WAIT
        self._drain_stderr(deadline)
        status = self._reap(deadline)
        msg = why
        if status is not None:
            msg += "; " + describe_status(status)
        tail = [l for l in self._stderr if l.strip()]
        if tail:
            msg += "; its stderr ended with:\n  " + "\n  ".join(tail[-10:])
        self._dead = msg
        for call in self._pending:
            call.abandoned = True
        self._shut_pipes()

    def _drain_stderr(self, deadline):
        while self._err >= 0:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready = self._sel.select(left)
            for key, _ in ready:
                if key.fd == self._err:
                    self._read_err()
                elif key.fd == self._out:
                    if not os.read(self._out, _READ_SIZE):
                        self._sel.unregister(self._out)
                        self._out = -1
                elif key.fd == self._in:
                    self._stop_writing()

    def _reap(self, deadline):
        try:
            self.returncode = self._proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._kill()
            try:
                self.returncode = self._proc.wait(_DEATH_WAIT)
            except subprocess.TimeoutExpired:
                return None
        return self.returncode

    def _kill(self):
        try:
            self._proc.kill()
        except OSError:
            pass

    def _shut_pipes(self):
        try:
            self._sel.close()
        except Exception:
            pass
        for f in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            try:
                f.close()
            except OSError:
                pass

    # Ending.

    def close(self):
        """Ends sftper: stops it (SIGTERM) if requests are still in
        flight, whose results nobody waits for any more; then ends its
        input, so it closes its session and exits, reading what it still
        writes meanwhile. A sftper that has not exited after _EXIT_WAIT is
        killed. Returns sftper's exit status (None if it could not be
        reaped); never raises for a dead sftper."""
        if self._closed:
            return self.returncode
        self._closed = True
        if self._dead is not None:
            return self.returncode
        if self._pending:
            try:
                self._proc.send_signal(signal.SIGTERM)
            except OSError:
                pass
        self._wbuf.clear()
        self._stop_writing()
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        deadline = time.monotonic() + _EXIT_WAIT
        while self._out >= 0 or self._err >= 0:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in self._sel.select(left):
                if key.fd == self._err:
                    self._read_err()
                elif key.fd == self._out:
                    if not os.read(self._out, _READ_SIZE):
                        self._sel.unregister(self._out)
                        self._out = -1
        status = self._reap(deadline)
        self._shut_pipes()
        return status


def describe_status(status):
    """Words for a Popen returncode."""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = "signal %d" % -status
        return "sftper was killed by %s" % name
    return "sftper exited with status %d" % status
