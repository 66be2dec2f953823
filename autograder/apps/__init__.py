"""The course's command line, ``python -m autograder COMMAND``: one module per group.

Each module parses the arguments of its commands and calls the wing that does the work
(:mod:`autograder.build`, :mod:`autograder.grader`, :mod:`autograder.nbgrader`,
:mod:`autograder.sweeps`); no work is done here.
"""

from __future__ import annotations

import argparse
import sys

from autograder.apps import course, demo, gpu, grading, insight, nbgrader, sweeps, tasks
from autograder.core.assemble import ImplementationError

GROUPS = (course, sweeps, grading, insight, nbgrader, tasks, demo, gpu)


class UsageError(Exception):
    """A command was asked for something it cannot do; the message says what to do."""


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; 2 for a usage error, the command's code otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m autograder", description="The course's tooling."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    arguments = parser.parse_args(argv)
    try:
        return int(arguments.run(arguments) or 0)
    except (ImplementationError, UsageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
