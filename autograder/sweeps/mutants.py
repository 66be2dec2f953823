"""The mutation sweep: which checks each realistic mistake fails, and which checks catch none.

The mistakes and the correct variants live in ``tests/mistakes/partN_<module>.py``
(:mod:`tests.mistakes`). For each, the reference is copied with the edit applied and every
graded check of the part is run on it in this process.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder.core.rubric import Part, Rubric, load_rubric
from autograder.core.runner import Verdict

from . import implementations


@dataclass(frozen=True)
class Mutant:
    """One edit of one part's reference: a mistake, or a correct variant."""

    part: Part
    name: str
    says: str
    correct: bool
    source: str

    @property
    def label(self) -> str:
        kind = "variant" if self.correct else "mistake"
        return f"part {self.part.number} {kind} {self.name} ({self.says})"


def catalogue(part: Part) -> list[Mutant]:
    """The part's mistakes, then its variants (none when the part has no catalogue)."""
    try:
        module = importlib.import_module(part.mistakes_module)
    except ModuleNotFoundError:
        return []
    reference = implementations.solution_source(part)
    found = []
    for correct, edits in ((False, module.MISTAKES), (True, module.VARIANTS)):
        for edit in edits:
            source = edit.apply(reference, f"solutions/{part.module}.py")
            found.append(Mutant(part, edit.name, edit.says, correct, source))
    names = [m.name for m in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{part.mistakes_module}: names used twice: {', '.join(duplicates)}")
    return found


@dataclass(frozen=True)
class Outcome:
    """The verdicts of every graded check of the mutant's part."""

    mutant: Mutant
    verdicts: dict[str, Verdict]

    @property
    def failed(self) -> list[str]:
        return implementations.failed(self.verdicts)


def run(mutant: Mutant, workdir: Path, rubric: Rubric) -> Outcome:
    """Grade ``mutant`` in this process (grading settings)."""
    folder = implementations.reference_with(workdir / mutant.name, mutant.part, mutant.source)
    checks = rubric.checks_of(mutant.part.number)
    return Outcome(mutant, implementations.verdicts(folder, mutant.part, checks, rubric))


def sweep(parts: Iterable[int] | None = None, rubric: Rubric | None = None) -> Iterator[Outcome]:
    """Every mutant of ``parts`` (all parts when None), graded."""
    rubric = rubric or load_rubric()
    with tempfile.TemporaryDirectory(prefix="mutants-") as scratch:
        for number in parts or rubric.parts:
            part = rubric.parts[number]
            workdir = Path(scratch) / part.stem
            workdir.mkdir()
            for mutant in catalogue(part):
                yield run(mutant, workdir, rubric)


def problems(outcomes: list[Outcome], part: Part, rubric: Rubric) -> list[str]:
    """What the outcomes of one part break: uncaught mistakes, failing variants, idle checks."""
    found = []
    killed: set[str] = set()
    for outcome in outcomes:
        if outcome.mutant.correct:
            found += [
                f"{outcome.mutant.label} is correct but fails {check}: "
                f"{outcome.verdicts[check].message.splitlines()[0]}"
                for check in outcome.failed
            ]
        elif not outcome.failed:
            found.append(f"{outcome.mutant.label} passes every check of its part")
        else:
            killed.update(outcome.failed)
    for check in rubric.checks_of(part.number):
        if check.id not in killed:
            found.append(f"part {part.number} check {check.id} fails on no mistake")
    variants = sum(o.mutant.correct for o in outcomes)
    if variants < 3:
        found.append(f"part {part.number} has {variants} correct variants, fewer than 3")
    return found


def matrix_lines(outcomes: list[Outcome], part: Part, rubric: Rubric) -> list[str]:
    """For each check of ``part``, the mistakes that fail it."""
    lines = []
    for check in rubric.checks_of(part.number):
        killers = [o.mutant.name for o in outcomes if not o.mutant.correct and check.id in o.failed]
        lines.append(f"  {check.id}: {', '.join(killers) if killers else 'NO MISTAKE FAILS IT'}")
    return lines
