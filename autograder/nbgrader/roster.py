"""The class list: students by name in the formgrader, imported from a CSV roster.

``make students ROSTER=students.csv`` reads a CSV with the columns ``id`` (the login the
exchange knows the student by), ``first_name``, ``last_name`` and, optionally, ``email``
and ``lms_user_id``, and creates or updates every student of the gradebook.
"""

from __future__ import annotations

import csv
from pathlib import Path

from autograder.nbgrader.course_dir import CourseError, gradebook, require_course

COLUMNS = ("id", "first_name", "last_name", "email", "lms_user_id")


def import_roster(course_dir: Path, roster: Path) -> int:
    """Create or update the students listed in ``roster``; how many there were."""
    course_dir = require_course(course_dir)
    try:
        with roster.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise CourseError(f"cannot read the roster {roster}: {error.strerror}") from None
    if not rows or "id" not in rows[0]:
        raise CourseError(
            f"{roster} needs a header row with the columns id, first_name, last_name "
            "(and optionally email, lms_user_id)"
        )
    with gradebook(course_dir) as book:
        for number, row in enumerate(rows, start=2):
            student = (row.get("id") or "").strip()
            if not student:
                raise CourseError(f"{roster}, line {number}: the id is empty")
            details = {k: (row.get(k) or "").strip() or None for k in COLUMNS[1:]}
            book.update_or_create_student(student, **details)
    return len(rows)
