"""Commands of the instructor's insight: ``diagnoses`` (the table of known mistakes the
diagnosis compares with) and ``similarity`` (pairs of unusually similar submissions)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from autograder.core.paths import BUILD, ROOT


def _diagnoses(arguments: argparse.Namespace) -> int:
    """Write (or check) tests/probes/expected.json; optionally diagnose every mistake through
    the sandbox, as the grader does."""
    from autograder.diagnosis import sweep, table

    warnings.filterwarnings("ignore")  # the mistakes overflow and divide by zero on purpose
    if arguments.check:
        stale = table.stale_parts()
        for line in stale:
            print(line)
        print("Run `make diagnoses` and commit tests/probes/expected.json." if stale else "current")
        return 1 if stale else 0
    tables = table.build(arguments.parts)
    problems = [p for t in tables for p in t.problems]
    path = table.write(tables)
    for t in tables:
        mistakes, probes = len(t.entry["mistakes"]), len(t.entry["probes"])
        print(f"part {t.part.number}: {mistakes} mistakes, {probes} probes")
    print(f"wrote {path.relative_to(ROOT)}")
    for problem in problems:
        print(f"PROBLEM {problem}")
    wrong = 0
    if arguments.grader:
        for found in sweep.sweep(arguments.parts):
            wrong += not found.right
            if not found.right or arguments.verbose:
                print(found.line)
        print(f"through the grader: {wrong} mistakes or variants diagnosed wrongly")
    return 1 if problems or wrong else 0


def _similarity(arguments: argparse.Namespace) -> int:
    from autograder.apps import UsageError
    from autograder.diagnosis import report, similarity
    from autograder.grader.batch import find_submissions

    if not arguments.submissions.is_dir():
        raise UsageError(f"{arguments.submissions} is not a folder of submissions")
    submissions = find_submissions(arguments.submissions)
    _, pairs = similarity.find(submissions)
    path = report.write(pairs, len(submissions), arguments.out)
    print("\n".join(summary(pairs, len(submissions))))
    print(f"report: {path}")
    return 0


def summary(pairs: list, submissions: int) -> list[str]:
    """The flagged pairs, one line each."""
    flagged = [p for p in pairs if p.flagged]
    lines = [
        f"similar submissions: {len(flagged)} of {len(pairs)} pairs flagged "
        f"({submissions} submissions)"
    ]
    lines += [
        f"  {p.first.name} ~ {p.second.name}: {p.scores[0]:.0%} / {p.scores[1]:.0%}"
        for p in flagged
    ]
    return lines


def register(commands: argparse._SubParsersAction) -> None:
    diagnoses = commands.add_parser(
        "diagnoses", help="write tests/probes/expected.json from the mistakes (make diagnoses)"
    )
    diagnoses.add_argument("--parts", type=int, nargs="+", help="part numbers (default: all)")
    diagnoses.add_argument("--check", action="store_true", help="only say whether it is stale")
    diagnoses.add_argument(
        "--grader", action="store_true", help="also diagnose every mistake through the sandbox"
    )
    diagnoses.add_argument("--verbose", action="store_true", help="print every sweep line")
    diagnoses.set_defaults(run=_diagnoses)
    similar = commands.add_parser(
        "similarity", help="pairs of unusually similar submissions -> an HTML report"
    )
    similar.add_argument("submissions", type=Path, help="a folder of submission folders or zips")
    similar.add_argument("--out", type=Path, default=BUILD / "similarity.html")
    similar.set_defaults(run=_similarity)
