"""The student bundle: no solution, no hidden check, and its `make test` scores the student."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.build import bundle
from autograder.core.rubric import load_rubric

RUBRIC = load_rubric()
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def student_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    destination = tmp_path_factory.mktemp("bundle") / "course"
    bundle.build(destination)
    return destination


def every_text(folder: Path):
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".md", ".toml", ".txt", ".jsonl", ""}:
            yield path, path.read_text(encoding="utf-8", errors="replace")


def test_bundle_holds_no_solution_and_no_hidden_check(student_bundle):
    assert not (student_bundle / "solutions").exists()
    assert not (student_bundle / "tests" / "hidden").exists()
    hidden = [c.id for c in RUBRIC.checks.values() if c.hidden]
    for path, text in every_text(student_bundle):
        assert "### BEGIN SOLUTION" not in text, f"{path} holds solution markers"
        for check in hidden:
            assert check not in text, f"{path} names the hidden check {check}"
    zipped = student_bundle.with_suffix(".zip")
    assert zipped.is_file()


def score(folder: Path) -> tuple[float, float]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests",
            "-q",
            "-p",
            "no:cacheprovider",
            "--impl",
            "assignments",
        ],
        cwd=folder,
        env={**os.environ, "HYPOTHESIS_PROFILE": "grading"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    total = re.search(r"^total\s+([\d.]+) / ([\d.]+)", result.stdout, re.MULTILINE)
    assert total, result.stdout[-3000:] + result.stderr[-3000:]
    return float(total.group(1)), float(total.group(2))


def test_bundle_as_shipped_scores_zero(student_bundle):
    earned, available = score(student_bundle)
    visible = sum(RUBRIC.points(p, include_hidden=False) for p in RUBRIC.parts)
    assert (earned, available) == (0, visible)


def test_bundle_with_the_reference_code_scores_every_visible_point(student_bundle, tmp_path):
    filled = tmp_path / "filled"
    shutil.copytree(student_bundle, filled)
    for module in (ROOT / "solutions").glob("*.py"):
        shutil.copy2(module, filled / "assignments" / module.name)
    earned, available = score(filled)
    assert earned == available > 0


def test_the_score_table_says_when_an_earlier_part_is_to_blame(student_bundle, tmp_path):
    """A correct part 3 on the stub part 2: the table says the grader would score it higher."""
    work = tmp_path / "work"
    shutil.copytree(student_bundle, work)
    shutil.copy2(ROOT / "solutions" / "multihead.py", work / "assignments" / "multihead.py")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-m", "part3"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "note: part 3 builds on your qkv.py (part 2), which is not finished" in result.stdout
    assert "grades part 3 with the reference qkv.py" in result.stdout


def test_the_bundle_has_a_lean_module_route_and_says_how_to_submit(student_bundle):
    requirements = (student_bundle / "requirements.txt").read_text()
    for heavy in ("jupyterlab", "nbgrader", "ruff"):
        assert heavy not in requirements
    assert "jupyterlab" in (student_bundle / "requirements-lab.txt").read_text()
    readme = (student_bundle / "README.md").read_text()
    assert "## How to submit" in readme and "make submission" in readme
    assert "make lab" in readme
    notebooks = sorted(p.name for p in (student_bundle / "notebooks").rglob("*.ipynb"))
    assert len(notebooks) == len(RUBRIC.parts)
    assert (student_bundle / "docs" / "parts" / "part1.md").is_file()
