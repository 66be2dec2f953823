"""Command line of the course's tooling: ``python -m autograder COMMAND``."""

from __future__ import annotations

import argparse
import sys

from . import stubs


def _stubs(arguments: argparse.Namespace) -> int:
    written = stubs.write_stubs()
    for path in written:
        print(f"wrote {path.relative_to(stubs.ROOT)}")
    print(f"assignments/ is up to date ({len(written)} file(s) rewritten)")
    return 0


def _check_stubs(arguments: argparse.Namespace) -> int:
    problems = stubs.stale_files()
    if problems:
        print("assignments/ is out of sync with solutions/:")
        for problem in problems:
            print(f"  {problem}")
        print("Run `make stubs` to regenerate it, then commit assignments/.")
        return 1
    print("assignments/ matches solutions/")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("stubs", help="regenerate assignments/ from solutions/").set_defaults(
        run=_stubs
    )
    commands.add_parser(
        "check-stubs", help="fail when assignments/ differs from what solutions/ generates"
    ).set_defaults(run=_check_stubs)
    arguments = parser.parse_args(argv)
    return arguments.run(arguments)


if __name__ == "__main__":
    sys.exit(main())
