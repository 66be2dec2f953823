"""``crosscheck``: regrade nbgrader's submissions with the isolated grader and compare.

A notebook runs the student's code and the checks in one kernel, so a notebook can tamper
with its own checks; the isolated grader cannot be. Every check that nbgrader scored above
the isolated grader is reported.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from autograder.grader.grade import grade
from autograder.grader.results import gradescope
from autograder.nbgrader.course_dir import CourseError, require_course
from autograder.nbgrader.grades import check_scores


@dataclass(frozen=True)
class Discrepancy:
    """A check nbgrader scored higher than the isolated grader did."""

    assignment: str
    student: str
    check: str
    nbgrader: float
    isolated: float


def isolated_scores(results: Mapping[str, Any]) -> dict[str, float]:
    """Check id -> score from the grader's ``results.json`` (each test's ``extra_data``)."""
    scores: dict[str, float] = {}
    for test in results.get("tests", []):
        check = (test.get("extra_data") or {}).get("check")
        if check:
            scores[str(check)] = float(test.get("score", 0.0))
    return scores


def compare(
    nbgrader: Mapping[tuple[str, str], Mapping[str, float]],
    isolated: Mapping[tuple[str, str], Mapping[str, float]],
) -> list[Discrepancy]:
    """Every check of every submission that nbgrader scored above the isolated grader.

    A check the isolated grader did not report counts as 0 there: nbgrader's points for it
    are then unexplained, which is what a notebook that tampered with its checks looks like.
    """
    found = []
    for key, checks in sorted(nbgrader.items()):
        theirs = isolated.get(key, {})
        for check, score in sorted(checks.items()):
            if score > theirs.get(check, 0.0) + 1e-9:
                found.append(Discrepancy(*key, check, score, theirs.get(check, 0.0)))
    return found


def crosscheck(
    course_dir: Path, out: Path, students: Iterable[str] | None = None
) -> list[Discrepancy]:
    """Regrade the autograded submissions (of ``students``, default all) and compare."""
    course_dir = require_course(course_dir)
    wanted = set(students) if students else None
    ours = {k: v for k, v in check_scores(course_dir).items() if wanted is None or k[1] in wanted}
    if not ours:
        raise CourseError("nothing is autograded yet: run `make autograde` first")
    out.mkdir(parents=True, exist_ok=True)
    theirs: dict[tuple[str, str], dict[str, float]] = {}
    for assignment, student in ours:
        # Only the notebooks: a module file beside them (saved by the student's own run, or
        # put there by hand) is not what nbgrader graded.
        notebooks_only = out / student / assignment / "notebooks"
        if notebooks_only.exists():
            shutil.rmtree(notebooks_only)
        notebooks_only.mkdir(parents=True)
        for notebook in (course_dir / "submitted" / student / assignment).glob("*.ipynb"):
            shutil.copy(notebook, notebooks_only / notebook.name)
        report = grade(notebooks_only, hide=(out,))
        results = gradescope(report)
        (out / student / assignment / "results.json").write_text(
            json.dumps(results, indent=2) + "\n", encoding="utf-8"
        )
        theirs[(assignment, student)] = isolated_scores(results)
    found = compare(ours, theirs)
    (out / "crosscheck.json").write_text(
        json.dumps([asdict(d) for d in found], indent=2) + "\n", encoding="utf-8"
    )
    return found
