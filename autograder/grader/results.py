"""Grading results and their Gradescope ``results.json`` form.

Gradescope's schema: a top-level ``score``, ``execution_time``, ``output`` and a ``tests``
list whose entries have ``name``, ``number``, ``score``, ``max_score``, ``output``,
``visibility``, ``status`` and ``extra_data``. Hidden checks are ``after_due_date``: the
student sees them once the deadline has passed.

Every text that may come from student code is cut to :data:`MAX_TEXT` characters with a
note saying so, and the whole file is kept under :data:`MAX_BYTES` (Gradescope and its
peers refuse larger results). What only the instructor may read (the grader's warnings,
which name the grader's own folders) goes into a hidden entry, never into what a student
sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autograder.core.rubric import Check, Part
from tests.probes import Diagnosis

if TYPE_CHECKING:
    from autograder.grader.speedrun import Speedrun

VISIBILITY = {"visible": "visible", "hidden": "after_due_date"}
MAX_TEXT = 4000
"""Characters of one message from student code kept in the results."""
MAX_BYTES = 900_000
"""The most bytes ``results.json`` may take (Gradescope's limit is about 1 MB)."""


def cap(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, with a note saying how much was cut."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit} more characters cut]"


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one graded check."""

    check: Check
    passed: bool
    message: str
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return self.check.points if self.passed else 0.0


@dataclass
class PartResult:
    """The verdicts of one part, and what kept the part from being graded, if anything.

    ``warnings`` are for the instructor only (protections the sandbox could not apply, the
    grader's own failures): they may name the grader's folders. ``diagnosis`` is the known
    mistake the part's code makes, when exactly one matches every probe.
    """

    part: Part
    results: list[CheckResult] = field(default_factory=list)
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)
    diagnosis: Diagnosis | None = None

    @property
    def score(self) -> float:
        return sum(r.score for r in self.results)


@dataclass
class Report:
    """Everything the grader found about one submission."""

    parts: list[PartResult]
    seconds: float
    problems: list[str] = field(default_factory=list)
    speedrun: Speedrun | None = None
    """Part 9's speedrun, when the submission has a recipe (a leaderboard entry, no points)."""

    @property
    def score(self) -> float:
        return sum(p.score for p in self.parts)

    @property
    def warnings(self) -> list[str]:
        return [f"part {p.part.number}: {w}" for p in self.parts for w in p.warnings]

    def per_part(self) -> dict[int, float]:
        return {p.part.number: p.score for p in self.parts}


def _test_entry(part: PartResult, index: int, result: CheckResult, limit: int) -> dict[str, Any]:
    check = result.check
    prefix = "extra credit: " if check.bonus else ""
    output = result.message if not result.passed else "passed"
    if part.problem and not result.passed:
        output = part.problem
    extra: dict[str, Any] = {"check": check.id, "part": part.part.number}
    if part.diagnosis is not None and not result.passed:
        output = f"{part.diagnosis.message}\n\n{output}"
        extra["diagnosis"] = part.diagnosis.name
    return {
        "name": f"part {part.part.number} · {check.id}: {prefix}{check.description}",
        "number": f"{part.part.number}.{index}",
        "score": result.score,
        # Extra credit counts towards the score but not the assignment's maximum.
        "max_score": 0.0 if check.bonus else check.points,
        "output": cap(output, limit),
        "visibility": VISIBILITY[check.visibility],
        "status": "passed" if result.passed else "failed",
        "tags": [f"part{part.part.number}", part.part.module],
        "extra_data": extra,
    }


def _part_line(part: PartResult) -> str:
    """What the student reads about one part before the due date: visible checks only."""
    visible = [r for r in part.results if not r.check.hidden]
    earned = sum(r.score for r in visible if not r.check.bonus)
    available = sum(r.check.points for r in visible if not r.check.bonus)
    line = f"part {part.part.number} ({part.part.module}): {earned:g} / {available:g} points"
    extra = [r for r in visible if r.check.bonus]
    if extra:
        line += f" (+{sum(r.score for r in extra):g} extra credit)"
    hidden = sum(r.check.points for r in part.results if r.check.hidden and not r.check.bonus)
    if hidden:
        line += (
            f" in the visible checks; hidden checks worth {hidden:g} more points are graded too "
            "and shown after the due date"
        )
    return line


def _results(report: Report, limit: int) -> dict[str, Any]:
    tests = [
        _test_entry(part, index, result, limit)
        for part in report.parts
        for index, result in enumerate(part.results, start=1)
    ]
    lines = [_part_line(p) for p in report.parts]
    if any(r.check.hidden for p in report.parts for r in p.results):
        lines.append(
            "The total score includes the hidden checks: until the due date it may be higher "
            "or lower than the visible checks alone."
        )
    lines += [cap(problem, limit // 4) for problem in report.problems[:20]]
    if report.warnings:
        tests.append(
            {
                "name": "grader warnings (instructors only)",
                "score": 0.0,
                "max_score": 0.0,
                "output": cap("\n".join(report.warnings), limit),
                "visibility": "hidden",
                "status": "failed",
                # Not a check: tools that read extra_data.check find None.
                "extra_data": {"check": None, "part": None, "warnings": len(report.warnings)},
            }
        )
    data = {
        "score": round(report.score, 4),
        "execution_time": round(report.seconds, 2),
        "output": cap("\n".join(lines), 4 * MAX_TEXT),
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    if report.speedrun is not None:
        tests.append(report.speedrun.test_entry())
        if report.speedrun.leaderboard():
            data["leaderboard"] = report.speedrun.leaderboard()
    return data


def gradescope(report: Report) -> dict[str, Any]:
    """``report`` in Gradescope's ``results.json`` schema, under :data:`MAX_BYTES`."""
    limit = MAX_TEXT
    while True:
        data = _results(report, limit)
        if len(json.dumps(data).encode()) <= MAX_BYTES or limit <= 100:
            return data
        limit //= 4
