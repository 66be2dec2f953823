"""``python -m autograder nbgrader STEP``: the nbgrader workflow, one step per command.

The Makefile's ``notebooks``, ``release``, ``publish``, ``collect``, ``zip-collect``,
``autograde``, ``feedback``, ``grades`` and ``crosscheck`` targets call it. The steps live in
:mod:`autograder.build.nbgrader_course` (the course directory) and :mod:`autograder.nbgrader`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from autograder.build import nbgrader_course as notebooks
from autograder.nbgrader import autograde, crosscheck, exchange, grades, release, roster
from autograder.nbgrader.course_dir import CourseError, install_kernel


def _notebooks(arguments: argparse.Namespace) -> int:
    groups, due = notebooks.parse_groups(arguments.assignment or [])
    settings = notebooks.Settings(
        course_dir=arguments.course_dir,
        exchange=arguments.exchange,
        timeout=arguments.timeout,
        groups=groups or None,
        due=due,
    )
    install_kernel()
    written = notebooks.write_course(settings)
    for path in written.notebooks:
        print(f"wrote {path}")
    for reason in written.skipped:
        print(f"skipped {reason}")
    print(f"course directory: {settings.course_dir} (next: make release)")
    print(f"students' nbgrader config: {settings.course_dir / 'student' / 'nbgrader_config.py'}")
    return 0


def _students(arguments: argparse.Namespace) -> int:
    count = roster.import_roster(arguments.course_dir, arguments.roster)
    print(f"{count} students in the gradebook of {arguments.course_dir}")
    return 0


def _release(arguments: argparse.Namespace) -> int:
    report = release.release(arguments.course_dir, arguments.names)
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
    for name in exchange.publish(arguments.course_dir, arguments.names):
        print(f"published {name} to the exchange")
    return 0


def _collect(arguments: argparse.Namespace) -> int:
    for name, count in exchange.collect(arguments.course_dir, arguments.names).items():
        print(f"collected {name}: {count} submission(s) in submitted/")
    return 0


def _zip_collect(arguments: argparse.Namespace) -> int:
    for name, count in exchange.zip_collect(arguments.course_dir, arguments.names).items():
        print(f"unpacked the downloads of {name}: {count} submission(s) in submitted/")
    return 0


def _autograde(arguments: argparse.Namespace) -> int:
    start = time.perf_counter()
    outcomes = autograde.autograde(arguments.course_dir, arguments.names, arguments.jobs)
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


def _feedback(arguments: argparse.Namespace) -> int:
    written = grades.feedback(arguments.course_dir, arguments.names)
    print(f"wrote {len(written)} feedback file(s) under {arguments.course_dir / 'feedback'}")
    return 0


def _grades(arguments: argparse.Namespace) -> int:
    out = arguments.out or arguments.course_dir / "grades.csv"
    print(f"wrote {grades.export_grades(arguments.course_dir, out)}")
    lines, written = grades.export_mistakes(arguments.course_dir, out.with_name("mistakes.csv"))
    print("\n".join(lines))
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def _crosscheck(arguments: argparse.Namespace) -> int:
    out = arguments.out or arguments.course_dir / "crosscheck"
    found = crosscheck.crosscheck(arguments.course_dir, out)
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


def _run(step):
    """``step`` with the nbgrader wing's errors turned into usage errors."""

    def run(arguments: argparse.Namespace) -> int:
        from autograder.apps import UsageError

        try:
            return step(arguments)
        except (CourseError, ValueError) as error:
            raise UsageError(str(error)) from None

    return run


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("nbgrader", help="the nbgrader workflow (make notebooks, ...)")
    parser.add_argument(
        "--course",
        dest="course_dir",
        type=lambda text: Path(text).resolve(),
        default=notebooks.DEFAULT_COURSE_DIR,
    )
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")

    step = steps.add_parser("notebooks", help="write the course directory and source notebooks")
    step.add_argument("--exchange", type=Path, default=notebooks.DEFAULT_EXCHANGE)
    step.add_argument("--timeout", type=int, default=120, help="seconds per cell when graded")
    step.add_argument(
        "--assignment",
        action="append",
        metavar="NAME=PARTS[@DUE]",
        help="group parts into an assignment, with a due date (week1=1,2@2027-01-15 17:00)",
    )
    step.set_defaults(run=_run(_notebooks))

    for name, run, help_text in (
        ("release", _release, "generate_assignment, then prove the release fails"),
        ("publish", _publish, "release_assignment into the exchange"),
        ("collect", _collect, "collect the submissions from the exchange"),
        ("feedback", _feedback, "generate_feedback with hidden tests cleared"),
        ("zip-collect", _zip_collect, "unpack LMS downloads (downloaded/NAME/archive)"),
    ):
        step = steps.add_parser(name, help=help_text)
        step.add_argument("names", nargs="*", help="assignments (default: all)")
        step.set_defaults(run=_run(run))

    step = steps.add_parser("autograde", help="autograde submitted/, JOBS processes in parallel")
    step.add_argument("names", nargs="*", help="assignments (default: all)")
    step.add_argument("--jobs", "-j", type=int, default=1)
    step.set_defaults(run=_run(_autograde))

    step = steps.add_parser("students", help="import the class list (id, first_name, last_name)")
    step.add_argument("roster", type=Path, help="a CSV with the columns id, first_name, last_name")
    step.set_defaults(run=_run(_students))

    step = steps.add_parser("grades", help="export the grades as CSV, with not-graded reasons")
    step.add_argument("--out", type=Path, default=None, help="(COURSE/grades.csv)")
    step.set_defaults(run=_run(_grades))

    step = steps.add_parser("crosscheck", help="compare with the isolated grader")
    step.add_argument("--out", type=Path, default=None, help="(COURSE/crosscheck)")
    step.set_defaults(run=_run(_crosscheck))
