"""The grader's handle on the zygote (:mod:`autograder.grader.worker.zygote`).

One zygote per grader process, started on first use (or earlier, :func:`start`): each
worker is then a fork of an already-initialised Python with torch imported, a few
milliseconds instead of a second or two. The zygote reports each worker's pid and, when
it ends, its exit status. A grader about to fork grading lanes (:mod:`..lanes`) asks its
zygote for copies of itself, one per lane (:func:`start_spares`); each lane adopts one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from autograder.core.paths import ROOT

READY_S = 120.0
"""Seconds the zygote has to import torch and say it is ready (a busy machine is slow)."""
FORK_S = 30.0
"""Seconds the zygote has to fork a worker and say its pid."""


class ZygoteError(Exception):
    """The zygote could not start a worker."""


class Zygote:
    """A running zygote: spawn workers, learn when they end.

    Started as a fresh Python (:meth:`launch`), or forked from a ready one (:meth:`spare`):
    a copy for a grading lane, ready in milliseconds.
    """

    def __init__(self, control: socket.socket, pid: int, process: subprocess.Popen | None) -> None:
        self.owner = os.getpid()
        self.control = control
        self.pid = pid
        self.process = process
        """The fresh Python's handle (None for a spare: the zygote it was forked from reaps it)."""
        self.exits: dict[int, int] = {}
        self.ready = False

    @classmethod
    def launch(cls) -> Zygote:
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        environment = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(ROOT),
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            # What student code prints reaches its log at once, even if it crashes.
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        process = subprocess.Popen(
            [sys.executable, "-s", "-m", "autograder.grader.worker.zygote", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            env=environment,
            cwd="/",
            start_new_session=True,
        )
        theirs.close()
        return cls(control, process.pid, process)

    def spare(self, timeout: float = FORK_S) -> Zygote:
        """A copy of this (ready) zygote with a channel of its own, for another grader
        process: the copy holds what this one does, torch imported and warmed up."""
        self.wait_ready()
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = self._request({"zygote": True}, [theirs.fileno()], timeout)
        finally:
            theirs.close()
        return Zygote(control, pid, None)

    def wait_ready(self) -> None:
        """Wait until the zygote has imported what it needs (it says so once)."""
        if self.ready:
            return
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            message = self._read(max(0.0, deadline - time.monotonic()))
            if message is not None and message.get("ready"):
                self.ready = True
                return
        self.close()
        raise ZygoteError(f"the zygote did not start within {READY_S:g} s")

    @property
    def alive(self) -> bool:
        if self.owner != os.getpid():
            return False
        if self.process is not None:
            return self.process.poll() is None
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True

    def drop(self) -> None:
        """Close this process's end of the channel only (the zygote lives on for its owner)."""
        with contextlib.suppress(OSError):
            self.control.close()

    def _read(self, timeout: float | None) -> dict[str, Any] | None:
        self.control.settimeout(timeout)
        try:
            data = self.control.recv(4096)
        except (TimeoutError, BlockingIOError):
            return None
        except OSError as error:
            raise ZygoteError(f"the zygote's channel failed: {error}") from None
        if not data:
            raise ZygoteError("the zygote ended")
        message = json.loads(data)
        if "exit" in message:
            self.exits[int(message["exit"])] = int(message["status"])
        return message

    def spawn(
        self, config: dict[str, Any], read_fd: int, write_fd: int, timeout: float = FORK_S
    ) -> int:
        """Fork a worker with ``config`` on the pipes ``read_fd`` and ``write_fd``; its pid."""
        return self._request(config, [read_fd, write_fd], timeout)

    def _request(self, config: dict[str, Any], fds: list[int], timeout: float) -> int:
        """Send a fork request with ``fds``; the pid of the process it forked."""
        data = json.dumps(config).encode()
        try:
            socket.send_fds(self.control, [data], fds)
        except OSError as error:
            raise ZygoteError(f"the zygote did not take the request: {error}") from None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._read(max(0.0, deadline - time.monotonic()))
            if message is not None and "pid" in message:
                return int(message["pid"])
            if message is not None and "error" in message:
                raise ZygoteError(f"the zygote refused the request: {message['error']}")
        raise ZygoteError(f"the zygote did not fork within {timeout:g} s")

    def status(self, pid: int, timeout: float = 0.0) -> int | None:
        """The exit status of worker ``pid`` (negative: a signal), or None while it runs."""
        deadline = time.monotonic() + timeout
        while pid not in self.exits:
            left = deadline - time.monotonic()
            try:
                message = self._read(max(left, 0.0) if left > 0 else 0.0)
            except ZygoteError:
                return None
            if message is None and time.monotonic() >= deadline:
                return None
        return self.exits.pop(pid)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.control.close()
        with contextlib.suppress(OSError):
            os.killpg(self.pid, signal.SIGKILL)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)


_zygote: Zygote | None = None
_spares: list[Zygote] = []
"""Zygotes started for the grading lanes this process will fork (:mod:`..lanes`)."""


def start() -> Zygote:
    """Start this process's zygote (or restart it) without waiting for it to be ready.

    The grader calls this first thing, so that the zygote imports torch while the grader
    imports its own modules: on two cores the two start-ups overlap.
    """
    global _zygote
    if _zygote is None or not _zygote.alive:
        if _zygote is not None and _zygote.owner == os.getpid():
            _zygote.close()
        _zygote = Zygote.launch()
    return _zygote


def zygote() -> Zygote:
    """This process's zygote, started (or restarted) when needed, once it is ready."""
    started = start()
    started.wait_ready()
    return started


def start_spares(count: int) -> list[int]:
    """Fork ``count`` spare zygotes from this process's, one for each grading lane it is
    about to fork (a lane without one starts its own on first use); their pids."""
    while len(_spares) < count:
        try:
            _spares.append(zygote().spare())
        except ZygoteError:
            break
    return [spare.pid for spare in _spares]


def adopt_spare() -> None:
    """In a freshly forked lane: the first spare becomes this process's zygote (or none, and
    one starts on first use); the other zygotes are left to their owners."""
    global _zygote
    inherited = [_zygote] if _zygote is not None else []
    _zygote = _spares.pop(0) if _spares else None
    for other in inherited + _spares:
        other.drop()
    _spares.clear()
    if _zygote is not None:
        _zygote.owner = os.getpid()


def release_spare() -> None:
    """In the grader, once a lane is forked: the first spare is the lane's now (it ends
    when the lane closes its channel)."""
    if _spares:
        _spares.pop(0).drop()


def close_spares() -> None:
    """End the spares no lane took."""
    while _spares:
        _spares.pop().close()
