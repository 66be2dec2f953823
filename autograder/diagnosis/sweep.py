"""Every mistake of the catalogue diagnosed as the grader diagnoses it: through the sandbox.

Each mistake (and each correct variant) is the reference with the edit applied; its module
runs in a sandboxed worker, as a student's would, and is probed through the proxies. The
sweep reports every mistake not diagnosed as itself and every variant that gets a diagnosis.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder.core.assemble import REFERENCE, plan
from autograder.core.rubric import Part, Rubric, load_rubric
from autograder.diagnosis.grading import diagnose_in_sandbox
from autograder.grader.limits import Limits
from autograder.grader.sandbox import Sandbox
from autograder.sweeps import implementations, mutants
from tests.probes import Diagnosis

PART_BUDGET_S = 120.0


def _dependencies(part: Part) -> dict[str, object]:
    earlier = plan(part.depends, implementation_is_reference=False, reference=True)
    return {
        name: importlib.import_module(f"solutions.{name}")
        for name, whose in earlier.items()
        if whose == REFERENCE
    }


def diagnose_folder(folder: Path, part: Part, isolate: bool = True) -> Diagnosis | None:
    """The diagnosis the grader gives ``part`` of the module files in ``folder``."""
    with Sandbox(folder, [part.module], _dependencies(part), Limits(), isolate=isolate) as box:
        return diagnose_in_sandbox(box, part, time.monotonic() + PART_BUDGET_S)


@dataclass(frozen=True)
class Found:
    """What the grader's diagnosis says of one mistake or variant."""

    mutant: mutants.Mutant
    diagnosis: Diagnosis | None

    @property
    def right(self) -> bool:
        """A mistake diagnosed as itself; a variant given no diagnosis."""
        if self.mutant.correct:
            return self.diagnosis is None
        return self.diagnosis is not None and self.diagnosis.name == self.mutant.name

    @property
    def line(self) -> str:
        said = self.diagnosis.name if self.diagnosis else "no diagnosis"
        return f"{'ok   ' if self.right else 'WRONG'} {self.mutant.label}: {said}"


def sweep(
    parts: Iterable[int] | None = None,
    rubric: Rubric | None = None,
    isolate: bool = True,
    names: Iterable[str] | None = None,
) -> Iterator[Found]:
    """Every mutant of ``parts`` (only those called ``names`` when given), diagnosed through
    the sandbox."""
    rubric = rubric or load_rubric()
    wanted = set(names) if names is not None else None
    with tempfile.TemporaryDirectory(prefix="diagnosis-sweep-") as scratch:
        for number in parts or rubric.parts:
            part = rubric.parts[number]
            for mutant in mutants.catalogue(part):
                if wanted is not None and mutant.name not in wanted:
                    continue
                folder = implementations.reference_with(
                    Path(scratch) / part.stem / mutant.name, part, mutant.source
                )
                yield Found(mutant, diagnose_folder(folder, part, isolate))
