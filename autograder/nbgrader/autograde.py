"""``autograde``: grade every submission, in parallel, and never lose one silently.

A submission nbgrader could not grade (not JSON, a renamed ``grade_id``, a dead kernel) is
listed with its reason (``not_graded.json`` in the course directory) and shows up so in the
grades export, never as a silent 0.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from autograder.nbgrader.course_dir import (
    CourseError,
    api,
    assignments,
    grading_environment,
    require_course,
)

NOT_GRADED = "not_graded.json"
STOPPED_EARLY = "stopped_early.json"


@dataclass(frozen=True)
class Outcome:
    """One (assignment, student) autograde: graded, or the reason nbgrader could not."""

    assignment: str
    student: str
    graded: bool
    reason: str = ""
    seconds: float = 0.0


BUSY = "the gradebook was busy"
REASONS = (
    ("database is locked", f"{BUSY} (SQLite: database is locked)"),
    ("NotJSONError", "the notebook is not valid JSON (was it edited outside Jupyter?)"),
    ("not valid JSON", "the notebook is not valid JSON (was it edited outside Jupyter?)"),
    ("DeadKernelError", "the kernel died while running the notebook (a crash, or out of memory)"),
    ("Kernel died", "the kernel died while running the notebook (a crash, or out of memory)"),
    (
        "UnresponsiveKernelError",
        "a cell ran past the time limit and ignored the interrupt",
    ),
    ("CellTimeoutError", "a cell ran past the time limit and ignored the interrupt"),
    ("TimeoutError", "a cell ran past the time limit and ignored the interrupt"),
    ("grade_id", "a test cell's grade_id was changed or removed"),
    ("Missing grade cell", "a test cell's grade_id was changed or removed"),
)


def reason_of(error: str) -> str:
    """nbgrader's traceback and log -> one line an instructor can act on."""
    for marker, reason in REASONS:
        if marker in error:
            return reason
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "nbgrader failed without saying why"


def submissions(course_dir: Path, names: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """Every (assignment, student) in submitted/, sorted."""
    wanted = set(names) if names else None
    found = [
        (folder.name, folder.parent.name)
        for folder in sorted((course_dir / "submitted").glob("*/*"))
        if folder.is_dir() and (wanted is None or folder.name in wanted)
    ]
    return sorted(found)


_grader = None


def _start_worker(course_dir: str) -> None:
    """Pool initializer: nbgrader's API, built once per worker process."""
    global _grader
    from autograder.nbgrader.execute import autograde_preprocessors

    os.environ.update(grading_environment())
    _grader = api(
        Path(course_dir), **{"Autograde.autograde_preprocessors": autograde_preprocessors()}
    )


def grade_one(course_dir: str, assignment: str, student: str) -> Outcome:
    """Autograde one submission with this worker's API (see :func:`_start_worker`)."""
    if _grader is None:
        _start_worker(course_dir)
    start = time.perf_counter()
    result = _grader.autograde(assignment, student, force=True, create=True)
    seconds = time.perf_counter() - start
    if result["success"]:
        note = stopped_early(Path(course_dir) / "autograded" / student / assignment)
        return Outcome(assignment, student, True, note, seconds)
    text = f"{result.get('error', '')}\n{result.get('log', '')}"
    return Outcome(assignment, student, False, reason_of(text), seconds)


def stopped_early(folder: Path) -> str:
    """Why a graded notebook in ``folder`` did not run to its end ("" when it did).

    A cell over the time limit, or a dead or unresponsive kernel (see
    :mod:`autograder.nbgrader.execute`), leaves an error output that the instructor should hear of:
    the submission is scored, but only for what ran.
    """
    import nbformat

    notes = []
    for path in sorted(folder.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            for output in cell.get("outputs", []):
                if output.get("output_type") != "error":
                    continue
                if output.get("ename") == "CellTimeoutError":
                    notes.append(f"{path.name}: cell {index} ran past the time limit")
                elif output.get("ename") == "NotRun":
                    notes.append(f"{path.name}: {output.get('evalue', '')}")
                    break
            else:
                continue
            break
    return "; ".join(notes)


def autograde(course_dir: Path, names: Iterable[str] | None = None, jobs: int = 1) -> list[Outcome]:
    """Autograde every submission, ``jobs`` worker processes at a time.

    A pool of ``jobs`` processes takes the submissions one at a time; each process builds
    nbgrader's API once, so nbgrader's start-up is paid once per process, not per student.
    The gradebook (SQLite) takes the workers' writes one at a time.
    """
    course_dir = require_course(course_dir)
    if not (course_dir / "gradebook.db").is_file() or not assignments(course_dir, "release"):
        raise CourseError("nothing is released yet: run `make release` first")
    pairs = submissions(course_dir, names)
    if not pairs:
        raise CourseError(
            f"{course_dir}/submitted/ is empty: run `make collect` (or `make zip-collect`) first"
        )
    jobs = max(1, min(jobs, len(pairs)))
    outcomes = _run_pool(course_dir, pairs, jobs)
    # SQLite lets one writer in at a time and gives up after a while: a submission whose
    # grades could not be written is graded again, alone, so parallel = serial.
    busy = [(o.assignment, o.student) for o in outcomes if not o.graded and BUSY in o.reason]
    if busy:
        again = {(o.assignment, o.student): o for o in _run_pool(course_dir, busy, 1)}
        outcomes = [again.get((o.assignment, o.student), o) for o in outcomes]
    outcomes.sort(key=lambda o: (o.assignment, o.student))
    _record_not_graded(course_dir, outcomes)
    return outcomes


def _run_pool(course_dir: Path, pairs: list[tuple[str, str]], jobs: int) -> list[Outcome]:
    """Autograde ``tasks`` in a pool of ``jobs`` processes; a process that dies costs a reason."""
    context = multiprocessing.get_context("spawn")
    outcomes: list[Outcome] = []
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_start_worker, initargs=(str(course_dir),)
    ) as pool:
        futures = {pool.submit(grade_one, str(course_dir), a, s): (a, s) for a, s in pairs}
        for future, (assignment, student) in futures.items():
            try:
                outcomes.append(future.result())
            except Exception as error:
                # The worker itself died (or nbgrader raised): say so, never drop the row.
                reason = f"the grading process stopped: {type(error).__name__}: {error}"
                outcomes.append(Outcome(assignment, student, False, reason[:300]))
    return outcomes


def _record_not_graded(course_dir: Path, outcomes: list[Outcome]) -> None:
    """Keep ``not_graded.json`` and ``stopped_early.json`` up to date with this run."""
    for name, wanted in ((NOT_GRADED, False), (STOPPED_EARLY, True)):
        path = course_dir / name
        known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        for outcome in outcomes:
            key = f"{outcome.assignment}/{outcome.student}"
            if outcome.graded == wanted and outcome.reason:
                known[key] = outcome.reason
            else:
                known.pop(key, None)
        path.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def stopped_notes(course_dir: Path) -> dict[str, str]:
    """``"assignment/student"`` -> why a graded notebook did not run to its end."""
    path = course_dir / STOPPED_EARLY
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def not_graded(course_dir: Path) -> dict[str, str]:
    """``"assignment/student"`` -> why nbgrader could not grade it (latest runs)."""
    path = course_dir / NOT_GRADED
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
