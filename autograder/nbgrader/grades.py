"""Feedback for students and the grades export (with the reasons for ungraded work)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from autograder.nbgrader.autograde import not_graded, stopped_notes
from autograder.nbgrader.course_dir import (
    HIDDEN_CALL,
    VISIBLE_CALL,
    CourseError,
    api,
    gradebook,
    require_course,
)

# -- feedback and grades --------------------------------------------------------------------


def feedback(course_dir: Path, names: Iterable[str] | None = None) -> list[Path]:
    """``nbgrader generate_feedback`` (hidden tests cleared) for every autograded notebook."""
    course_dir = require_course(course_dir)
    autograded = {p.name for p in (course_dir / "autograded").glob("*/*") if p.is_dir()}
    names = sorted(set(names) & autograded if names else autograded)
    if not names:
        raise CourseError("nothing is autograded yet: run `make autograde` first")
    grader = api(course_dir)
    for name in names:
        result = grader.generate_feedback(name, force=True)
        if not result["success"]:
            raise CourseError(f"generate_feedback {name} failed:\n{result.get('error', '')}")
    return sorted((course_dir / "feedback").glob("*/*/*.html"))


@dataclass(frozen=True)
class GradeRow:
    """One line of the grades export."""

    assignment: str
    student: str
    score: float | None
    max_score: float
    status: str
    reason: str


def grade_rows(course_dir: Path) -> list[GradeRow]:
    """Every student x assignment in the gradebook, with the not-graded reasons.

    A submission nbgrader could not grade has no score (not 0) and status ``not graded``.
    """
    from nbgrader.api import MissingEntry

    course_dir = require_course(course_dir)
    failed = not_graded(course_dir)
    notes = stopped_notes(course_dir)
    rows: list[GradeRow] = []
    with gradebook(course_dir) as book:
        for assignment in sorted(book.assignments, key=lambda a: a.name):
            for student in sorted(book.students, key=lambda s: s.id):
                key = f"{assignment.name}/{student.id}"
                try:
                    submission = book.find_submission(assignment.name, student.id)
                except MissingEntry:
                    rows.append(
                        GradeRow(
                            assignment.name,
                            student.id,
                            0.0,
                            assignment.max_score,
                            "missing",
                            "no submission",
                        )
                    )
                    continue
                if key in failed:
                    rows.append(
                        GradeRow(
                            assignment.name,
                            student.id,
                            None,
                            assignment.max_score,
                            "not graded",
                            failed[key],
                        )
                    )
                else:
                    note = notes.get(key, "")
                    rows.append(
                        GradeRow(
                            assignment.name,
                            student.id,
                            submission.score,
                            assignment.max_score,
                            "graded, stopped early" if note else "graded",
                            note,
                        )
                    )
    return rows


def export_grades(course_dir: Path, target: Path) -> Path:
    """Write the grades CSV (``make grades``)."""
    rows = grade_rows(course_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "student", "score", "max_score", "status", "reason"])
        for row in rows:
            score = "" if row.score is None else f"{row.score:g}"
            writer.writerow(
                [row.assignment, row.student, score, f"{row.max_score:g}", row.status, row.reason]
            )
    return target


def export_mistakes(course_dir: Path, target: Path) -> tuple[list[str], tuple[Path, Path]]:
    """The diagnosed mistakes of the class, read from the autograded notebooks, as a table
    (printed lines), a CSV (``target``) and a bar chart beside it."""
    from autograder.diagnosis import classes

    autograded = require_course(course_dir) / "autograded"
    found = classes.from_notebooks(autograded) if autograded.is_dir() else {}
    table = classes.rows(found)
    return classes.lines(table, len(found)), classes.write(table, target, len(found))


def check_scores(course_dir: Path) -> dict[tuple[str, str], dict[str, float]]:
    """(assignment, student) -> {check id: auto score}, read from the gradebook.

    Hidden test cells are named ``hidden_<n>`` in notebooks; their check id comes from the
    source notebook's cell.
    """
    course_dir = require_course(course_dir)
    ids = _check_ids(course_dir)
    scores: dict[tuple[str, str], dict[str, float]] = {}
    with gradebook(course_dir) as book:
        for assignment in book.assignments:
            for submission in assignment.submissions:
                per_check = scores.setdefault((assignment.name, submission.student.id), {})
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        check = ids.get((assignment.name, notebook.name, grade.name), grade.name)
                        per_check[check] = grade.score
    return scores


def _check_ids(course_dir: Path) -> dict[tuple[str, str, str], str]:
    """(assignment, notebook, grade_id) -> check id, from the source notebooks' cells."""
    import nbformat

    ids: dict[tuple[str, str, str], str] = {}
    for path in (course_dir / "source").glob("*/*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            match = HIDDEN_CALL.search(cell.source) or VISIBLE_CALL.search(cell.source)
            if grade_id and match:
                ids[(path.parent.name, path.stem, grade_id)] = match.group("id")
    return ids
