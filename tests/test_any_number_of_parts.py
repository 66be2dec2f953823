"""A course takes any number of parts: adding part 10 touches only part 10's own files.

The test copies the repository, adds a small part 10 (its solution, its rubric entries, one
check and its prose) and runs the tools on the copy: the stubs, check-stubs (stubs and
trivial code score 0), the pytest route, the nbgrader notebooks, the isolated grader and the
student bundle. No other file of the copy is edited.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SOLUTION = '''"""Part 10: scaling a tensor (an extra part: the course takes any number of parts)."""

import torch


def scale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """``x`` times ``factor``.

    Shapes: ``x`` any shape -> the same shape.
    """
    ### BEGIN SOLUTION
    ### HINT: one multiplication
    return x * factor
    ### END SOLUTION
'''

RUBRIC = """
# ---------------------------------------------------------------- part 10
[[parts]]
number = 10
module = "scaling"
title = "Scaling (an extra part)"
forbidden = []

[[checks]]
id = "scale_multiplies"
part = 10
points = 2
visibility = "visible"
description = "scale(x, factor) is x times factor"
"""

CHECK = '''"""Part 10 checks: scaling."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies

pytestmark = pytest.mark.part10

FACTORS = st.sampled_from([-2.5, -0.5, 0.25, 3.0])


@given(x=strategies.tensors(strategies.batch_shapes(3, 4)), factor=FACTORS)
def test_scale_multiplies(scaling, device, x, factor):
    harness.expect_close(
        scaling.scale(x.to(device), factor), x.double() * factor, "scale(x, factor)"
    )
'''

PROSE = """Scaling multiplies every entry of a tensor by the same number.

<!-- code -->

```python
print(scale(torch.ones(2, 3), 2.0))
```

<!-- checks -->

That is all there is to part 10.
"""


def _run(copy: Path, *arguments: str, timeout: int = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, *arguments],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(copy)},
    )
    assert done.returncode == 0, f"{arguments}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with part 10 added."""
    copy = tmp_path_factory.mktemp("course") / "repository"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (copy / "solutions" / "scaling.py").write_text(SOLUTION)
    with (copy / "rubric.toml").open("a") as rubric:
        rubric.write(RUBRIC)
    (copy / "tests" / "checks" / "part10_scaling.py").write_text(CHECK)
    (copy / "autograder" / "build" / "prose" / "part10.md").write_text(PROSE)
    return copy


def test_stubs_and_check_stubs_take_the_new_part(course: Path) -> None:
    _run(course, "-m", "autograder", "stubs")
    stub = (course / "assignments" / "scaling.py").read_text()
    assert 'raise NotImplementedError("scale is not implemented yet")' in stub
    done = _run(course, "-m", "autograder", "check-stubs", "--parts", "10")
    assert "1 graded checks: 1 fail on the stubs and pass on the solution" in done.stdout
    assert "0 check verdicts give them points" in done.stdout


def test_pytest_scores_the_new_part(course: Path) -> None:
    done = _run(course, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "part10")
    assert "part 10 scaling" in done.stdout and "2 / 2" in done.stdout


def test_the_notebook_of_the_new_part_is_built(course: Path, tmp_path: Path) -> None:
    _run(
        course,
        "-m",
        "autograder",
        "nbgrader",
        "--course",
        str(tmp_path / "nbcourse"),
        "notebooks",
        "--assignment",
        "extra=10",
    )
    notebook = json.loads(
        (tmp_path / "nbcourse" / "source" / "extra" / "part10_scaling.ipynb").read_text()
    )
    sources = ["".join(c["source"]) for c in notebook["cells"]]
    assert any('notebook.check("scale_multiplies")' in s for s in sources)
    assert any("That is all there is to part 10." in s for s in sources)


def test_the_grader_grades_the_new_part(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "results" / "results.json"
    _run(course, "-m", "autograder", "grade", "solutions", "--parts", "10", "--out", str(out))
    results = json.loads(out.read_text())
    assert results["score"] == 2
    assert [t["extra_data"]["check"] for t in results["tests"]] == ["scale_multiplies"]


def test_the_bundle_carries_the_new_part(course: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    _run(course, "-m", "autograder", "student-bundle", "--out", str(bundle))
    assert (bundle / "tests" / "checks" / "part10_scaling.py").is_file()
    assert (bundle / "assignments" / "scaling.py").is_file()
    assert not (bundle / "solutions").exists()
