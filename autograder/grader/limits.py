"""What a worker may use, and what the grader itself may use while grading."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from pathlib import Path

SPIN_S = 0.002
"""How long each end of the channel polls for the other's message before sleeping, where
each has a core of its own (see ``Peer``'s ``spin_s``)."""


MAX_LANES = 2
"""The most grader processes one grade uses at once: the longest part bounds a grade's time,
and two lanes already take the others off its path."""


def _up(root: Path, relative: str) -> list[Path]:
    """``root/relative`` and each folder above it, up to ``root``."""
    parts = [part for part in relative.split("/") if part and part != ".."]
    return [root.joinpath(*parts[:index]) for index in range(len(parts), -1, -1)]


def usable_cpus(
    cgroup: Path = Path("/sys/fs/cgroup"), membership: Path = Path("/proc/self/cgroup")
) -> float:
    """The CPUs this process may use: its affinity, capped by the CPU quota of its cgroup
    and of every cgroup above it (``cpu.max`` in cgroup v2, ``cpu.cfs_quota_us`` in v1),
    found from ``membership`` under ``cgroup``."""
    cpus = float(len(os.sched_getaffinity(0)))
    v2, v1 = "/", "/"
    try:
        lines = membership.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if not controllers:
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    for folder in _up(cgroup, v2):
        try:
            quota, period = (folder / "cpu.max").read_text(encoding="ascii").split()[:2]
            if quota != "max":
                cpus = min(cpus, int(quota) / int(period))
        except (OSError, ValueError, ZeroDivisionError):
            continue
    for folder in _up(cgroup / "cpu", v1):
        try:
            quota = (folder / "cpu.cfs_quota_us").read_text(encoding="ascii").strip()
            period = (folder / "cpu.cfs_period_us").read_text(encoding="ascii").strip()
            if quota != "-1":
                cpus = min(cpus, int(quota) / int(period))
        except (OSError, ValueError, ZeroDivisionError):
            continue
    return cpus


def default_spin_s(graders: int = 1) -> float:
    """:data:`SPIN_S` where every grader and its worker can have a core each, else 0."""
    return SPIN_S if usable_cpus() >= 2 * graders else 0.0


def default_lanes(graders: int = 1) -> int:
    """How many grader processes each of ``graders`` grades may use at once (see
    :mod:`autograder.grader.lanes`): one per whole CPU it has, at most :data:`MAX_LANES`.

    A grader mostly waits for its worker and the worker for it, so two lanes on two cores
    (four processes, each sleeping while it waits) still gain; on one CPU or less they only
    compete."""
    return max(1, min(MAX_LANES, int(usable_cpus() / max(1, graders))))


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process.

    Attributes:
        wall_s: seconds the submission has for one request (a call, an import...).
        startup_s: seconds the worker has to start.
        cpu_s: CPU seconds for the worker's whole life.
        memory_mb: memory of the worker beyond what it maps at start, in MiB: its data and
            its address space (shared mappings included) are limited to this much more.
        file_mb: the largest file the submission may write (its printed output too), in MiB.
        scratch_mb: the size of its scratch folder (a tmpfs), in MiB.
        scratch_files: how many files and folders its scratch folder may hold.
        processes: processes and threads the sandbox's user may have at once.
        threads: torch's intra-op threads in the worker.
        message_mb: the largest message the worker may send, in MiB.
        check_s: seconds from one reset of the sandbox to the next (a check's budget, so a
            check that loops over an endless generator of the student's still ends).
        spin_s: how long the grader and the worker poll for each other's messages before
            sleeping (:func:`default_spin_s`: only where each can have a core of its own).
    """

    wall_s: float = 30.0
    startup_s: float = 30.0
    cpu_s: int = 600
    memory_mb: int = 4096
    file_mb: int = 16
    scratch_mb: int = 64
    scratch_files: int = 2048
    processes: int = 64
    threads: int = 1
    message_mb: int = 64
    check_s: float = 120.0
    spin_s: float = field(default_factory=default_spin_s)


GRADER_MEMORY_MB = 3072
"""The grader's own memory while it grades, beyond what it held before (see :class:`MemoryBound`).

The reference of earlier parts runs in the grader on inputs the submission chooses; this
bound turns a computation that would exceed it into a ``MemoryError`` for that call, which
fails the check that made it, instead of the machine running out of memory."""


class MemoryBound:
    """Limit this process's data to what it holds now plus ``megabytes`` while inside.

    The soft limit only: the hard one, and so the workers' own limits, are untouched.
    """

    def __init__(self, megabytes: int = GRADER_MEMORY_MB) -> None:
        self.megabytes = megabytes
        self.saved: tuple[int, int] | None = None

    @staticmethod
    def data_now() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
        return 0

    def __enter__(self) -> MemoryBound:
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        self.saved = (soft, hard)
        wanted = self.data_now() + self.megabytes * 2**20
        if hard != resource.RLIM_INFINITY:
            wanted = min(wanted, hard)
        if soft == resource.RLIM_INFINITY or wanted < soft:
            resource.setrlimit(resource.RLIMIT_DATA, (wanted, hard))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            resource.setrlimit(resource.RLIMIT_DATA, self.saved)
