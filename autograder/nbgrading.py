"""The nbgrader workflow of the course, step by step, driven through nbgrader's Python API.

Each step is a function of the course directory written by :mod:`autograder.notebooks`
(``build/course`` by default); :mod:`autograder.nbgrader_cli` is their command line.

What nbgrader 0.9.6 lacks and this module adds:

- ``release`` proves the release fails: every visible check cell of a released notebook must
  fail when run untouched (``nbgrader validate --invert`` exits 0 whatever happens).
- ``autograde`` grades students in parallel (``jobs`` worker processes, each one nbgrader
  API looping over its students) and ends with the gradebook a serial run gives.
- A submission nbgrader could not grade (not JSON, a renamed ``grade_id``, a dead kernel) is
  listed with its reason (``not_graded.json`` in the course directory) and shows up so in
  the CSV export, never as a silent 0.
- ``crosscheck`` compares nbgrader's per-check scores with the isolated grader's.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOT_GRADED = "not_graded.json"
STOPPED_EARLY = "stopped_early.json"
HIDDEN_CALL = re.compile(r'course\.hidden_check\("(?P<id>\w+)"\)')
VISIBLE_CALL = re.compile(r'course\.check\("(?P<id>\w+)"\)')


class CourseError(Exception):
    """A step cannot run; the message says what to do first."""


# -- the course directory ---------------------------------------------------------------


def require_course(course: Path) -> Path:
    """``course`` if it is a generated course directory; otherwise say how to make one."""
    if not (course / "nbgrader_config.py").is_file():
        raise CourseError(
            f"{course} is not a course directory (no nbgrader_config.py): run `make notebooks` "
            f"first"
        )
    return course.resolve()


def _scripts_on_path() -> None:
    """nbgrader runs the ``alembic`` and ``jupyter`` scripts of its environment by name."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def gradebook(course: Path):
    """nbgrader's ``Gradebook`` of ``course``; a CourseError when nothing made one yet."""
    from nbgrader.api import Gradebook

    database = course / "gradebook.db"
    if not database.is_file():
        raise CourseError(f"{course} has no gradebook yet: run `make release` first")
    _scripts_on_path()
    return Gradebook(f"sqlite:///{database}")


def api(course: Path, **overrides: Any):
    """nbgrader's API on ``course``, configured by its ``nbgrader_config.py``."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    _scripts_on_path()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        config[section][name] = value
    return NbGraderAPI(config=config)


def assignments(course: Path, stage: str = "source") -> list[str]:
    """The assignments of ``course`` that have a folder in ``stage`` (source, release...)."""
    folder = course / stage
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def grading_environment() -> dict[str, str]:
    """Where notebooks find the course's reference modules and hidden checks when graded."""
    return {"COURSE_ROOT": str(ROOT)}


def install_kernel() -> None:
    """Install the ``course`` kernel (this Python) into this environment, if it is missing."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("course")
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        install(kernel_name="course", display_name="Python 3 (course)", prefix=sys.prefix)


# -- release ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseReport:
    """Per released notebook: the visible check cells that pass untouched (should be none)."""

    released: list[Path]
    passing_untouched: dict[str, list[str]]
    failing_source: dict[str, list[str]]


def generate(course: Path, names: Iterable[str] | None = None) -> list[Path]:
    """``nbgrader generate_assignment``: strip solutions and hidden tests into ``release/``."""
    course = require_course(course)
    names = list(names or assignments(course))
    if not names:
        raise CourseError(f"{course}/source has no assignment: run `make notebooks` first")
    grader = api(course)
    for name in names:
        result = grader.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise CourseError(f"generate_assignment {name} failed:\n{result.get('error', '')}")
    return sorted((course / "release").glob("*/*.ipynb"))


def _validator(invert: bool = False):
    """nbgrader's ``Validator``, its kernel channel encrypted as in ``nbgrader_config.py``."""
    from nbgrader.validator import Validator
    from traitlets.config import Config

    config = Config()
    config.KernelManager.transport_encryption = "auto"
    os.environ.update(grading_environment())
    return Validator(invert=invert, config=config)


def visible_checks_passing(notebook: Path) -> list[str]:
    """The visible check cells that pass when ``notebook`` runs as it is (nbgrader validate)."""
    results = _validator(invert=True).validate(str(notebook))
    passed = [cell["source"] for cell in results.get("passed", [])]
    return [m.group("id") for source in passed if (m := VISIBLE_CALL.search(source))]


def checks_failing(notebook: Path) -> list[str]:
    """The check cells (hidden ones included) that fail when ``notebook`` runs as it is."""
    results = _validator().validate(str(notebook))
    failed = [cell["source"] for cell in results.get("failed", [])]
    calls = [HIDDEN_CALL.search(s) or VISIBLE_CALL.search(s) for s in failed]
    return [m.group("id") if m else s.splitlines()[0] for m, s in zip(calls, failed, strict=True)]


def release(
    course: Path, names: Iterable[str] | None = None, check_source: bool = True
) -> ReleaseReport:
    """Generate the release and prove it fails: no visible check passes on a blank notebook.

    With ``check_source``, also prove that every check passes on the source notebook (the
    reference code), in a real kernel as nbgrader runs it.
    """
    course = require_course(course)
    released = generate(course, names)
    passing = {str(p.relative_to(course)): visible_checks_passing(p) for p in released}
    failing: dict[str, list[str]] = {}
    if check_source:
        for path in released:
            source = course / "source" / path.parent.name / path.name
            failing[str(source.relative_to(course))] = checks_failing(source)
    return ReleaseReport(
        released,
        {k: v for k, v in passing.items() if v},
        {k: v for k, v in failing.items() if v},
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


def publish(course: Path, names: Iterable[str] | None = None) -> list[str]:
    """``nbgrader release_assignment``: put the released assignments into the exchange."""
    course = require_course(course)
    names = list(names or assignments(course, "release"))
    if not names:
        raise CourseError("nothing is released yet: run `make release` first")
    grader = api(course)
    for name in names:
        result = grader.release_assignment(name)
        if not result["success"]:
            raise CourseError(f"release_assignment {name} failed:\n{result.get('error', '')}")
    return names


def collect(course: Path, names: Iterable[str] | None = None) -> dict[str, int]:
    """``nbgrader collect``: copy the students' submissions from the exchange to submitted/."""
    course = require_course(course)
    names = list(names or assignments(course, "release"))
    if not names:
        raise CourseError("nothing is released yet: run `make release` first")
    grader = api(course)
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
        counts[name] = len(list((course / "submitted").glob(f"*/{name}")))
    return counts


def zip_collect(course: Path, names: Iterable[str] | None = None) -> dict[str, int]:
    """``nbgrader zip_collect``: unpack LMS downloads from downloaded/<assignment>/archive/.

    Without ``names``, every assignment that has such a folder.
    """
    course = require_course(course)
    downloaded = course / "downloaded"
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
            cwd=course,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            },
        )
        if completed.returncode:
            raise CourseError(f"zip_collect {name} failed:\n{completed.stderr[-3000:]}")
        counts[name] = len(list((course / "submitted").glob(f"*/{name}")))
    return counts


# -- autograde ------------------------------------------------------------------------------


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


def submissions(course: Path, names: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """Every (assignment, student) in submitted/, sorted."""
    wanted = set(names) if names else None
    found = [
        (folder.name, folder.parent.name)
        for folder in sorted((course / "submitted").glob("*/*"))
        if folder.is_dir() and (wanted is None or folder.name in wanted)
    ]
    return sorted(found)


def grade_tasks(course: Path, tasks: list[tuple[str, str]]) -> list[Outcome]:
    """Autograde ``tasks`` one after another in this process (one worker's share)."""
    import time

    from .nbexecute import autograde_preprocessors

    os.environ.update(grading_environment())
    grader = api(course, **{"Autograde.autograde_preprocessors": autograde_preprocessors()})
    outcomes = []
    for assignment, student in tasks:
        start = time.perf_counter()
        result = grader.autograde(assignment, student, force=True, create=True)
        seconds = time.perf_counter() - start
        if result["success"]:
            note = stopped_early(course / "autograded" / student / assignment)
            outcomes.append(Outcome(assignment, student, True, note, seconds))
        else:
            text = f"{result.get('error', '')}\n{result.get('log', '')}"
            outcomes.append(Outcome(assignment, student, False, reason_of(text), seconds))
    return outcomes


def stopped_early(folder: Path) -> str:
    """Why a graded notebook in ``folder`` did not run to its end ("" when it did).

    A cell over the time limit, or a dead or unresponsive kernel (see
    :mod:`autograder.nbexecute`), leaves an error output that the instructor should hear of:
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


def _worker_command(course: Path, tasks: list[tuple[str, str]]) -> list[str]:
    spec = [f"{a}/{s}" for a, s in tasks]
    return [
        sys.executable,
        "-m",
        "autograder.nbgrader_cli",
        "--course",
        str(course),
        "worker",
        *spec,
    ]


def autograde(course: Path, names: Iterable[str] | None = None, jobs: int = 1) -> list[Outcome]:
    """Autograde every submission, ``jobs`` worker processes at a time.

    Students are dealt round-robin to the workers; each worker is one Python process running
    nbgrader's API, so nbgrader's start-up is paid once per worker, not once per student.
    The gradebook (SQLite) takes the workers' writes one at a time.
    """
    course = require_course(course)
    if not (course / "gradebook.db").is_file() or not assignments(course, "release"):
        raise CourseError("nothing is released yet: run `make release` first")
    tasks = submissions(course, names)
    if not tasks:
        raise CourseError(
            f"{course}/submitted/ is empty: run `make collect` (or `make zip-collect`) first"
        )
    jobs = max(1, min(jobs, len(tasks)))
    outcomes = _run_workers(course, [tasks[i::jobs] for i in range(jobs)])
    # SQLite lets one writer in at a time and gives up after a while: a submission whose
    # grades could not be written is graded again, alone, so parallel = serial.
    busy = [(o.assignment, o.student) for o in outcomes if not o.graded and BUSY in o.reason]
    if busy:
        again = {(o.assignment, o.student): o for o in _run_workers(course, [busy])}
        outcomes = [again.get((o.assignment, o.student), o) for o in outcomes]
    outcomes.sort(key=lambda o: (o.assignment, o.student))
    _record_not_graded(course, outcomes)
    return outcomes


def _run_workers(course: Path, shares: list[list[tuple[str, str]]]) -> list[Outcome]:
    """One worker process per share of (assignment, student); their outcomes."""
    environment = {**os.environ, **grading_environment()}
    workers = [
        subprocess.Popen(
            _worker_command(course, share),
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for share in shares
    ]
    outcomes: list[Outcome] = []
    for worker, share in zip(workers, shares, strict=True):
        stdout, stderr = worker.communicate()
        reported = {}
        for line in stdout.splitlines():
            if line.startswith("{"):
                entry = Outcome(**json.loads(line))
                reported[(entry.assignment, entry.student)] = entry
        for assignment, student in share:
            outcome = reported.get((assignment, student))
            if outcome is None:
                # The worker itself died before it could report this student.
                reason = f"the grading process stopped: {reason_of(stderr)}"
                outcome = Outcome(assignment, student, False, reason)
            outcomes.append(outcome)
    return outcomes


def _record_not_graded(course: Path, outcomes: list[Outcome]) -> None:
    """Keep ``not_graded.json`` and ``stopped_early.json`` up to date with this run."""
    for name, wanted in ((NOT_GRADED, False), (STOPPED_EARLY, True)):
        path = course / name
        known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        for outcome in outcomes:
            key = f"{outcome.assignment}/{outcome.student}"
            if outcome.graded == wanted and outcome.reason:
                known[key] = outcome.reason
            else:
                known.pop(key, None)
        path.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def stopped_notes(course: Path) -> dict[str, str]:
    """``"assignment/student"`` -> why a graded notebook did not run to its end."""
    path = course / STOPPED_EARLY
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def not_graded(course: Path) -> dict[str, str]:
    """``"assignment/student"`` -> why nbgrader could not grade it (latest runs)."""
    path = course / NOT_GRADED
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


# -- feedback and grades --------------------------------------------------------------------


def feedback(course: Path, names: Iterable[str] | None = None) -> list[Path]:
    """``nbgrader generate_feedback`` (hidden tests cleared) for every autograded notebook."""
    course = require_course(course)
    autograded = {p.name for p in (course / "autograded").glob("*/*") if p.is_dir()}
    names = sorted(set(names) & autograded if names else autograded)
    if not names:
        raise CourseError("nothing is autograded yet: run `make autograde` first")
    grader = api(course)
    for name in names:
        result = grader.generate_feedback(name, force=True)
        if not result["success"]:
            raise CourseError(f"generate_feedback {name} failed:\n{result.get('error', '')}")
    return sorted((course / "feedback").glob("*/*/*.html"))


@dataclass(frozen=True)
class GradeRow:
    """One line of the grades export."""

    assignment: str
    student: str
    score: float | None
    max_score: float
    status: str
    reason: str


def grade_rows(course: Path) -> list[GradeRow]:
    """Every student x assignment in the gradebook, with the not-graded reasons.

    A submission nbgrader could not grade has no score (not 0) and status ``not graded``.
    """
    from nbgrader.api import MissingEntry

    course = require_course(course)
    failed = not_graded(course)
    notes = stopped_notes(course)
    rows: list[GradeRow] = []
    with gradebook(course) as book:
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


def export_grades(course: Path, target: Path) -> Path:
    """Write the grades CSV (``make grades``)."""
    rows = grade_rows(course)
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


def check_scores(course: Path) -> dict[tuple[str, str], dict[str, float]]:
    """(assignment, student) -> {check id: auto score}, read from the gradebook.

    Hidden test cells are named ``hidden_<n>`` in notebooks; their check id comes from the
    source notebook's cell.
    """
    course = require_course(course)
    ids = _check_ids(course)
    scores: dict[tuple[str, str], dict[str, float]] = {}
    with gradebook(course) as book:
        for assignment in book.assignments:
            for submission in assignment.submissions:
                per_check = scores.setdefault((assignment.name, submission.student.id), {})
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        check = ids.get((assignment.name, notebook.name, grade.name), grade.name)
                        per_check[check] = grade.score
    return scores


def _check_ids(course: Path) -> dict[tuple[str, str, str], str]:
    """(assignment, notebook, grade_id) -> check id, from the source notebooks' cells."""
    import nbformat

    ids: dict[tuple[str, str, str], str] = {}
    for path in (course / "source").glob("*/*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            match = HIDDEN_CALL.search(cell.source) or VISIBLE_CALL.search(cell.source)
            if grade_id and match:
                ids[(path.parent.name, path.stem, grade_id)] = match.group("id")
    return ids


# -- cross-check with the isolated grader -------------------------------------------------


@dataclass(frozen=True)
class Discrepancy:
    """A check nbgrader scored higher than the isolated grader did."""

    assignment: str
    student: str
    check: str
    nbgrader: float
    isolated: float


GRADESCOPE_NAME = re.compile(r"·\s*(?P<id>\w+):")
"""The check id in a test name of the grader's results: ``part 2 · attention_dropout: ...``."""


def isolated_scores(results: Mapping[str, Any]) -> dict[str, float]:
    """Check id -> score from the grader's ``results.json`` (Gradescope's schema).

    A test names its check in ``check`` (or ``id``), else in its ``name`` as
    ``part N · <check id>: <description>``, else as the first word of the name.
    """
    scores: dict[str, float] = {}
    for test in results.get("tests", []):
        name = str(test.get("name", ""))
        match = GRADESCOPE_NAME.search(name)
        check = test.get("check") or test.get("id") or (match and match.group("id"))
        scores[str(check or name.split(" ")[0])] = float(test.get("score", 0.0))
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


def crosscheck(course: Path, out: Path, students: Iterable[str] | None = None) -> list[Discrepancy]:
    """Regrade the autograded submissions (of ``students``, default all) and compare."""
    course = require_course(course)
    wanted = set(students) if students else None
    ours = {k: v for k, v in check_scores(course).items() if wanted is None or k[1] in wanted}
    if not ours:
        raise CourseError("nothing is autograded yet: run `make autograde` first")
    out.mkdir(parents=True, exist_ok=True)
    theirs: dict[tuple[str, str], dict[str, float]] = {}
    for assignment, student in ours:
        target = out / student / assignment / "results.json"
        # Only the notebooks: a module file beside them (saved by the student's own run, or
        # put there by hand) is not what nbgrader graded.
        notebooks_only = out / student / assignment / "notebooks"
        if notebooks_only.exists():
            shutil.rmtree(notebooks_only)
        notebooks_only.mkdir(parents=True)
        for notebook in (course / "submitted" / student / assignment).glob("*.ipynb"):
            shutil.copy(notebook, notebooks_only / notebook.name)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "autograder",
                "grade",
                str(notebooks_only),
                "--out",
                str(target),
            ],
            cwd=ROOT,
            check=False,
            capture_output=True,
        )
        if target.is_file():
            results = json.loads(target.read_text(encoding="utf-8"))
            theirs[(assignment, student)] = isolated_scores(results)
    found = compare(ours, theirs)
    (out / "crosscheck.json").write_text(
        json.dumps([asdict(d) for d in found], indent=2) + "\n", encoding="utf-8"
    )
    return found
