"""The fairness sweep: correct code gets every point, whatever the draw, machine or route.

Every graded check runs against the reference and against every correct variant of its part
(``tests/mistakes/``), with many random hypothesis seeds (not only the grading draw), with
1, 2 and 4 torch threads, on every device present, in this process and through the isolated
grader. Any failure is a *false failure*: the check's verdict depended on something other
than the student's code.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from autograder.core import profiles
from autograder.core.rubric import Part, Rubric, load_rubric

from . import implementations, mutants

ROUTES = ("in-process", "isolated")


@dataclass(frozen=True)
class Trial:
    """One run of a part's checks: which implementation, seed, threads, device and route."""

    part: Part
    implementation: str
    seed: int
    threads: int
    device: str
    route: str

    def __str__(self) -> str:
        return (
            f"part {self.part.number} on {self.implementation} (seed {self.seed}, "
            f"{self.threads} thread{'s' if self.threads > 1 else ''}, {self.device}, {self.route})"
        )


@dataclass(frozen=True)
class FalseFailure:
    trial: Trial
    check: str
    message: str

    def __str__(self) -> str:
        return f"FALSE FAILURE {self.check} {self.trial}:\n    " + self.message.replace(
            "\n", "\n    "
        )


@dataclass
class Tally:
    """How many check runs the sweep made and which of them failed."""

    runs: int = 0
    failures: list[FalseFailure] = field(default_factory=list)


def correct_implementations(part: Part, workdir: Path) -> list[tuple[str, Path]]:
    """``(label, folder)`` of the reference and of each correct variant of ``part``."""
    found = [("the reference", implementations.SOLUTIONS)]
    for mutant in mutants.catalogue(part):
        if mutant.correct:
            folder = implementations.reference_with(
                workdir / f"{part.stem}-{mutant.name}", part, mutant.source
            )
            found.append((f"variant {mutant.name}", folder))
    return found


def devices() -> list[str]:
    """``cpu``, and ``cuda`` where there is one."""
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def _in_process(
    trial: Trial, folder: Path, rubric: Rubric, examples: int
) -> dict[str, tuple[bool, str]]:
    torch.set_num_threads(trial.threads)
    checks = rubric.checks_of(trial.part.number)
    results = implementations.verdicts(
        folder,
        trial.part,
        checks,
        rubric,
        chosen=profiles.sweeping(examples),
        seed=trial.seed,
        device=trial.device,
    )
    return {check: (v.passed, v.message) for check, v in results.items()}


def _isolated(
    trial: Trial, folder: Path, rubric: Rubric, examples: int
) -> dict[str, tuple[bool, str]]:
    from autograder.grader.grade import grade
    from autograder.grader.sandbox import Limits

    report = grade(
        folder,
        parts=[trial.part.number],
        limits=Limits(threads=trial.threads),
        rubric=rubric,
        chosen=profiles.sweeping(examples),
        seed=trial.seed,
    )
    torch.set_num_threads(trial.threads)
    return {r.check.id: (r.passed, r.message) for p in report.parts for r in p.results}


def sweep(
    seeds: Sequence[int],
    examples: int = 10,
    threads: Sequence[int] = (1, 2, 4),
    routes: Iterable[str] = ("in-process",),
    isolated_seeds: Sequence[int] = (),
    parts: Iterable[int] | None = None,
    rubric: Rubric | None = None,
    on: Sequence[str] | None = None,
    progress: Callable[[Trial], None] | None = None,
) -> Iterator[tuple[Trial, dict[str, tuple[bool, str]]]]:
    """Run every part's checks on every correct implementation; yield each trial's verdicts.

    In this process each seed of ``seeds`` runs with the next thread count of ``threads`` in
    turn, on every device; through the isolated grader (a route in ``routes``), each of
    ``isolated_seeds`` does the same on the CPU. ``on`` narrows the devices in this process
    (default: every device present).
    """
    rubric = rubric or load_rubric()
    before = torch.get_num_threads()
    try:
        with tempfile.TemporaryDirectory(prefix="fairness-") as scratch:
            for number in parts or rubric.parts:
                part = rubric.parts[number]
                for label, folder in correct_implementations(part, Path(scratch)):
                    plan: list[tuple[int, str, str]] = []
                    if "in-process" in routes:
                        plan += [(s, d, "in-process") for s in seeds for d in on or devices()]
                    if "isolated" in routes:
                        plan += [(s, "cpu", "isolated") for s in isolated_seeds]
                    for index, (seed, device, route) in enumerate(plan):
                        count = threads[index % len(threads)]
                        trial = Trial(part, label, seed, count, device, route)
                        if progress is not None:
                            progress(trial)
                        run = _isolated if route == "isolated" else _in_process
                        yield trial, run(trial, folder, rubric, examples)
    finally:
        torch.set_num_threads(before)


def tally(results: Iterable[tuple[Trial, dict[str, tuple[bool, str]]]]) -> Tally:
    """Count the check runs and collect the false failures."""
    total = Tally()
    for trial, verdicts in results:
        total.runs += len(verdicts)
        total.failures += [
            FalseFailure(trial, check, message)
            for check, (passed, message) in verdicts.items()
            if not passed
        ]
    return total
