"""Crafted hostile submissions, graded end to end by :func:`autograder.grader.grade.grade`.

Each case is a hostile ``qkv.py`` (part 2) handed in beside the reference ``masks.py``
(part 4, the honest work). Whatever the hostile module does, the grader must finish, give
part 2 no more than its honest work (none of these answers part 2 correctly: 0), explain
every part-2 verdict, keep part 4's full marks, and write a valid Gradescope results.json.
Each case is graded in one lane and in two (the parts shared by two grader processes, as
``grade`` does on a machine with two CPUs). ``tests/test_sandbox.py`` tests the same
submissions one level down, at the sandbox.

The limits are small so that a looping case costs seconds, not minutes: a request may run
``LIMITS.wall_s`` seconds, a check ``LIMITS.check_s`` and the submission ``BUDGET_S`` seconds
in all. The budget is what the honest part 4 needs on a busy 2-core machine, with room to
spare; it is also what a submission that hangs or dies in every check costs at most.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from autograder.build import notebook as notebooks
from autograder.core.rubric import load_rubric
from autograder.grader import grade, results
from autograder.grader.results import Report
from autograder.grader.sandbox import Limits

from .test_grade import validate_gradescope

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).parent / "submissions"
RUBRIC = load_rubric()
HOSTILE, HONEST = 2, 4
LIMITS = Limits(wall_s=2.0, startup_s=60.0, cpu_s=60, memory_mb=4096, check_s=8.0)
BUDGET_S = 90.0
OUTLIVE_MARKER = "autograder-hostile-outlive-the-part"
EVIL_PICKLE_MARKER = Path("/tmp/evil_pickle_ran")


@dataclass(frozen=True)
class Case:
    """What grading one crafted submission must show.

    Attributes:
        says: a phrase the message of the first part-2 check contains (the cause, in words).
        problem: a phrase the report's submission-level problems contain, if any.
        build: makes the submission from the crafted case folder and ``tmp``; the default
            copies the case's ``qkv.py`` beside the reference ``masks.py``.
        needs_root: the protection it tests needs root (a mount namespace, a uid of its
            own); without root the test only asks that the report says it was not applied.
        honest: part 2 is correct code whatever else it does: it keeps its full marks.
    """

    says: str
    problem: str | None = None
    build: Callable[[Path, Path], Path] | None = None
    needs_root: bool = False
    honest: bool = False


def with_honest_masks(case: Path, tmp: Path) -> Path:
    """The folder ``qkv.py`` (crafted) + ``masks.py`` (the reference)."""
    folder = tmp / "submission"
    folder.mkdir()
    shutil.copy2(case / "qkv.py", folder / "qkv.py")
    shutil.copy2(ROOT / "solutions" / "masks.py", folder / "masks.py")
    return folder


def notebooks_with_a_broken_one(case: Path, tmp: Path) -> Path:
    """A folder of notebooks: part 2's is not JSON, part 4's is the reference notebook."""
    folder = tmp / "notebooks"
    folder.mkdir()
    shutil.copy2(case / "part2_qkv.ipynb", folder / "part2_qkv.ipynb")
    part = RUBRIC.parts[HONEST]
    nbformat.write(
        notebooks.build_notebook(part, RUBRIC), folder / f"{notebooks.notebook_name(part)}.ipynb"
    )
    return folder


def zip_escaping_its_folder(case: Path, tmp: Path) -> Path:
    """A zip of the honest ``masks.py`` and a ``qkv.py`` stored as ``../../qkv.py``."""
    archive = tmp / "submission.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(ROOT / "solutions" / "masks.py", "work/masks.py")
        handle.write(ROOT / "solutions" / "qkv.py", "../../qkv.py")
    return archive


CASES: dict[str, Case] = {
    "syntax_error": Case(says="SyntaxError"),
    "import_error": Case(says="attention_helpers_that_do_not_exist"),
    "missing_function": Case(says="scaled_dot_product_attention"),
    "raises_custom": Case(says="ShapeError"),
    "loop_at_import": Case(says="wall-clock limit"),
    "loop_in_call": Case(says="wall-clock limit"),
    "huge_allocation": Case(says="memory"),
    "exit_at_import": Case(says="exited with code 3"),
    "exit_in_call": Case(says="exited with code 5"),
    "fake_output": Case(says=""),
    "monkeypatch": Case(says=""),
    "forge_answers": Case(says=""),
    "garbage_on_channel": Case(says="cannot accept"),
    "print_flood": Case(says="file"),
    "evil_pickle": Case(says=""),
    "steal_solution": Case(says="could not read the reference solution", needs_root=True),
    "outlive_the_part": Case(says="", needs_root=True),
    "broken_notebook": Case(
        says="no qkv.py", problem="not a valid notebook", build=notebooks_with_a_broken_one
    ),
    "zip_escaping_its_folder": Case(
        says="no qkv.py", problem="escapes its folder", build=zip_escaping_its_folder
    ),
    "shared_memory": Case(says="memory", needs_root=True),
    "sysv_memory": Case(says="System V", needs_root=True),
    "fill_scratch": Case(says="wrote", needs_root=True),
    "snoop_processes": Case(says="processes seen", needs_root=True),
    "huge_message": Case(says="spam"),
    "empty_containers": Case(says="cannot accept"),
    "many_type_names": Case(says=""),
    "slow_every_call": Case(says="wall-clock limit"),
    "patch_the_runtime": Case(says="", honest=True),
}
"""Every crafted case and what its grade must show; ``says`` "" only asks for a message."""


def survivors(marker: str) -> list[int]:
    """Processes whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found


def system_v_segments() -> list[str]:
    """The System V shared memory segments of the machine (this namespace's)."""
    return Path("/proc/sysvipc/shm").read_text().splitlines()[1:]


@pytest.fixture
def results_file(tmp_path: Path) -> Path:
    """A results.json already written (by an earlier run), in a folder hidden from the worker."""
    path = tmp_path / "results" / "results.json"
    path.parent.mkdir()
    path.write_text('{"score": 0.0, "tests": []}\n')
    return path


@pytest.fixture
def grader_state():
    """The grader's own torch/numpy/builtins, to prove no submission changed them."""
    return (torch.allclose, torch.equal, np.allclose, abs, all, torch.Tensor.__eq__)


def grade_case(
    name: str, tmp_path: Path, results_file: Path, lanes: int = 1
) -> tuple[Report, dict]:
    case = CASES[name]
    build = case.build or with_honest_masks
    submission = build(SUBMISSIONS / name, tmp_path)
    report = grade.grade(
        submission,
        parts=(HOSTILE, HONEST),
        limits=LIMITS,
        hide=(results_file.parent,),
        budget_s=BUDGET_S,
        lanes=lanes,
    )
    return report, results.gradescope(report)


@pytest.mark.parametrize("lanes", [1, 2])
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_crafted_submission_scores_no_more_than_its_honest_work(
    name, lanes, tmp_path, results_file, grader_state, capfd
):
    case = CASES[name]
    EVIL_PICKLE_MARKER.unlink(missing_ok=True)
    before = {p: p.read_bytes() for p in (results_file, ROOT / "solutions" / "qkv.py")}
    segments_before = system_v_segments()
    start = time.monotonic()
    try:
        report, data = grade_case(name, tmp_path, results_file, lanes)
    finally:
        # Only this case's processes carry the marker (another case may run beside it).
        leftover = survivors(OUTLIVE_MARKER) if name == "outlive_the_part" else []
        for pid in leftover:
            os.kill(pid, signal.SIGKILL)
    seconds = time.monotonic() - start
    if case.needs_root and os.geteuid() != 0:
        assert any("protection not applied" in w for w in report.warnings)
        pytest.skip("without root the grader can only report that it is exposed")

    # The run finished, in time, with both parts and a valid results.json.
    validate_gradescope(json.loads(json.dumps(data)))
    assert [p.part.number for p in report.parts] == [HOSTILE, HONEST]
    assert seconds < BUDGET_S + 60, f"grading took {seconds:.0f} s"
    per_part = report.per_part()

    # Part 2: zero (or full marks for honest code), and every check says why.
    hostile = report.parts[0]
    assert len(hostile.results) == len(RUBRIC.checks_of(HOSTILE))
    assert all(r.message.strip() for r in hostile.results)
    assert all(t["output"].strip() for t in data["tests"] if t["number"].startswith("2."))
    if case.honest:
        assert per_part[HOSTILE] == RUBRIC.points(HOSTILE), [
            (r.check.id, r.message) for r in hostile.results if not r.passed
        ]
    else:
        assert per_part[HOSTILE] == 0, [r.check.id for r in hostile.results if r.passed]
        assert case.says in hostile.results[0].message, hostile.results[0].message[:500]
    # Whatever the submission sent, every message is cut and the file stays small.
    assert len(json.dumps(data).encode()) < results.MAX_BYTES
    assert all(len(t["output"]) < 2 * results.MAX_TEXT for t in data["tests"])
    if case.problem:
        assert any(case.problem in p for p in report.problems), report.problems

    # Part 4: the honest work keeps its marks.
    assert per_part[HONEST] == RUBRIC.points(HONEST), [
        (r.check.id, r.message) for r in report.parts[1].results if not r.passed
    ]

    # Nothing escaped the worker: no process, no file, no change to the grader's modules.
    assert not leftover, f"processes outlived the part: {leftover}"
    assert all(p.read_bytes() == content for p, content in before.items())
    assert not EVIL_PICKLE_MARKER.exists(), "the grader unpickled the submission's object"
    assert system_v_segments() == segments_before, "System V memory outlived the worker"
    assert "pytest" not in json.dumps(data), "the submission saw the grader's processes"
    assert (torch.allclose, torch.equal, np.allclose, abs, all, torch.Tensor.__eq__) == grader_state
    assert not torch.allclose(torch.zeros(1), torch.ones(1))
    printed = capfd.readouterr()
    assert "42 passed" not in printed.out + printed.err, "the submission's output reached ours"
    assert '"score": 100' not in json.dumps(data)


@pytest.mark.skipif(os.geteuid() != 0, reason="the protections need root (see docs/grading.md)")
def test_the_grader_reports_no_unapplied_protection_as_root(tmp_path, results_file):
    report, data = grade_case("steal_solution", tmp_path, results_file)
    assert report.warnings == []
    assert "protection not applied" not in json.dumps(data)
