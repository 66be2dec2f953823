"""The vacuity sweep: implementations that do nothing useful must score 0 on every part.

A trivial implementation of a part is generated from the reference: every function or
method that holds student code (a ``### BEGIN SOLUTION`` region) is replaced, all at once,
by one of the :data:`FAMILIES`. The result keeps the API (names, signatures, classes,
parameters) and the given code, so a check that passes on it rewards something other than
the student's work.
"""

from __future__ import annotations

import ast
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder.build.stubs import find_regions
from autograder.core.rubric import Part, Rubric, load_rubric
from autograder.core.runner import Verdict

from . import implementations

FAMILIES = {
    "zeros": "every result (tensors, arrays, numbers, strings) filled with zeros",
    "ones": "every result filled with ones (True for masks)",
    "identity": "the first argument returned unchanged",
    "random": "random values of the right shape and dtype",
    "raises": "a ValueError naming every argument, whatever the arguments",
    "none": "None",
}
"""Family name -> what each student function does in it."""

RUNTIME = Path(__file__).with_name("trivial_runtime.py")


def student_functions(source: str) -> list[tuple[str | None, str]]:
    """``(class or None, function)`` of every top-level function or method holding a region.

    A region inside a nested function counts for the function around it.
    """
    regions = find_regions(source)
    found: list[tuple[str | None, str]] = []

    def holds_region(node: ast.AST) -> bool:
        end = node.end_lineno or node.lineno
        return any(node.lineno <= r.begin <= end for r in regions)

    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and holds_region(node):
            found.append((None, node.name))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and holds_region(item):
                    found.append((node.name, item.name))
    return found


def make_trivial(source: str, family: str) -> str:
    """The reference ``source`` with every student function replaced by ``family``."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    runtime = RUNTIME.read_text(encoding="utf-8")
    runtime = runtime[runtime.index('"""', 3) + 3 :]
    lines = [source.rstrip(), "", f"# ---- trivial implementation: {FAMILIES[family]}", runtime]
    for owner, name in student_functions(source):
        label = f"{owner}.{name}" if owner else name
        target = owner or "globals()"
        lines.append(f"_trivial_patch({target}, {name!r}, {family!r}, {label!r})")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Outcome:
    """The verdicts of one part's checks on one trivial family."""

    part: Part
    family: str
    verdicts: dict[str, Verdict]

    @property
    def passed(self) -> list[str]:
        return [check for check, verdict in self.verdicts.items() if verdict.passed]


def sweep(
    parts: Iterable[int] | None = None,
    families: Iterable[str] = tuple(FAMILIES),
    rubric: Rubric | None = None,
) -> Iterator[Outcome]:
    """Every family of every part in ``parts`` (all when None), graded in this process."""
    rubric = rubric or load_rubric()
    with tempfile.TemporaryDirectory(prefix="trivial-") as scratch:
        for number in parts or rubric.parts:
            part = rubric.parts[number]
            reference = implementations.solution_source(part)
            for family in families:
                folder = implementations.reference_with(
                    Path(scratch) / f"{part.stem}-{family}", part, make_trivial(reference, family)
                )
                checks = rubric.checks_of(part.number)
                yield Outcome(part, family, implementations.verdicts(folder, part, checks, rubric))
