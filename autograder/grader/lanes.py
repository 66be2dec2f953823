"""Grade a submission's parts in several grader processes at once ("lanes").

A grade's wall-clock time is mostly round trips between the grader and its worker, each end
waiting for the other: with a second core, a second grader process with its own zygote and
worker grades other parts meanwhile. The parts wait in a queue (a pipe holding one byte per
part, so each part is taken by exactly one lane, the next free one); the first lane is this
process, each other lane a fork of it made after the submission was prepared. A lane sends
its part results back as a pickle on a pipe of its own, which only the two grader processes
hold: neither a worker nor the zygote ever sees it.

Every part gets a result: one whose lane died or sent nothing says so, and the parts no lane
took (a lane that stopped on a refusal) get the reason it stopped.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from autograder.core.rubric import Part
from autograder.grader import spawner
from autograder.grader.results import PartResult
from autograder.grader.worker import isolation

MAX_PARTS = 255
"""The most parts a queue holds (one byte each); more are graded in one lane."""


@dataclass
class LaneResults:
    """What one lane graded, and why it stopped taking parts early, if it did."""

    parts: list[PartResult] = field(default_factory=list)
    stopped: PartResult | None = None
    """A result to give every part no lane took (the lane's refusal to grade)."""


GradeParts = Callable[[Iterator[Part]], LaneResults]
"""Grades the parts an iterator yields, taking the next only when ready for it."""


def _claim(queue: int, parts: list[Part]) -> Iterator[Part]:
    """The parts this lane takes from ``queue``, one at a time, until it is empty."""
    while True:
        index = os.read(queue, 1)
        if not index:
            return
        yield parts[index[0]]


def _read_all(fd: int, until: float) -> bytes | None:
    """Everything a lane sends on ``fd`` until it closes it; None if it is not done by
    ``until`` (``time.monotonic()``)."""
    chunks = []
    while True:
        left = until - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _lane(queue: int, back: int, parts: list[Part], grade_parts: GradeParts) -> None:
    """A forked lane: grade the parts it takes, send them back, and end (never returns)."""
    code = 0
    try:
        # A lane ends with the grader that forked it, like the zygote and the workers.
        isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
        spawner.adopt_spare()
        data = pickle.dumps(grade_parts(_claim(queue, parts)))
        view = memoryview(data)
        while view:
            view = view[os.write(back, view) :]
    except BaseException:
        code = 70
    finally:
        os._exit(code)


def _lost(part: Part, why: str) -> PartResult:
    result = PartResult(part, problem=f"not graded: {why}; your instructor has been told")
    result.warnings = [f"a grading lane failed on part {part.number}: {why}"]
    return result


def grade_in_lanes(
    parts: list[Part], lanes: int, grade_parts: GradeParts, until: float
) -> list[PartResult]:
    """Grade ``parts`` in ``lanes`` processes; every part's result, in the order of ``parts``.

    A lane not done by ``until`` (``time.monotonic()``; past the submission's own deadline,
    which every lane keeps) is killed. A result with no verdicts (``results`` empty,
    ``problem`` set) stands for a part lost with its lane: the caller fails its checks with
    that problem.
    """
    if lanes <= 1 or len(parts) <= 1 or len(parts) > MAX_PARTS:
        return _merge(parts, [grade_parts(iter(parts))], {})
    queue, filling = os.pipe()
    os.write(filling, bytes(range(len(parts))))
    os.close(filling)
    children: list[tuple[int, int]] = []
    try:
        for _ in range(min(lanes, len(parts)) - 1):
            answer, back = os.pipe()
            try:
                pid = os.fork()
            except OSError:
                os.close(answer)
                os.close(back)
                break
            if pid == 0:
                os.close(answer)
                _lane(queue, back, parts, grade_parts)
            os.close(back)
            spawner.release_spare()
            children.append((pid, answer))
        mine = grade_parts(_claim(queue, parts))
    finally:
        os.close(queue)
    gathered = [mine]
    failures: dict[int, str] = {}
    for pid, answer in children:
        try:
            data = _read_all(answer, until)
        finally:
            os.close(answer)
        if data is None:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        try:
            gathered.append(pickle.loads(data or b""))
        except Exception:
            code = os.waitstatus_to_exitcode(status)
            failures[pid] = (
                "its grading process ran out of time"
                if data is None
                else f"its grading process ended with status {code}"
            )
    return _merge(parts, gathered, failures)


def _merge(
    parts: list[Part], gathered: list[LaneResults], failures: dict[int, str]
) -> list[PartResult]:
    by_number = {r.part.number: r for lane in gathered for r in lane.parts}
    stopped = next((lane.stopped for lane in gathered if lane.stopped is not None), None)
    why = next(iter(failures.values()), "no grading process took it")
    merged = []
    for part in parts:
        if part.number in by_number:
            merged.append(by_number[part.number])
        elif stopped is not None:
            merged.append(
                PartResult(part, problem=stopped.problem, warnings=list(stopped.warnings))
            )
        else:
            merged.append(_lost(part, why))
    return merged


@contextlib.contextmanager
def spares(lanes: int) -> Iterator[None]:
    """Zygotes for the lanes this process will fork: copies of its own, ready in
    milliseconds (closed afterwards if no lane took them)."""
    spawner.start_spares(max(0, lanes - 1))
    try:
        yield
    finally:
        spawner.close_spares()
