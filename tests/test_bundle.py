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
