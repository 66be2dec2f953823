"""Prove that every graded check can fail: it fails on the stubs and passes on the solution.

A check that passes on ``assignments/`` gives points for nothing; one that fails on
``solutions/`` takes them from correct work. ``make check-stubs`` runs this.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from autograder.core.assemble import (
    Implementation,
    ImplementationError,
    assemble,
    load_implementation,
)
from autograder.core.rubric import Check, Rubric, load_rubric
from autograder.core.runner import Verdict, check_function, run_check


@dataclass(frozen=True)
class StubResult:
    check: Check
    on_solution: Verdict
    on_stub: Verdict

    @property
    def ok(self) -> bool:
        return self.on_solution.passed and not self.on_stub.passed


def _verdict(check: Check, implementation: Implementation, rubric: Rubric) -> Verdict:
    part = rubric.parts[check.part]
    try:
        modules = {part.module: assemble(part, implementation).module}
    except ImplementationError as error:
        return Verdict(check.id, False, str(error), 0.0)
    return run_check(check_function(check, rubric), modules)


def verify(
    parts: Iterable[int] | None = None, rubric: Rubric | None = None
) -> Iterator[StubResult]:
    """Run every graded check of ``parts`` (all when None) on the solution and the stubs."""
    rubric = rubric or load_rubric()
    solutions, stubs = load_implementation("solutions"), load_implementation("assignments")
    wanted = set(parts or rubric.parts)
    for check in rubric.checks.values():
        if check.part not in wanted:
            continue
        if stubs.path_of(rubric.parts[check.part].module) is None:
            continue
        yield StubResult(check, _verdict(check, solutions, rubric), _verdict(check, stubs, rubric))
