"""Grade one submission, part by part, without trusting it.

For each part, the student's module is imported in a sandboxed worker process
(:mod:`autograder.grader.sandbox`); the earlier parts it builds on are shims whose calls run
the reference implementation in this process, so each part is graded on its own. Every check
runs here, in the grader's process, on proxies of the student's objects: the verdicts never
depend on anything the student's process says about itself.

What a submission may cost is bounded: a total time budget (after which the remaining
checks score 0 and the results are still written), the grader's own memory
(:class:`~autograder.grader.limits.MemoryBound`), and the limits of each worker. Nothing the
submission does makes :func:`grade` raise: every failure becomes a verdict with its reason.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from hypothesis import settings

from autograder.core.assemble import REFERENCE, plan
from autograder.core.rubric import Check, Part, Rubric, load_rubric
from autograder.core.runner import check_function, run_check
from autograder.core.shortcuts import find_shortcuts
from autograder.diagnosis.grading import diagnose_in_sandbox
from autograder.grader import speedrun
from autograder.grader.lanes import LaneResults, grade_in_lanes, spares
from autograder.grader.limits import GRADER_MEMORY_MB, Limits, MemoryBound
from autograder.grader.results import CheckResult, PartResult, Report
from autograder.grader.sandbox import Sandbox, SandboxError
from autograder.grader.submission import prepare

BUDGET_S = 480.0
"""Wall-clock seconds one submission may use in all (Gradescope's default limit is 10
minutes; the reference takes a small part of this on half a CPU)."""
LANE_GRACE_S = 60.0
"""Seconds past the submission's deadline after which a lane still grading is killed (each
lane keeps the deadline itself; this is for a grader that does not)."""
TIMEOUTS_PER_PART = 2
"""After this many checks of a part ran out of time, the part's other checks are not run:
a module that hangs would otherwise spend a wall-clock limit on every check."""


class Unprotected(Exception):
    """The sandbox could not apply its protections here and the grader was not told to go on."""


@dataclass
class Clock:
    """The submission's time budget, and each part's share of what is left."""

    deadline: float
    parts_left: int

    def part_deadline(self) -> float:
        """A part may use up to twice its fair share of the time left (never more than all)."""
        left = max(0.0, self.deadline - time.monotonic())
        share = 2 * left / max(1, self.parts_left)
        self.parts_left -= 1
        return time.monotonic() + min(left, share)


def _fail_all(result: PartResult, checks: Iterable[Check], message: str) -> PartResult:
    result.results = [CheckResult(c, False, message) for c in checks]
    return result


def _not_run(check: Check, reason: str) -> CheckResult:
    return CheckResult(check, False, f"not run: {reason}")


def grade_part(
    part: Part,
    folder: Path,
    rubric: Rubric,
    limits: Limits,
    isolate: bool = True,
    hide: tuple[Path, ...] = (),
    deadline: float | None = None,
    chosen: settings | None = None,
    seed: int | None = None,
    allow_unprotected: bool = False,
) -> PartResult:
    """Run every check of ``part`` against the module in ``folder``.

    Checks left after ``deadline`` (``time.monotonic()``) are not run and score 0. A module
    that does not import (or whose process dies or hangs while importing) fails every check
    with that one message: importing it again for each check would cost a start-up and, for
    a hanging import, a wall-clock limit per check.

    Raises:
        Unprotected: the sandbox could not apply a protection and ``allow_unprotected`` is
            False (the grader refuses to grade rather than run student code unprotected).
    """
    checks = rubric.checks_of(part.number)
    result = PartResult(part)
    path = folder / f"{part.module}.py"
    if not path.is_file():
        result.problem = f"the submission has no {part.module}.py"
        return _fail_all(result, checks, result.problem)
    source = path.read_text(encoding="utf-8", errors="replace")
    used = find_shortcuts(source, part.forbidden)
    if used:
        listed = "; ".join(str(s) for s in used)
        result.problem = (
            f"{part.module}.py uses a shortcut part {part.number} forbids ({listed}): "
            f"write it yourself. Every check of this part scores 0 until then."
        )
        return _fail_all(result, checks, result.problem)
    earlier = plan(part.depends, implementation_is_reference=False, reference=True)
    dependencies = {
        name: importlib.import_module(f"solutions.{name}")
        for name, whose in earlier.items()
        if whose == REFERENCE
    }
    deadline = deadline if deadline is not None else time.monotonic() + BUDGET_S
    load_failure: str | None = None
    timeouts = 0
    with Sandbox(folder, [part.module], dependencies, limits, hide=hide, isolate=isolate) as box:
        for check in checks:
            if load_failure is not None:
                result.results.append(CheckResult(check, False, load_failure))
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                result.results.append(_not_run(check, "the submission used up its time"))
                continue
            if timeouts >= TIMEOUTS_PER_PART:
                reason = f"{timeouts} checks of part {part.number} ran out of time before it"
                result.results.append(_not_run(check, reason))
                continue
            try:
                module = box.module(part.module)
            except SandboxError as error:
                load_failure = str(error)
                result.results.append(CheckResult(check, False, load_failure))
                continue
            if box.unapplied and not allow_unprotected:
                raise Unprotected("; ".join(box.unapplied))
            result.warnings = [f"protection not applied: {u}" for u in box.unapplied]
            try:
                box.reset(budget_s=left)
            except SandboxError as error:
                result.results.append(CheckResult(check, False, str(error)))
                continue
            verdict = run_check(
                check_function(check, rubric),
                {part.module: module},
                roots=(f"{part.module}.py",),
                chosen=chosen,
                seed=seed,
            )
            timeouts += "wall-clock limit" in verdict.message and not verdict.passed
            result.results.append(
                CheckResult(check, verdict.passed, verdict.message, verdict.seconds)
            )
        if load_failure is None and not timeouts and not all(r.passed for r in result.results):
            result.diagnosis = diagnose_in_sandbox(box, part, deadline)
    return result


def _costliest_first(parts: list[Part]) -> list[Part]:
    """``parts`` in the order lanes should take them: a part that builds on more earlier
    parts calls more of the reference through the channel (part 7 builds on three and takes
    half a grade), and the longest part started first ends the grade soonest."""
    return sorted(parts, key=lambda part: -len(part.depends))


def _grade_parts(claimed: Iterator[Part], grade_one: Callable[[Part], PartResult]) -> LaneResults:
    """Grade each part ``claimed`` yields with ``grade_one``; a failure of the grader itself
    fails that part only, and a refusal to grade unprotected stops the lane."""
    lane = LaneResults()
    for part in claimed:
        try:
            lane.parts.append(grade_one(part))
        except Unprotected as refused:
            message = (
                "not graded: the autograder could not protect itself on this machine; "
                "your instructor has been told"
            )
            warning = f"refused to grade, protection not applied: {refused}"
            lane.stopped = PartResult(part, problem=message, warnings=[warning])
            break
        except Exception as error:
            message = (
                f"not graded: the grader failed on part {part.number} "
                f"({type(error).__name__}); your instructor has been told"
            )
            failed = PartResult(part, problem=message)
            failed.warnings = [f"the grader failed: {type(error).__name__}: {error}"]
            lane.parts.append(failed)
    return lane


def grade(
    submission: Path,
    parts: Iterable[int] | None = None,
    limits: Limits | None = None,
    isolate: bool = True,
    hide: tuple[Path, ...] = (),
    rubric: Rubric | None = None,
    budget_s: float = BUDGET_S,
    chosen: settings | None = None,
    seed: int | None = None,
    allow_unprotected: bool = False,
    grader_memory_mb: int = GRADER_MEMORY_MB,
    lanes: int = 1,
) -> Report:
    """Grade ``submission`` (a folder, a zip, or a folder of notebooks); never raises.

    Args:
        submission: what the student handed in.
        parts: the part numbers to grade (all when None).
        limits: the worker's resource limits.
        isolate: run the student's code in its own namespaces as an unprivileged user
            where the grader has the privileges to.
        hide: folders the student's code must not see (the results file's, for one).
        rubric: the rubric (the course's when None).
        budget_s: wall-clock seconds the whole submission may use.
        chosen: hypothesis settings of the checks (the grading settings when None).
        seed: hypothesis's seed (None: the settings decide; the grading ones derandomize).
        allow_unprotected: grade even where the sandbox cannot apply its protections (it
            says which in :attr:`Report.warnings`); otherwise such a grade is refused.
        grader_memory_mb: the grader's own memory while grading, beyond what it held (with
            several lanes, shared equally between their processes).
        lanes: grader processes that grade parts at once (:mod:`autograder.grader.lanes`).
    """
    start = time.monotonic()
    rubric = rubric or load_rubric()
    limits = limits or Limits()
    selected = [rubric.parts[n] for n in (parts or rubric.parts) if n in rubric.parts]
    lanes = max(1, min(lanes, len(selected)))
    # The reference runs here on small tensors: one thread is fastest, and a grader that
    # shares the machine with its sandboxed workers should not compete with them.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    results: list[PartResult] = []
    problems: list[str] = []
    run: speedrun.Speedrun | None = None
    try:
        with (
            tempfile.TemporaryDirectory(prefix="grade-") as scratch,
            MemoryBound(grader_memory_mb // lanes),
            spares(lanes),
        ):
            prepared = prepare(Path(submission), Path(scratch), rubric)
            problems = prepared.problems
            # The speedrun's time is kept aside, so that the parts' checks never wait on it.
            wants_speedrun = speedrun.wanted(prepared.folder, [p.number for p in selected])
            deadline = start + budget_s - (speedrun.WALL_S if wants_speedrun else 0.0)
            share = -(-len(selected) // lanes)

            def grade_parts(claimed: Iterator[Part]) -> LaneResults:
                clock = Clock(deadline, share)
                return _grade_parts(
                    claimed,
                    lambda part: grade_part(
                        part,
                        prepared.folder,
                        rubric,
                        limits,
                        isolate,
                        hide,
                        clock.part_deadline(),
                        chosen,
                        seed,
                        allow_unprotected or not isolate,
                    ),
                )

            graded = grade_in_lanes(
                _costliest_first(selected), lanes, grade_parts, deadline + LANE_GRACE_S
            )
            order = {part.number: index for index, part in enumerate(selected)}
            results = sorted(
                (
                    _fail_all(r, rubric.checks_of(r.part.number), r.problem or "")
                    if not r.results and r.problem
                    else r
                    for r in graded
                ),
                key=lambda r: order[r.part.number],
            )
            if wants_speedrun:
                run = speedrun.run(
                    prepared.folder / speedrun.FILE_NAME,
                    min(start + budget_s, time.monotonic() + speedrun.WALL_S),
                )
    except Exception as error:
        problems.append(f"the grader could not read the submission ({type(error).__name__})")
        graded_numbers = {r.part.number for r in results}
        for part in selected:
            if part.number not in graded_numbers:
                results.append(
                    _fail_all(PartResult(part), rubric.checks_of(part.number), problems[-1])
                )
    finally:
        torch.set_num_threads(threads)
    return Report(results, time.monotonic() - start, problems, speedrun=run)
