"""The rubric: every part and every graded check, read from ``rubric.toml``.

pytest's score table, the notebooks' point values, nbgrader's gradebook and the grader's
results all come from here, so a student's local score equals the graded score.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from autograder.core.paths import RUBRIC

RUBRIC_PATH = RUBRIC
VISIBILITIES = ("visible", "hidden")


@dataclass(frozen=True)
class Part:
    """One part of the course: a module the student completes."""

    number: int
    module: str
    title: str
    depends: tuple[str, ...] = ()
    """The earlier parts' modules this part's module imports (read off its imports)."""
    forbidden: tuple[str, ...] = ()
    data: tuple[str, ...] = ()
    """Folders of data the part's given code reads (released beside its notebook)."""

    @property
    def marker(self) -> str:
        """The pytest marker that selects this part's checks."""
        return f"part{self.number}"

    @property
    def stem(self) -> str:
        """``part2_qkv``: the name of the part's check, hidden-check and mistake modules."""
        return f"part{self.number}_{self.module}"

    def check_module(self, hidden: bool = False) -> str:
        """The module of the part's visible (or hidden) checks: ``tests.checks.part2_qkv``."""
        return f"tests.{'hidden' if hidden else 'checks'}.{self.stem}"

    def check_file(self, hidden: bool = False, root: Path | None = None) -> Path:
        """The file of :meth:`check_module` under ``root`` (the repository by default)."""
        folder = "hidden" if hidden else "checks"
        return (root or RUBRIC_PATH.parent) / "tests" / folder / f"{self.stem}.py"

    @property
    def mistakes_module(self) -> str:
        """The module of the part's mistakes and correct variants: ``tests.mistakes.part2_qkv``."""
        return f"tests.mistakes.{self.stem}"


@dataclass(frozen=True)
class Check:
    """One graded check: a test function ``test_<id>`` in the part's check module."""

    id: str
    part: int
    points: float
    visibility: str
    description: str
    bonus: bool = False

    @property
    def hidden(self) -> bool:
        return self.visibility == "hidden"


@dataclass(frozen=True)
class Rubric:
    parts: dict[int, Part]
    checks: dict[str, Check]

    def checks_of(self, part: int, include_hidden: bool = True) -> list[Check]:
        """The part's checks in rubric order."""
        return [
            c for c in self.checks.values() if c.part == part and (include_hidden or not c.hidden)
        ]

    def part_of_module(self, module: str) -> Part:
        for part in self.parts.values():
            if part.module == module:
                return part
        raise KeyError(f"no part has module {module!r}")

    def points(self, part: int, include_hidden: bool = True) -> float:
        """Points available in a part, bonus checks not counted."""
        return sum(c.points for c in self.checks_of(part, include_hidden) if not c.bonus)


def relative_imports_of(source: str) -> tuple[str, ...]:
    """Every module ``source`` imports relatively (``from .qkv import x``, ``from . import
    recipes``), in order; nothing for a module that does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [alias.name for alias in node.names]
            found += [n for n in names if n not in found]
    return tuple(found)


def earlier_parts(source: str, modules: Iterable[str]) -> tuple[str, ...]:
    """The course modules ``source`` imports relatively (``from .qkv import ...``), in order.

    ``modules`` are the part modules of the course; ``_validate`` and other given helpers
    are not parts. A module that does not parse imports nothing here (its own error is
    reported where it is loaded).
    """
    known = set(modules)
    return tuple(n for n in relative_imports_of(source) if n in known)


def parse_rubric(text: str, source: str = "rubric.toml", modules_dir: Path | None = None) -> Rubric:
    """Build a :class:`Rubric` from TOML text, rejecting anything inconsistent.

    Each part's ``depends`` is read off the imports of ``modules_dir/<module>.py`` (the
    reference, or the stubs in the student bundle), never written by hand.
    """
    data = tomllib.loads(text)
    parts: dict[int, Part] = {}
    for entry in data.get("parts", []):
        if "depends" in entry:
            raise ValueError(
                f"{source}: part {entry.get('number')} lists depends; remove it: the earlier "
                "parts a part builds on are read off its module's imports"
            )
        part = Part(
            number=int(entry["number"]),
            module=str(entry["module"]),
            title=str(entry["title"]),
            forbidden=tuple(entry.get("forbidden", ())),
            data=tuple(entry.get("data", ())),
        )
        if part.number in parts:
            raise ValueError(f"{source}: part {part.number} is defined twice")
        parts[part.number] = part
    if modules_dir is not None:
        modules = [p.module for p in parts.values()]
        for number, part in parts.items():
            path = modules_dir / f"{part.module}.py"
            if path.is_file():
                found = earlier_parts(path.read_text(encoding="utf-8"), modules)
                parts[number] = replace(part, depends=tuple(m for m in found if m != part.module))
    checks: dict[str, Check] = {}
    for entry in data.get("checks", []):
        check = Check(
            id=str(entry["id"]),
            part=int(entry["part"]),
            points=float(entry["points"]),
            visibility=str(entry.get("visibility", "visible")),
            description=str(entry["description"]),
            bonus=bool(entry.get("bonus", False)),
        )
        if check.id in checks:
            raise ValueError(f"{source}: check {check.id!r} is listed twice")
        if check.part not in parts:
            raise ValueError(f"{source}: check {check.id!r} names unknown part {check.part}")
        if check.visibility not in VISIBILITIES:
            raise ValueError(
                f"{source}: check {check.id!r} has visibility {check.visibility!r}, "
                f"expected one of {VISIBILITIES}"
            )
        if check.points <= 0:
            raise ValueError(f"{source}: check {check.id!r} must be worth more than 0 points")
        checks[check.id] = check
    return Rubric(parts=dict(sorted(parts.items())), checks=checks)


@cache
def load_rubric(path: Path = RUBRIC_PATH) -> Rubric:
    """The course rubric (cached: it is read by every check run).

    The parts' ``depends`` come from the reference modules beside it, or from the stubs
    where there is no reference (the student bundle).
    """
    folder = path.parent / "solutions"
    if not folder.is_dir():
        folder = path.parent / "assignments"
    return parse_rubric(
        path.read_text(encoding="utf-8"),
        source=str(path),
        modules_dir=folder if folder.is_dir() else None,
    )
