"""Commands of the isolated grader: ``grade`` one submission, ``batch`` a folder of them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autograder.core.paths import BUILD
from autograder.core.rubric import load_rubric


def _grade(arguments: argparse.Namespace) -> int:
    from autograder.apps import UsageError
    from autograder.grader import grade, results
    from autograder.grader import limits as bounds
    from autograder.grader.sandbox import Limits

    if not arguments.submission.exists():
        raise UsageError(
            f"{arguments.submission} does not exist: give a submission folder, a .zip file or "
            "a folder of notebooks"
        )
    out = arguments.out.resolve()
    lanes = max(1, arguments.lanes if arguments.lanes is not None else bounds.default_lanes())
    spin_s = (
        max(0.0, arguments.spin_ms) / 1000
        if arguments.spin_ms is not None
        else bounds.default_spin_s(graders=lanes)
    )
    limits = Limits(
        wall_s=arguments.wall_s,
        cpu_s=arguments.cpu_s,
        memory_mb=arguments.memory_mb,
        spin_s=spin_s,
    )
    report = grade.grade(
        arguments.submission,
        parts=arguments.parts,
        limits=limits,
        isolate=not arguments.no_isolation,
        hide=(out.parent,),
        budget_s=arguments.budget_s,
        allow_unprotected=arguments.allow_unprotected,
        grader_memory_mb=arguments.grader_memory_mb,
        lanes=lanes,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results.gradescope(report), indent=2) + "\n", encoding="utf-8")
    for warning in report.warnings:
        # For the instructor: these name the grader's own folders, never shown to students.
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{arguments.submission}: {report.score:g} points in {report.seconds:.1f} s -> {out}")
    for part in report.parts:
        available = sum(r.check.points for r in part.results if not r.check.bonus)
        print(f"  part {part.part.number} {part.part.module:<18} {part.score:>5g} / {available:g}")
    return 0


def _batch(arguments: argparse.Namespace) -> int:
    from autograder.apps import UsageError
    from autograder.grader import batch

    if not arguments.submissions.is_dir():
        raise UsageError(
            f"{arguments.submissions} is not a folder: give the folder that holds one "
            "submission folder or .zip file per student"
        )
    graded = batch.run_batch(
        arguments.submissions,
        arguments.out,
        jobs=arguments.jobs,
        parts=arguments.parts,
        lanes=arguments.lanes,
    )
    print("\n".join(batch.summary(graded, load_rubric())))
    print(f"points per part: {arguments.out}")
    _insight(arguments, graded)
    return 0


def _insight(arguments: argparse.Namespace, graded: list) -> None:
    """What the class got wrong (the diagnosed mistakes) and, unless told not to, the pairs
    of unusually similar submissions."""
    from autograder.apps.insight import summary
    from autograder.diagnosis import classes, report, similarity
    from autograder.grader.batch import find_submissions

    table = classes.rows(classes.from_results((g.name, g.data) for g in graded))
    written = classes.write(table, arguments.out.with_name("mistakes.csv"), len(graded))
    print("\n".join(classes.lines(table, len(graded))))
    print(f"diagnosed mistakes: {', '.join(str(p) for p in written)}")
    if arguments.no_similarity:
        return
    submissions = find_submissions(arguments.submissions)
    _, pairs = similarity.find(submissions)
    path = report.write(pairs, len(submissions), arguments.out.with_name("similarity.html"))
    print("\n".join(summary(pairs, len(submissions))))
    print(f"similar submissions: {path}")


def register(commands: argparse._SubParsersAction) -> None:
    grade = commands.add_parser("grade", help="grade a submission in a sandbox -> results.json")
    grade.add_argument("submission", type=Path, help="a folder, a zip or a folder of notebooks")
    grade.add_argument("--out", type=Path, default=Path("results.json"))
    grade.add_argument("--parts", type=int, nargs="+", help="part numbers (default: all)")
    grade.add_argument(
        "--no-isolation", action="store_true", help="no namespace or unprivileged user"
    )
    grade.add_argument("--wall-s", type=float, default=30.0, help="seconds per call (30)")
    grade.add_argument("--cpu-s", type=int, default=600, help="CPU seconds per part (600)")
    grade.add_argument("--memory-mb", type=int, default=4096, help="memory per part (4096)")
    grade.add_argument(
        "--budget-s", type=float, default=480.0, help="wall seconds for the submission (480)"
    )
    grade.add_argument(
        "--grader-memory-mb", type=int, default=3072, help="the grader's own memory (3072)"
    )
    grade.add_argument(
        "--spin-ms",
        type=float,
        help="ms the grader and the worker poll for each other before sleeping "
        "(default: 2 where each can have a core, else 0)",
    )
    grade.add_argument(
        "--lanes",
        type=int,
        help="grader processes that grade parts at once "
        "(default: one per CPU, at most 2; 1 on a CPU or less)",
    )
    grade.add_argument(
        "--allow-unprotected",
        action="store_true",
        help="grade even where the sandbox cannot apply its protections (it says which)",
    )
    grade.set_defaults(run=_grade)
    many = commands.add_parser("batch", help="grade a folder of submissions in parallel")
    many.add_argument("submissions", type=Path, help="a folder of submission folders or zips")
    many.add_argument("--out", type=Path, default=BUILD / "grades.csv")
    many.add_argument("--jobs", type=int, default=1, help="submissions graded at once")
    many.add_argument("--parts", type=int, nargs="+", help="part numbers (default: all)")
    many.add_argument(
        "--lanes",
        type=int,
        help="grader processes each grade uses at once (default: 2 where each grade has two "
        "CPUs, else 1)",
    )
    many.add_argument(
        "--no-similarity", action="store_true", help="skip the similar-submissions report"
    )
    many.set_defaults(run=_batch)
