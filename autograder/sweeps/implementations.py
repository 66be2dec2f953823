"""Folders of module files to sweep: the reference with one part's module rewritten."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from hypothesis import settings

from autograder.core.assemble import ImplementationError, assemble, load_implementation
from autograder.core.paths import SOLUTIONS
from autograder.core.rubric import Check, Part, Rubric
from autograder.core.runner import Verdict, check_function, run_check


def reference_with(destination: Path, part: Part, source: str) -> Path:
    """A copy of ``solutions/`` in ``destination`` whose ``part`` module reads ``source``."""
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(SOLUTIONS, destination, ignore=shutil.ignore_patterns("__pycache__"))
    (destination / f"{part.module}.py").write_text(source, encoding="utf-8")
    return destination


def solution_source(part: Part) -> str:
    """The reference module of ``part``, as text."""
    return (SOLUTIONS / f"{part.module}.py").read_text(encoding="utf-8")


def verdicts(
    folder: Path | str,
    part: Part,
    checks: Iterable[Check],
    rubric: Rubric,
    chosen: settings | None = None,
    seed: int | None = None,
    device: str = "cpu",
) -> dict[str, Verdict]:
    """Run ``checks`` of ``part`` in this process on the implementation in ``folder``.

    Trusted code only: nothing is isolated. A module that does not import, or that uses a
    forbidden shortcut, fails every check with that reason, as in the grader.
    """
    implementation = load_implementation(folder)
    try:
        module = assemble(part, implementation).module
    except ImplementationError as error:
        return {c.id: Verdict(c.id, False, str(error), 0.0) for c in checks}
    return {
        check.id: run_check(
            check_function(check, rubric),
            {part.module: module},
            device=device,
            chosen=chosen,
            seed=seed,
        )
        for check in checks
    }


def failed(results: Mapping[str, Verdict]) -> list[str]:
    """The ids of the checks that failed."""
    return [check for check, verdict in results.items() if not verdict.passed]
