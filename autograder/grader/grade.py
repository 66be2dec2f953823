"""Grade one submission, part by part, without trusting it.

For each part, the student's module is imported in a sandboxed worker process
(:mod:`autograder.grader.sandbox`); the earlier parts it builds on are shims whose calls run the
reference implementation in this process, so each part is graded on its own. Every check
runs here, in the grader's process, on proxies of the student's objects: the verdicts never
depend on anything the student's process says about itself.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import torch
from hypothesis import settings

from autograder.core import profiles
from autograder.core.assemble import REFERENCE, plan
from autograder.core.rubric import Part, Rubric, load_rubric
from autograder.core.runner import check_function, run_check
from autograder.core.shortcuts import find_shortcuts
from autograder.grader.results import CheckResult, PartResult, Report
from autograder.grader.sandbox import Limits, Sandbox, SandboxError
from autograder.grader.submission import SubmissionError, prepare

PART_BUDGET_S = 900.0
"""Wall-clock seconds a part may use in all; checks left after that are not run.

Generous on purpose: it only stops a submission that makes every check run into its time
limit, and must never cut short a correct one on a slow or busy machine (the reference's
slowest part takes well under a minute on an idle 2-core CPU)."""


def _fail_all(part_result: PartResult, checks: Iterable, message: str) -> PartResult:
    part_result.results = [CheckResult(c, False, message) for c in checks]
    return part_result


def grade_part(
    part: Part,
    folder: Path,
    rubric: Rubric,
    limits: Limits,
    isolate: bool = True,
    hide: tuple[Path, ...] = (),
    budget_s: float = PART_BUDGET_S,
    chosen: settings | None = None,
    seed: int | None = None,
) -> PartResult:
    """Run every check of ``part`` against the module in ``folder``.

    ``budget_s`` is the wall-clock time the whole part may use; checks left after it are
    not run and score 0. A module that does not import (or whose process dies or hangs
    while importing) fails every check with that one message: importing it again for each
    check would cost a start-up and, for a hanging import, a wall-clock limit per check.
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
    start = time.monotonic()
    load_failure: str | None = None
    with Sandbox(folder, [part.module], dependencies, limits, hide=hide, isolate=isolate) as box:
        for check in checks:
            if load_failure is not None:
                result.results.append(CheckResult(check, False, load_failure))
                continue
            if time.monotonic() - start > budget_s:
                message = f"not run: part {part.number} used up its {budget_s:g} s"
                result.results.append(CheckResult(check, False, message))
                continue
            try:
                module = box.module(part.module)
            except SandboxError as error:
                load_failure = str(error)
                result.results.append(CheckResult(check, False, load_failure))
                continue
            try:
                box.reset()
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
            result.results.append(
                CheckResult(check, verdict.passed, verdict.message, verdict.seconds)
            )
        result.notes = [f"protection not applied: {u}" for u in box.unapplied]
    return result


def grade(
    submission: Path,
    parts: Iterable[int] | None = None,
    limits: Limits | None = None,
    isolate: bool = True,
    hide: tuple[Path, ...] = (),
    rubric: Rubric | None = None,
    budget_s: float = PART_BUDGET_S,
    chosen: settings | None = None,
    seed: int | None = None,
) -> Report:
    """Grade ``submission`` (a folder, a zip, or a folder of notebooks).

    Args:
        submission: what the student handed in.
        parts: the part numbers to grade (all when None).
        limits: the worker's resource limits.
        isolate: run the student's code as an unprivileged user in its own namespace where
            the grader has the privileges to.
        hide: folders the student's code must not see (the results file's, for one).
        rubric: the rubric (the course's when None).
        budget_s: wall-clock seconds each part may use in all (:func:`grade_part`).
        chosen: hypothesis settings of the checks (the grading settings when None).
        seed: hypothesis's seed (None: the settings decide; the grading ones derandomize).
    """
    profiles.use("grading")
    # The reference runs here on small tensors: one thread is fastest, and a grader that
    # shares the machine with its sandboxed workers should not compete with them.
    torch.set_num_threads(1)
    rubric = rubric or load_rubric()
    limits = limits or Limits()
    selected = [rubric.parts[n] for n in (parts or rubric.parts)]
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        try:
            prepared = prepare(Path(submission), Path(scratch), rubric)
        except SubmissionError as error:
            parts_results = [
                _fail_all(PartResult(p, problem=str(error)), rubric.checks_of(p.number), str(error))
                for p in selected
            ]
            return Report(parts_results, time.monotonic() - start, [str(error)])
        results = [
            grade_part(part, prepared.folder, rubric, limits, isolate, hide, budget_s, chosen, seed)
            for part in selected
        ]
    return Report(results, time.monotonic() - start, prepared.problems)
