"""The grader's own limits: its memory, its time budget, its refusal to grade unprotected."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest

import solutions.qkv
from autograder.core.rubric import load_rubric
from autograder.grader import grade, limits
from autograder.grader.sandbox import Limits, Sandbox

SUBMISSIONS = Path(__file__).parent / "submissions"
ROOT = Path(__file__).resolve().parent.parent
RUBRIC = load_rubric()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_the_reference_cannot_make_the_grader_exceed_its_memory_bound() -> None:
    """Small inputs, a quadratic reference: the grader refuses the allocation, and survives."""
    before = _peak_mb()
    with (
        limits.MemoryBound(1024),
        Sandbox(
            SUBMISSIONS / "reference_memory",
            ["multihead"],
            dependencies={"qkv": solutions.qkv},
            limits=Limits(wall_s=60),
        ) as box,
    ):
        with pytest.raises(ValueError, match="grader refuses to run the reference"):
            box.module("multihead").attack()
        assert box.running, "the worker is fine: the grader refused the computation"
    assert _peak_mb() - before < 1024, "the grader stayed within its bound"


def test_the_memory_bound_is_restored_after_grading() -> None:
    before = resource.getrlimit(resource.RLIMIT_DATA)
    with limits.MemoryBound(512):
        inside = resource.getrlimit(resource.RLIMIT_DATA)
        assert inside[0] != resource.RLIM_INFINITY
    assert resource.getrlimit(resource.RLIMIT_DATA) == before


def test_a_submission_has_a_total_time_budget(tmp_path: Path) -> None:
    """Every call slow: the grade ends in its budget and the checks left say they did not run."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "qkv.py").write_text((SUBMISSIONS / "slow_every_call" / "qkv.py").read_text())
    (folder / "masks.py").write_text((ROOT / "solutions" / "masks.py").read_text())
    start = time.monotonic()
    report = grade.grade(
        folder,
        parts=[2, 4],
        limits=Limits(wall_s=2.0, check_s=30.0),
        budget_s=12.0,
    )
    assert time.monotonic() - start < 12.0 + 20.0
    messages = [r.message for p in report.parts for r in p.results]
    assert any(m.startswith("not run:") for m in messages)
    assert report.parts[0].score == 0


def test_grading_where_the_sandbox_is_unprotected_is_refused(monkeypatch, tmp_path) -> None:
    """A protection the sandbox cannot apply: no grade unless told; never in what students see."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "masks.py").write_text((ROOT / "solutions" / "masks.py").read_text())
    secret = "/srv/instructor/course"

    def exposed(self) -> None:
        original(self)
        self.unapplied.append(f"the submission can read {secret}")

    original = Sandbox._setup
    monkeypatch.setattr(Sandbox, "_setup", exposed)
    refused = grade.grade(folder, parts=[4])
    assert refused.score == 0
    assert all("not graded" in r.message for r in refused.parts[0].results)
    assert any(secret in w for w in refused.warnings)
    from autograder.grader import results

    shown = [t for t in results.gradescope(refused)["tests"] if t["visibility"] != "hidden"]
    assert secret not in repr(shown) and secret not in results.gradescope(refused)["output"]
    allowed = grade.grade(folder, parts=[4], allow_unprotected=True)
    assert allowed.score == RUBRIC.points(4)
    assert any(secret in w for w in allowed.warnings)


@pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root")
def test_a_copy_of_the_course_under_tmp_is_hidden_too(tmp_path) -> None:
    """The course itself in a world-writable folder: still hidden, nothing unapplied."""
    import shutil

    course = Path("/tmp") / f"course-copy-{os.getpid()}"
    shutil.copytree(ROOT / "solutions", course / "solutions")
    try:
        with Sandbox(SUBMISSIONS / "read_files", ["qkv"], probes=[course / "solutions"]) as box:
            box.module("qkv")
            assert box.unapplied == []
    finally:
        shutil.rmtree(course)
