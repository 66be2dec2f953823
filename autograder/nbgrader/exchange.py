"""The exchange: publish released assignments, collect submissions (or LMS zips)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import nbformat

from autograder.nbgrader.course_dir import (
    CourseError,
    api,
    assignments,
    exchange_root,
    require_course,
)

# -- exchange -------------------------------------------------------------------------------


def fill_with_solutions(notebook: Path, source: Path) -> None:
    """Put the source notebook's solution cells into ``notebook`` (what a good student does)."""
    solutions = {
        cell.metadata["nbgrader"].get("grade_id"): cell.source
        for cell in nbformat.read(source, as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    filled = nbformat.read(notebook, as_version=4)
    for cell in filled.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
    nbformat.write(filled, notebook)


def publish(course_dir: Path, names: Iterable[str] | None = None) -> list[str]:
    """``nbgrader release_assignment``: put the released assignments into the exchange."""
    course_dir = require_course(course_dir)
    names = list(names or assignments(course_dir, "release"))
    if not names:
        raise CourseError("nothing is released yet: run `make release` first")
    exchange_root(course_dir)
    grader = api(course_dir)
    for name in names:
        result = grader.release_assignment(name)
        if not result["success"]:
            raise CourseError(f"release_assignment {name} failed:\n{result.get('error', '')}")
    return names


def collect(course_dir: Path, names: Iterable[str] | None = None) -> dict[str, int]:
    """``nbgrader collect``: copy the students' submissions from the exchange to submitted/."""
    course_dir = require_course(course_dir)
    names = list(names or assignments(course_dir, "release"))
    if not names:
        raise CourseError("nothing is released yet: run `make release` first")
    grader = api(course_dir)
    exchange = Path(grader.config.Exchange.root) / grader.config.CourseDirectory.course_id
    counts: dict[str, int] = {}
    for name in names:
        if not (exchange / "outbound" / name).is_dir():
            raise CourseError(
                f"{name} is not in the exchange {exchange}: run `make publish` first, then "
                "students fetch it and submit their work"
            )
        result = grader.collect(name, update=True)
        if not result["success"]:
            raise CourseError(f"collect {name} failed:\n{result.get('error', '')}")
        counts[name] = len(list((course_dir / "submitted").glob(f"*/{name}")))
    return counts


def zip_collect(course_dir: Path, names: Iterable[str] | None = None) -> dict[str, int]:
    """``nbgrader zip_collect``: unpack LMS downloads from downloaded/<assignment>/archive/.

    Without ``names``, every assignment that has such a folder.
    """
    course_dir = require_course(course_dir)
    downloaded = course_dir / "downloaded"
    names = list(names or sorted(p.parent.name for p in downloaded.glob("*/archive")))
    if not names:
        raise CourseError(
            f"put the learning-management system's zip of an assignment into "
            f"{downloaded}/<assignment>/archive/ first (file names inside: "
            f"<student>_<notebook>.ipynb)"
        )
    counts = {}
    for name in names:
        archive = downloaded / name / "archive"
        if not archive.is_dir() or not any(archive.iterdir()):
            raise CourseError(f"{archive}/ is empty: put the zip of {name} there first")
        completed = subprocess.run(
            [sys.executable, "-m", "nbgrader", "zip_collect", name, "--force"],
            cwd=course_dir,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            },
        )
        if completed.returncode:
            raise CourseError(f"zip_collect {name} failed:\n{completed.stderr[-3000:]}")
        counts[name] = len(list((course_dir / "submitted").glob(f"*/{name}")))
    return counts
