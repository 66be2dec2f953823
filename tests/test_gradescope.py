"""The Gradescope autograder zip, run against a local folder with Gradescope's layout."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from autograder.build import gradescope
from autograder.core.rubric import load_rubric

ROOT = Path(__file__).resolve().parent.parent


def test_run_autograder_grades_a_submission_into_results_json(tmp_path):
    archive = gradescope.build(tmp_path / "autograder.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as handle:
        names = handle.namelist()
        handle.extractall(root)
    assert {"setup.sh", "run_autograder", "source/rubric.toml"} <= set(names)
    assert not any("/submissions/" in name or name.endswith("test_grade.py") for name in names)
    for script in ("setup.sh", "run_autograder"):
        (root / script).chmod(0o755)
    submission = root / "submission"
    submission.mkdir()
    shutil.copy2(ROOT / "solutions" / "masks.py", submission / "masks.py")
    run = subprocess.run(
        [str(root / "run_autograder")],
        env={**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    data = json.loads((root / "results" / "results.json").read_text())
    rubric = load_rubric()
    assert data["score"] == rubric.points(4)
    masks_tests = [t for t in data["tests"] if t["number"].startswith("4.")]
    assert masks_tests and all(t["status"] == "passed" for t in masks_tests)


def test_an_assignment_of_some_parts_grades_only_those(tmp_path):
    """make gradescope PARTS=4: the other parts are neither graded nor reported missing."""
    archive = gradescope.build(tmp_path / "autograder.zip", parts=[4])
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as handle:
        handle.extractall(root)
    (root / "run_autograder").chmod(0o755)
    submission = root / "submission"
    submission.mkdir()
    shutil.copy2(ROOT / "solutions" / "masks.py", submission / "masks.py")
    run = subprocess.run(
        [str(root / "run_autograder")],
        env={**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    data = json.loads((root / "results" / "results.json").read_text())
    assert {t["extra_data"]["part"] for t in data["tests"]} == {4}
    assert data["score"] == load_rubric().points(4)
    assert "no softmax_attention.py" not in json.dumps(data)
    assert "hidden checks worth" in data["output"], "the students read what is still to come"
