"""The grader end to end: scores, Gradescope's schema, determinism, agreement with pytest."""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.core.rubric import load_rubric
from autograder.grader import grade, results

RUBRIC = load_rubric()
ROOT = Path(__file__).resolve().parent.parent
PARTS = (1, 2, 4)  # a quick selection; the full reference grade is in `make bench`


def validate_gradescope(data: dict) -> None:
    """Gradescope's results.json: the fields and types it reads."""
    assert isinstance(data["score"], float | int)
    assert isinstance(data["execution_time"], float | int)
    assert isinstance(data["output"], str)
    numbers = set()
    for test in data["tests"]:
        assert set(test) >= {
            "name",
            "number",
            "score",
            "max_score",
            "output",
            "visibility",
            "status",
        }
        assert test["visibility"] in {"visible", "hidden", "after_due_date", "after_published"}
        assert test["status"] in {"passed", "failed"}
        assert 0 <= test["score"] <= max(test["max_score"], test["score"])
        assert test["number"] not in numbers
        numbers.add(test["number"])
    assert abs(sum(t["score"] for t in data["tests"]) - data["score"]) < 1e-6


def points(parts=PARTS) -> float:
    return sum(RUBRIC.points(p) for p in parts)


def half_done(tmp_path: Path) -> Path:
    """Parts 1 and 2 done (the reference), everything else the untouched stubs."""
    folder = tmp_path / "half"
    if folder.exists():
        return folder
    shutil.copytree(ROOT / "assignments", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for module in ("softmax_attention", "qkv"):
        shutil.copy2(ROOT / "solutions" / f"{module}.py", folder / f"{module}.py")
    return folder


@pytest.fixture(scope="module")
def half_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return half_done(tmp_path_factory.mktemp("submissions"))


@pytest.fixture(scope="module")
def reports(half_folder: Path) -> dict:
    """One grade of each kind of submission, shared by the tests below."""
    return {
        "reference": grade.grade(ROOT / "solutions", parts=PARTS),
        "stubs": grade.grade(ROOT / "assignments", parts=PARTS),
        "half-done": grade.grade(half_folder, parts=PARTS),
    }


@pytest.fixture(scope="module")
def reference_report(reports: dict):
    return reports["reference"]


def test_reference_scores_full_marks_in_gradescope_schema(reference_report):
    data = results.gradescope(reference_report)
    validate_gradescope(data)
    failed = [t for t in data["tests"] if t["status"] != "passed"]
    assert not failed, failed[:3]
    assert data["score"] == points()


def test_hidden_checks_stay_hidden_until_the_due_date(reference_report):
    data = results.gradescope(reference_report)
    by_visibility = {
        t["name"].split(" · ")[1].split(":")[0]: t["visibility"] for t in data["tests"]
    }
    for check in RUBRIC.checks.values():
        if check.part in PARTS:
            expected = "after_due_date" if check.hidden else "visible"
            assert by_visibility[check.id] == expected


def test_blank_stubs_score_zero(reports):
    data = results.gradescope(reports["stubs"])
    validate_gradescope(data)
    assert data["score"] == 0
    assert all("not implemented yet" in t["output"] for t in data["tests"])


def test_a_zip_and_a_folder_get_the_same_score(tmp_path, half_folder):
    folder = half_folder
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in folder.glob("*.py"):
            handle.write(path, f"my-work/{path.name}")
    assert grade.grade(archive, parts=(1, 3)).per_part() == {1: RUBRIC.points(1), 3: 0}


def test_grading_twice_gives_identical_results(reports, half_folder):
    def stable(report):
        data = results.gradescope(report)
        data.pop("execution_time")
        return data

    assert stable(grade.grade(half_folder, parts=PARTS)) == stable(reports["half-done"])


def pytest_score(folder: Path) -> dict[int, float]:
    """The per-part points `make test` shows for ``folder`` (hidden checks included)."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/checks",
            "tests/hidden",
            "-q",
            "-p",
            "no:cacheprovider",
            "--impl",
            str(folder),
            "-m",
            " or ".join(f"part{p}" for p in PARTS),
        ],
        cwd=ROOT,
        env={**os.environ, "HYPOTHESIS_PROFILE": "grading"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    table = re.findall(r"^part (\d+) \S+\s+([\d.]+) /", run.stdout, re.MULTILINE)
    assert table, run.stdout[-2000:]
    return {int(part): float(score) for part, score in table}


@pytest.mark.parametrize("kind", ["reference", "stubs", "half-done"])
def test_make_test_shows_the_score_the_grader_gives(reports, half_folder, kind):
    folder = {"reference": ROOT / "solutions", "stubs": ROOT / "assignments"}.get(kind, half_folder)
    assert pytest_score(folder) == reports[kind].per_part()


def test_the_command_line_writes_results_json(tmp_path):
    out = tmp_path / "out" / "results.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(half_done(tmp_path)),
            "--out",
            str(out),
            "--parts",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    validate_gradescope(data)
    assert data["score"] == RUBRIC.points(1)
