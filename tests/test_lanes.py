"""Grading lanes: the parts of one submission graded by two grader processes at once.

Every part is graded exactly once and comes back in the order asked for; a lane that dies or hangs
costs only the parts it held, each with the reason; a refusal to grade reaches the parts no
lane took; each lane has its own ready zygote; and through the command line the results are
the same, byte for byte apart from the times, as one lane's.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from autograder.core.rubric import Part, load_rubric
from autograder.grader import batch, lanes, limits, spawner
from autograder.grader.lanes import GradeParts, LaneResults
from autograder.grader.results import PartResult

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = load_rubric()
PARTS = list(RUBRIC.parts.values())
SOON = 60.0


class BothLanes:
    """Holds this process's lane on its first part until the forked lane has taken one, so
    that both lanes surely take parts however slowly the fork starts."""

    def __init__(self) -> None:
        self.grader = os.getpid()
        self.read, self.write = os.pipe()

    @property
    def forked(self) -> bool:
        return os.getpid() != self.grader

    def took_a_part(self) -> None:
        if self.forked:
            os.write(self.write, b"x")
        else:
            select.select([self.read], [], [], SOON)


def _pid_of(result: PartResult) -> int:
    return int(result.warnings[0].split()[-1])


def _graded(part: Part) -> PartResult:
    return PartResult(part, warnings=[f"graded by {os.getpid()}"])


def _grading(both: BothLanes, in_the_fork: Callable[[], None] = lambda: None) -> GradeParts:
    """A lane that grades every part it takes; in the forked lane, ``in_the_fork`` runs
    first (dies, hangs) on each part."""

    def grade_parts(claimed: Iterator[Part]) -> LaneResults:
        done = LaneResults()
        for part in claimed:
            both.took_a_part()
            if both.forked:
                in_the_fork()
            done.parts.append(_graded(part))
        return done

    return grade_parts


def test_each_part_is_graded_once_by_the_next_free_lane_and_comes_back_in_order() -> None:
    merged = lanes.grade_in_lanes(PARTS, 2, _grading(BothLanes()), time.monotonic() + SOON)
    assert [r.part.number for r in merged] == [p.number for p in PARTS]
    assert len({_pid_of(r) for r in merged}) == 2, "both lanes took parts"
    assert os.getpid() in {_pid_of(r) for r in merged}, "this process is the first lane"


def test_one_lane_grades_here_without_forking() -> None:
    def every_part(claimed: Iterator[Part]) -> LaneResults:
        return LaneResults([_graded(part) for part in claimed])

    merged = lanes.grade_in_lanes(PARTS, 1, every_part, time.monotonic() + SOON)
    assert {_pid_of(r) for r in merged} == {os.getpid()}


def test_a_lane_that_dies_costs_only_the_part_it_held() -> None:
    both = BothLanes()
    dies = _grading(both, lambda: os._exit(3))
    merged = lanes.grade_in_lanes(PARTS, 2, dies, time.monotonic() + SOON)
    lost = [r for r in merged if r.problem]
    assert len(lost) == 1, "the lane died holding one part; this lane graded the others"
    assert "status 3" in lost[0].problem and not lost[0].results
    assert "status 3" in lost[0].warnings[0]
    assert all(_pid_of(r) == both.grader for r in merged if not r.problem)


def test_a_lane_that_hangs_is_stopped_at_the_deadline() -> None:
    hangs = _grading(BothLanes(), lambda: time.sleep(3600))
    start = time.monotonic()
    merged = lanes.grade_in_lanes(PARTS, 2, hangs, start + 3)
    assert time.monotonic() - start < 15
    lost = [r for r in merged if r.problem]
    assert len(lost) == 1 and "ran out of time" in lost[0].problem
    assert len(merged) == len(PARTS)


@pytest.mark.parametrize("count", [1, 2])
def test_a_refusal_reaches_every_part_no_lane_graded(count: int) -> None:
    def refuses(claimed: Iterator[Part]) -> LaneResults:
        part = next(claimed)
        stop = PartResult(part, problem="not graded: refused", warnings=["no protection"])
        return LaneResults(stopped=stop)

    merged = lanes.grade_in_lanes(PARTS, count, refuses, time.monotonic() + SOON)
    assert [r.part.number for r in merged] == [p.number for p in PARTS]
    assert all(r.problem == "not graded: refused" and r.warnings for r in merged)


def test_a_lane_gets_its_own_ready_copy_of_the_zygote() -> None:
    """The copy is forked from this process's zygote (no second torch import), serves the
    lane alone, and ends with it; this process's zygote is untouched."""
    mine = spawner.zygote()
    (spare,) = spawner.start_spares(1)
    both = BothLanes()

    def reports_its_zygote(claimed: Iterator[Part]) -> LaneResults:
        done = LaneResults()
        for part in claimed:
            both.took_a_part()
            zygote = spawner.zygote()
            done.parts.append(PartResult(part, warnings=[f"{zygote.ready} {zygote.pid}"]))
            if both.forked:
                return done
        return done

    with lanes.spares(2):
        merged = lanes.grade_in_lanes(PARTS, 2, reports_its_zygote, time.monotonic() + SOON)
    used = {r.warnings[0] for r in merged}
    assert used == {f"True {mine.pid}", f"True {spare}"}
    assert spawner.zygote() is mine and mine.alive
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{spare}"):
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{spare}"), "the lane's zygote ended with the lane"


@pytest.mark.parametrize(
    ("cpus", "graders", "expected"),
    [(0.5, 1, 1), (1, 1, 1), (2, 1, 2), (3, 1, 2), (16, 1, 2), (2, 2, 1), (4, 2, 2)],
)
def test_lanes_only_where_a_grade_has_a_cpu_for_each(
    cpus: float, graders: int, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "usable_cpus", lambda: cpus)
    assert limits.default_lanes(graders) == expected


def test_a_batch_tells_each_grade_how_many_lanes_and_whether_to_poll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []

    class Finished:
        returncode = 0

        def __init__(self, command: list[str], **_: object) -> None:
            commands.append(command)

        def communicate(self, timeout: float) -> tuple[bytes, bytes]:
            return b"", b""

    monkeypatch.setattr(batch.subprocess, "Popen", Finished)
    key = {"parts": None}
    batch._grade_one(tmp_path, tmp_path / "out.json", key, 10, 0.0, 2)
    batch._grade_one(tmp_path, tmp_path / "out.json", key, 10, 0.002, 1)
    assert [c[c.index("--spin-ms") + 1] for c in commands] == ["0", "2"]
    assert [c[c.index("--lanes") + 1] for c in commands] == ["2", "1"]


def _grade(submission: Path, out: Path, *options: str) -> dict:
    command = [sys.executable, "-m", "autograder", "grade", str(submission), "--out", str(out)]
    run = subprocess.run(
        [*command, *options], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    return json.loads(out.read_text())


def _without_times(data: dict) -> dict:
    data = {**data, "execution_time": 0}
    data["tests"] = [
        {**t, "extra_data": {**t.get("extra_data", {}), "seconds": 0}} for t in data["tests"]
    ]
    return data


def test_two_lanes_write_the_results_one_lane_writes(tmp_path: Path) -> None:
    """A half-done submission (part 1 the reference, parts 3 and 4 the stubs, with a
    diagnosis each where one applies): the same results.json from one lane and from two."""
    folder = tmp_path / "half"
    folder.mkdir()
    for module in ("softmax_attention", "multihead", "masks", "qkv"):
        source = "solutions" if module == "softmax_attention" else "assignments"
        (folder / f"{module}.py").write_text((ROOT / source / f"{module}.py").read_text())
    parts = ["--parts", "4", "1", "3"]
    one = _grade(folder, tmp_path / "one.json", *parts, "--lanes", "1")
    two = _grade(folder, tmp_path / "two.json", *parts, "--lanes", "2")
    assert _without_times(one) == _without_times(two)
    assert one["score"] == RUBRIC.points(1)
    order = list(dict.fromkeys(t["extra_data"]["part"] for t in two["tests"]))
    assert order == [4, 1, 3], "the order asked for, whichever lane graded what"


def test_two_lanes_keep_the_submissions_time_budget(tmp_path: Path) -> None:
    """Every call of part 2 slow: both lanes stop at the one deadline, results still written."""
    folder = tmp_path / "submission"
    folder.mkdir()
    slow = ROOT / "tests" / "submissions" / "slow_every_call" / "qkv.py"
    (folder / "qkv.py").write_text(slow.read_text())
    (folder / "masks.py").write_text((ROOT / "solutions" / "masks.py").read_text())
    start = time.monotonic()
    data = _grade(
        folder,
        tmp_path / "results.json",
        *("--parts", "2", "4", "--lanes", "2", "--wall-s", "2", "--budget-s", "12"),
    )
    assert time.monotonic() - start < 12 + 25
    part2 = [t for t in data["tests"] if t["extra_data"]["part"] == 2]
    part4 = [t for t in data["tests"] if t["extra_data"]["part"] == 4]
    assert any(t["output"].startswith("not run:") for t in part2)
    assert sum(t["score"] for t in part2) == 0
    assert sum(t["score"] for t in part4) == RUBRIC.points(4), "the other lane's part is whole"
