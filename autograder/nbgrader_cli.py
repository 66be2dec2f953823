"""Command line of the nbgrader workflow: ``python -m autograder.nbgrader_cli STEP``.

The Makefile's ``notebooks``, ``release``, ``publish``, ``collect``, ``zip-collect``,
``autograde``, ``feedback``, ``grades`` and ``crosscheck`` targets call it. The steps
themselves live in :mod:`autograder.notebooks` and :mod:`autograder.nbgrading`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from . import nbgrading, notebooks


def _notebooks(arguments: argparse.Namespace) -> int:
    settings = notebooks.Settings(
        course=arguments.course,
        exchange=arguments.exchange,
        timeout=arguments.timeout,
        groups=notebooks.parse_groups(arguments.assignment) if arguments.assignment else None,
    )
    nbgrading.install_kernel()
    written = notebooks.write_course(settings)
    for path in written.notebooks:
        print(f"wrote {path}")
    for reason in written.skipped:
        print(f"skipped {reason}")
    print(f"course directory: {settings.course} (next: make release)")
    return 0


def _release(arguments: argparse.Namespace) -> int:
    report = nbgrading.release(arguments.course, arguments.names)
    for path in report.released:
        print(f"released {path}")
    for notebook, checks in report.passing_untouched.items():
        print(f"PASSES UNTOUCHED {notebook}: {', '.join(checks)} (points for nothing)")
    for notebook, checks in report.failing_source.items():
        print(f"FAILS ON THE REFERENCE {notebook}: {', '.join(checks)}")
    if report.passing_untouched or report.failing_source:
        return 1
    count = len(report.released)
    print(f"validated: every check passes on the {count} source notebook(s), and every visible")
    print(f"check fails on the {count} released (blank) notebook(s)")
    return 0


def _publish(arguments: argparse.Namespace) -> int:
    for name in nbgrading.publish(arguments.course, arguments.names):
        print(f"published {name} to the exchange")
    return 0


def _collect(arguments: argparse.Namespace) -> int:
    for name, count in nbgrading.collect(arguments.course, arguments.names).items():
        print(f"collected {name}: {count} submission(s) in submitted/")
    return 0


def _zip_collect(arguments: argparse.Namespace) -> int:
    for name, count in nbgrading.zip_collect(arguments.course, arguments.names).items():
        print(f"unpacked the downloads of {name}: {count} submission(s) in submitted/")
    return 0


def _autograde(arguments: argparse.Namespace) -> int:
    start = time.perf_counter()
    outcomes = nbgrading.autograde(arguments.course, arguments.names, arguments.jobs)
    seconds = time.perf_counter() - start
    failed = [o for o in outcomes if not o.graded]
    stopped = [o for o in outcomes if o.graded and o.reason]
    print(
        f"autograded {len(outcomes) - len(failed)} of {len(outcomes)} submission(s) in "
        f"{seconds:.1f} s with {arguments.jobs} job(s)"
    )
    if stopped:
        print("GRADED FOR WHAT RAN (the notebook did not run to its end):")
        for outcome in stopped:
            print(f"  {outcome.assignment}/{outcome.student}: {outcome.reason}")
    if failed:
        print("NOT GRADED (no score recorded; fix or grade by hand, then rerun):")
        for outcome in failed:
            print(f"  {outcome.assignment}/{outcome.student}: {outcome.reason}")
        return 1
    return 0


def _worker(arguments: argparse.Namespace) -> int:
    tasks = [tuple(spec.split("/", 1)) for spec in arguments.tasks]
    for outcome in nbgrading.grade_tasks(arguments.course, tasks):  # type: ignore[arg-type]
        print(json.dumps(asdict(outcome)), flush=True)
    return 0


def _feedback(arguments: argparse.Namespace) -> int:
    written = nbgrading.feedback(arguments.course, arguments.names)
    print(f"wrote {len(written)} feedback file(s) under {arguments.course / 'feedback'}")
    return 0


def _grades(arguments: argparse.Namespace) -> int:
    target = nbgrading.export_grades(arguments.course, arguments.out)
    print(f"wrote {target}")
    return 0


def _crosscheck(arguments: argparse.Namespace) -> int:
    found = nbgrading.crosscheck(arguments.course, arguments.out)
    if not found:
        print("nbgrader and the isolated grader agree on every check")
        return 0
    print("nbgrader scored these checks higher than the isolated grader (tampering?):")
    for item in found:
        print(
            f"  {item.assignment}/{item.student} {item.check}: nbgrader {item.nbgrader:g}, "
            f"isolated {item.isolated:g}"
        )
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.nbgrader_cli", description=__doc__)
    parser.add_argument(
        "--course", type=lambda text: Path(text).resolve(), default=notebooks.DEFAULT_COURSE
    )
    steps = parser.add_subparsers(dest="step", required=True)

    step = steps.add_parser("notebooks", help="write the course directory and source notebooks")
    step.add_argument("--exchange", type=Path, default=notebooks.DEFAULT_EXCHANGE)
    step.add_argument("--timeout", type=int, default=120, help="seconds per cell when graded")
    step.add_argument(
        "--assignment",
        action="append",
        metavar="NAME=PARTS",
        help="group parts into an assignment (e.g. week1=1,2); default: one per part",
    )
    step.set_defaults(run=_notebooks)

    for name, run, help_text in (
        ("release", _release, "generate_assignment, then prove the release fails"),
        ("publish", _publish, "release_assignment into the exchange"),
        ("collect", _collect, "collect the submissions from the exchange"),
        ("feedback", _feedback, "generate_feedback with hidden tests cleared"),
    ):
        step = steps.add_parser(name, help=help_text)
        step.add_argument("names", nargs="*", help="assignments (default: all)")
        step.set_defaults(run=run)

    step = steps.add_parser("zip-collect", help="unpack LMS downloads (downloaded/NAME/archive)")
    step.add_argument("names", nargs="*", help="assignments (default: all downloaded)")
    step.set_defaults(run=_zip_collect)

    step = steps.add_parser("autograde", help="autograde submitted/, JOBS workers in parallel")
    step.add_argument("names", nargs="*", help="assignments (default: all)")
    step.add_argument("--jobs", "-j", type=int, default=1)
    step.set_defaults(run=_autograde)

    step = steps.add_parser("worker", help="(internal) autograde ASSIGNMENT/STUDENT in turn")
    step.add_argument("tasks", nargs="+")
    step.set_defaults(run=_worker)

    step = steps.add_parser("grades", help="export the grades as CSV, with not-graded reasons")
    step.add_argument("--out", type=Path, default=notebooks.DEFAULT_COURSE / "grades.csv")
    step.set_defaults(run=_grades)

    step = steps.add_parser("crosscheck", help="compare with the isolated grader")
    step.add_argument("--out", type=Path, default=notebooks.DEFAULT_COURSE / "crosscheck")
    step.set_defaults(run=_crosscheck)

    arguments = parser.parse_args(argv)
    try:
        return arguments.run(arguments)
    except (nbgrading.CourseError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
