"""How fast the grader is (``make bench-grader``).

Two figures, both against the budgets of issue 6 on the course's 2-core CPU:

1. the wall-clock time to grade the full reference submission (``solutions/``), every part
   of the rubric, as ``python -m autograder grade`` does it: budget 60 s;
2. the cost of isolation: the isolated grade of the reference against the same checks run
   in-process (``python -m autograder score solutions``), both as fresh commands, one torch
   thread each, interleaved round by round so that machine load hits both alike; target at
   most 1.5x;
3. batch grading of 20 submissions (reference, untouched stubs and half-done work, mixed)
   with ``--jobs 1 --lanes 1`` (one process grading at a time), then ``--jobs 1`` (each
   grade in two lanes where it has two CPUs) and ``--jobs 2``, in the same run on the same
   submissions: the throughput ratio of two grades at once over one, target at least 1.7.

    python -m benchmarks.grader                      # both
    python -m benchmarks.grader --skip-batch         # the reference grade and the ratio
    python -m benchmarks.grader --rounds 3           # rounds of the isolation ratio
    python -m benchmarks.grader --batch-parts 1 2 4 --submissions 20

The per-part and slowest-check times of the reference grade are printed too: they say where
to look when the budget is missed. The summary at the end is what ``docs/benchmarks.md``
records.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from autograder.core.rubric import load_rubric
from autograder.grader import batch, grade
from benchmarks import commit

ROOT = Path(__file__).resolve().parent.parent
GRADE_BUDGET_S = 60.0
TARGET_RATIO = 1.7
ISOLATION_TARGET = 1.5
KINDS = ("reference", "stubs", "half-done")


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def time_reference_grade() -> tuple[float, float, float, list[str]]:
    """Grade ``solutions/`` on every part; seconds, score, maximum and a per-part report."""
    rubric = load_rubric()
    start = time.perf_counter()
    report = grade.grade(ROOT / "solutions")
    seconds = time.perf_counter() - start
    lines = []
    for part in report.parts:
        spent = sum(r.seconds for r in part.results)
        slowest = max(part.results, key=lambda r: r.seconds, default=None)
        slow = f", slowest {slowest.check.id} {slowest.seconds:.1f} s" if slowest else ""
        # Bonus points come on top of the part's total (rubric.points leaves them out).
        lines.append(
            f"  part {part.part.number} {part.part.module:<18} {part.score:g} points "
            f"(total {rubric.points(part.part.number):g} + bonus), checks {spent:.1f} s{slow}"
        )
    available = sum(rubric.points(n) for n in rubric.parts)
    return seconds, report.score, available, lines


def _timed(command: list[str]) -> float:
    """Seconds one fresh command takes; it must succeed."""
    # One torch thread for both: the grader's workers use one, and two threads that wait for
    # each other on a busy machine would make the in-process run look slow, not the grader fast.
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=environment, check=True, capture_output=True)
    return time.perf_counter() - start


def time_isolation(rounds: int, out: Path) -> list[tuple[float, float, float]]:
    """``(in-process s, isolated s, isolated score)`` per round: ``score`` and ``grade`` of
    the reference (the score says the grade really ran: a grader that refuses to grade on a
    machine where it cannot protect itself is fast and scores 0)."""
    score = [sys.executable, "-m", "autograder", "score", "solutions"]
    isolated = [sys.executable, "-m", "autograder", "grade", "solutions", "--out"]
    pairs = []
    for index in range(rounds):
        in_process = _timed(score)
        results = out / f"results-{index}.json"
        graded = _timed([*isolated, str(results)])
        pairs.append((in_process, graded, json.loads(results.read_text())["score"]))
    return pairs


def make_submissions(folder: Path, count: int) -> dict[str, int]:
    """``count`` submissions in ``folder``, the kinds in turn; how many of each kind."""
    ignore = shutil.ignore_patterns("__pycache__")
    made = dict.fromkeys(KINDS, 0)
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        target = folder / f"student{index:02d}-{kind}"
        source = ROOT / ("solutions" if kind == "reference" else "assignments")
        shutil.copytree(source, target, ignore=ignore)
        if kind == "half-done":
            # The first two parts done, the rest the stubs.
            for module in ("softmax_attention", "qkv"):
                shutil.copy2(ROOT / "solutions" / f"{module}.py", target / f"{module}.py")
        made[kind] += 1
    return made


def time_batch(
    folder: Path, jobs: int, parts: list[int] | None, out: Path, lanes: int | None = None
) -> float:
    """Seconds to batch-grade ``folder`` from scratch with ``jobs`` grades at once, each in
    ``lanes`` grader processes (None: the default)."""
    start = time.perf_counter()
    batch.run_batch(folder, out / "grades.csv", jobs=jobs, parts=parts, progress=False, lanes=lanes)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument(
        "--batch-parts",
        type=int,
        nargs="*",
        default=None,
        help="parts graded in the batch benchmark (default: every part)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the isolation ratio")
    parser.add_argument("--skip-grade", action="store_true")
    parser.add_argument("--skip-isolation", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args(argv)

    summary = [
        f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit()}, "
        f"torch {torch.__version__}, {os.cpu_count()} CPUs ({platform.processor() or 'cpu'}), "
        f"load average at start {_load()}"
    ]
    if not args.skip_grade:
        seconds, score, available, lines = time_reference_grade()
        print("reference grade, every part:", *lines, sep="\n")
        verdict = "within" if seconds <= GRADE_BUDGET_S else "OVER"
        summary.append(
            f"full reference grade: {seconds:.1f} s ({score:g} points, {available:g} "
            f"without bonus), "
            f"{verdict} the {GRADE_BUDGET_S:g} s budget"
        )
    if not args.skip_isolation:
        with tempfile.TemporaryDirectory(prefix="bench-isolation-") as scratch:
            pairs = time_isolation(args.rounds, Path(scratch))
        ratios = [graded / in_process for in_process, graded, _ in pairs]
        median = statistics.median(ratios)
        verdict = "meets" if median <= ISOLATION_TARGET else "MISSES"
        summary.append("isolation cost, reference, every part, one torch thread, same run:")
        summary += [
            f"  round {i + 1}: in-process score {a:.1f} s, isolated grade {b:.1f} s "
            f"({points:g} points), {b / a:.2f}x"
            for i, (a, b, points) in enumerate(pairs)
        ]
        summary.append(f"  median {median:.2f}x, {verdict} the {ISOLATION_TARGET}x target")
    if not args.skip_batch:
        with tempfile.TemporaryDirectory(prefix="bench-grader-") as scratch:
            folder = Path(scratch) / "submissions"
            folder.mkdir()
            made = make_submissions(folder, args.submissions)
            one = time_batch(folder, 1, args.batch_parts, Path(scratch) / "jobs1", lanes=1)
            laned = time_batch(folder, 1, args.batch_parts, Path(scratch) / "lanes")
            two = time_batch(folder, 2, args.batch_parts, Path(scratch) / "jobs2")
        ratio = one / two
        kinds = ", ".join(f"{n} {kind}" for kind, n in made.items())
        parts = " ".join(map(str, args.batch_parts)) if args.batch_parts else "all"
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        summary += [
            f"batch of {args.submissions} submissions ({kinds}), parts {parts}:",
            f"  --jobs 1 --lanes 1: {one:.1f} s ({args.submissions / one * 60:.1f} "
            "submissions/min)",
            f"  --jobs 1 (lanes by default): {laned:.1f} s "
            f"({args.submissions / laned * 60:.1f} submissions/min, {one / laned:.2f}x)",
            f"  --jobs 2: {two:.1f} s ({args.submissions / two * 60:.1f} submissions/min)",
            f"  throughput ratio --jobs 2 over --jobs 1 --lanes 1: {ratio:.2f}x, {verdict} the "
            f"{TARGET_RATIO}x target",
        ]
    summary.append(f"load average at the end {_load()}")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
