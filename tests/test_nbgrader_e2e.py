"""End to end through nbgrader: release, submit, autograde (serial and parallel), feedback.

One temporary course directory with parts 1 and 2 (one assignment each), graded in a real
Jupyter kernel (the ``course`` kernel installed into this environment). The students:

- ``ref``: the reference code filled into the released notebooks - full marks;
- ``blank``: the untouched release, with every visible test cell edited to ``pass`` -
  zero, because nbgrader restores the locked cells;
- ``half``: part 1 done, part 2 untouched - exactly part 1's points;
- ``tamper``: a wrong softmax and a cell that sets ``torch.allclose = lambda *a, **k: True``
  (nbgrader is not fooled: the checks compare tensors themselves), and ``forger``: a wrong
  softmax and a cell that replaces the check runner (fools nbgrader's shared kernel; the
  cross-check flags it);
- ``notjson`` and ``renamed``: submissions nbgrader cannot grade - listed with a reason.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
import pytest

from autograder.build import nbgrader_course as notebooks
from autograder.core.rubric import load_rubric
from autograder.nbgrader import autograde, course_dir, crosscheck, exchange, grades, release

pytestmark = pytest.mark.nbgrader

RUBRIC = load_rubric()
GROUPS = {"part1": (1,), "part2": (2,)}
TAMPERING = {
    # nbgrader issue #1379's trick: the checks compare tensors themselves, so it fails.
    "tamper": "import numpy as np\nimport torch\ntorch.allclose = lambda *a, **k: True\n"
    "np.allclose = lambda *a, **k: True\n",
    # Replacing the check runner in the shared kernel does fool nbgrader.
    "forger": "import autograder.core.runner as _runner\n"
    "_runner.run_check = lambda f, m, *a, **k: _runner.Verdict(f.__name__, True, 'ok', 0.0)\n",
}


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _edit(notebook: Path, edit) -> None:
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        edit(cell)
    nbformat.write(nb, notebook)


def _submit(course: Path, student: str, assignment: str) -> Path:
    """Copy the release of ``assignment`` into submitted/<student>/ and return the folder."""
    import shutil

    target = course / "submitted" / student / assignment
    shutil.copytree(course / "release" / assignment, target)
    return target


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("course")
    settings = notebooks.Settings(
        course_dir=root / "course", exchange=root / "exchange", timeout=60, groups=GROUPS
    )
    course_dir.install_kernel()
    notebooks.write_course(settings)
    # The reference student below shows the checks pass on the reference code.
    report = release.release(settings.course_dir, check_source=False)
    assert report.passing_untouched == {}
    course = settings.course_dir
    for assignment in GROUPS:
        source = next((course / "source" / assignment).glob("*.ipynb"))
        name = source.name
        folder = _submit(course, "ref", assignment)
        exchange.fill_with_solutions(folder / name, source)
        folder = _submit(course, "blank", assignment)
        _edit(
            folder / name,
            lambda c: setattr(c, "source", "pass") if "notebook.check(" in c.source else None,
        )
        folder = _submit(course, "half", assignment)
        if assignment == "part1":
            exchange.fill_with_solutions(folder / name, source)
        folder = _submit(course, "notjson", assignment)
        (folder / name).write_text("{this is not json", encoding="utf-8")
        folder = _submit(course, "renamed", assignment)
        exchange.fill_with_solutions(folder / name, source)
        _edit(
            folder / name,
            lambda c: (
                c.metadata["nbgrader"].update(grade_id="renamed_by_student")
                if _grade_id(c) and _grade_id(c).startswith("check_")
                else None
            ),
        )
    for student, tampering in TAMPERING.items():
        notebook = next(_submit(course, student, "part1").glob("*.ipynb"))
        exchange.fill_with_solutions(notebook, next((course / "source" / "part1").glob("*.ipynb")))

        # A cell of its own, added after the wrong softmax: not part of the saved module, so
        # the notebook's static check of the module does not see it.
        nb = nbformat.read(notebook, as_version=4)
        for index, cell in enumerate(nb.cells):
            if "def softmax(" in cell.source:
                cell.source = re.sub(
                    r"shifted = .*?return exp / exp.sum\(axis=axis, keepdims=True\)",
                    "return np.exp(x) / 2.0",
                    cell.source,
                    flags=re.DOTALL,
                )
                nb.cells.insert(index + 1, nbformat.v4.new_code_cell(tampering))
                break
        nbformat.write(nb, notebook)
    return course


@pytest.fixture(scope="module")
def serial(course: Path) -> tuple[list[autograde.Outcome], float, dict]:
    start = time.perf_counter()
    outcomes = autograde.autograde(course, jobs=1)
    seconds = time.perf_counter() - start
    return outcomes, seconds, grades.check_scores(course)


def _total(scores: dict, assignment: str, student: str) -> float:
    return sum(scores[(assignment, student)].values())


def test_release_has_no_solution_and_no_hidden_check(course: Path) -> None:
    for path in (course / "release").glob("*/*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        assert "hidden_check(" not in text
        for check in RUBRIC.checks.values():
            if check.hidden:
                assert check.id not in text, f"{path.name} names hidden check {check.id}"
    assert not list((course / "release").rglob("tests/hidden"))
    assert not list((course / "release").rglob("solutions"))


def test_gradebook_equals_the_rubric(course: Path, serial) -> None:
    outcomes, seconds, scores = serial
    print(f"serial autograde of {len(outcomes)} submissions: {seconds:.1f} s")
    for number, assignment in ((1, "part1"), (2, "part2")):
        full = RUBRIC.points(number)
        assert _total(scores, assignment, "ref") == pytest.approx(full)
        assert _total(scores, assignment, "blank") == 0
    assert _total(scores, "part1", "half") == pytest.approx(RUBRIC.points(1))
    assert _total(scores, "part2", "half") == 0


def test_edited_test_cells_are_restored(course: Path, serial) -> None:
    for path in (course / "autograded" / "blank").glob("*/*.ipynb"):
        sources = [c.source for c in nbformat.read(path, as_version=4).cells]
        assert any("notebook.check(" in s for s in sources)
        assert "pass" not in sources


def test_ungradable_submissions_are_listed_with_a_reason(course: Path, serial) -> None:
    outcomes, _, _ = serial
    failed = {(o.assignment, o.student): o.reason for o in outcomes if not o.graded}
    assert set(failed) == {(a, s) for a in GROUPS for s in ("notjson", "renamed")}
    assert "JSON" in failed[("part1", "notjson")]
    assert "grade_id" in failed[("part1", "renamed")]
    rows = {(r.assignment, r.student): r for r in grades.grade_rows(course)}
    assert rows[("part1", "notjson")].status == "not graded"
    assert rows[("part1", "notjson")].score is None
    assert rows[("part1", "ref")].status == "graded"
    csv_text = grades.export_grades(course, course / "grades.csv").read_text()
    assert "not valid JSON" in csv_text


def test_tampering_is_visible_to_a_crosscheck(course: Path, serial) -> None:
    _, _, scores = serial
    tampered, forged = scores[("part1", "tamper")], scores[("part1", "forger")]
    assert tampered["softmax_rows_sum_to_one"] == 0
    assert sum(forged.values()) == pytest.approx(RUBRIC.points(1))
    # What the cross-check reports, given the isolated grader's per-check scores.
    isolated = {("part1", "forger"): {check: 0.0 for check in forged}}
    flagged = crosscheck.compare({("part1", "forger"): forged}, isolated)
    assert {d.check for d in flagged} == set(forged)
    found = crosscheck.crosscheck(
        course, course / "crosscheck", students=("ref", "tamper", "forger")
    )
    assert {d.student for d in found} == {"forger"}
    assert "softmax_rows_sum_to_one" in {d.check for d in found}


def test_feedback_has_no_hidden_check(course: Path, serial) -> None:
    written = grades.feedback(course)
    assert written
    for path in written:
        html = path.read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" not in html and "hidden_check" not in html
        for check in RUBRIC.checks.values():
            if check.hidden:
                assert f"test_{check.id}" not in html
        assert "tests/hidden" not in html


def test_parallel_autograde_gives_the_serial_gradebook(course: Path, serial) -> None:
    _, serial_seconds, serial_scores = serial
    start = time.perf_counter()
    outcomes = autograde.autograde(course, jobs=2)
    seconds = time.perf_counter() - start
    print(f"autograde: serial {serial_seconds:.1f} s, JOBS=2 {seconds:.1f} s")
    assert grades.check_scores(course) == serial_scores
    assert sorted((o.assignment, o.student, o.graded) for o in outcomes) == sorted(
        (o.assignment, o.student, o.graded) for o in serial[0]
    )
    assert json.loads((course / autograde.NOT_GRADED).read_text())


STOPPERS = {
    "hang": "while True:\n        pass\n",
    "ignore": "import signal\n    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "    while True:\n        pass\n",
    "crash": "import os\n    os.kill(os.getpid(), 9)\n",
}


def test_hang_ignored_interrupt_and_crash_are_scored_for_what_ran(tmp_path: Path) -> None:
    """separated_self_attention hangs or kills the kernel; the checks before it keep points."""
    settings = notebooks.Settings(
        course_dir=tmp_path / "course",
        exchange=tmp_path / "exchange",
        timeout=5,
        groups={"part1": (1,)},
    )
    notebooks.write_course(settings)
    course = settings.course_dir
    release.generate(course)
    source = next((course / "source" / "part1").glob("*.ipynb"))
    for student, code in STOPPERS.items():
        notebook = _submit(course, student, "part1") / source.name
        exchange.fill_with_solutions(notebook, source)

        def stop(cell, code=code) -> None:
            if "def separated_self_attention" in cell.source:
                marker = "    projected = X @ W_similarity"
                cell.source = cell.source.replace(marker, f"    {code}{marker}")

        _edit(notebook, stop)
    outcomes = autograde.autograde(course, jobs=len(STOPPERS))
    print({o.student: round(o.seconds, 1) for o in outcomes})
    assert all(o.graded for o in outcomes), outcomes
    notes = {o.student: o.reason for o in outcomes}
    assert "time limit" in notes["hang"]
    assert "ignored the interrupt" in notes["ignore"]
    assert "kernel died" in notes["crash"]
    rows = {r.student: r for r in grades.grade_rows(course)}
    assert {r.status for r in rows.values()} == {"graded, stopped early"}
    scores = grades.check_scores(course)
    before = [c.id for c in RUBRIC.checks_of(1)]
    ran = before[: before.index("separated_attention_roles")]
    for student in STOPPERS:
        got = scores[("part1", student)]
        assert sum(got[c] for c in ran) == pytest.approx(sum(RUBRIC.checks[c].points for c in ran))
        assert got["separated_attention_roles"] == 0
        assert got["separated_attention_rectangular"] == 0


def _student(home: Path, student: str, exchange: Path, *arguments: str) -> None:
    """Run ``nbgrader ARGUMENTS`` as ``student`` from their own home directory."""
    import os
    import subprocess
    import sys

    home.mkdir(parents=True, exist_ok=True)
    scripts = str(Path(sys.executable).parent)
    environment = {**os.environ, "HOME": str(home), "PATH": f"{scripts}:{os.environ['PATH']}"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nbgrader",
            *arguments,
            f"--course={notebooks.COURSE_ID}",
            f"--Exchange.root={exchange}",
            f"--student={student}",
        ],
        cwd=home,
        env=environment,
        check=True,
        capture_output=True,
    )


def test_exchange_round_trip_and_zip_collect(tmp_path: Path) -> None:
    import zipfile

    settings = notebooks.Settings(
        course_dir=tmp_path / "course", exchange=tmp_path / "exchange", groups={"part1": (1,)}
    )
    notebooks.write_course(settings)
    course = settings.course_dir
    release.generate(course)
    assert exchange.publish(course) == ["part1"]
    for student in ("alice", "bob"):
        home = tmp_path / "home" / student
        _student(home, student, settings.exchange, "fetch_assignment", "part1")
        assert (home / "part1" / "part1_softmax_attention.ipynb").is_file()
        _student(home, student, settings.exchange, "submit", "part1")
    assert exchange.collect(course) == {"part1": 2}
    assert {p.name for p in (course / "submitted").iterdir()} == {"alice", "bob"}

    archive = course / "downloaded" / "part1" / "archive"
    archive.mkdir(parents=True)
    notebook = (course / "release" / "part1" / "part1_softmax_attention.ipynb").read_bytes()
    with zipfile.ZipFile(archive / "lms-download.zip", "w") as bundle:
        bundle.writestr("carol_part1_softmax_attention.ipynb", notebook)
    assert exchange.zip_collect(course) == {"part1": 3}
    assert (course / "submitted" / "carol" / "part1" / "part1_softmax_attention.ipynb").is_file()
