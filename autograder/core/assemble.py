"""The module under test: a part's module, assembled with the earlier parts it builds on.

Multi-head attention (part 3) calls part 2's attention. Which part 2 does it get? One rule,
decided by :func:`plan` and followed by every route (pytest, ``score``, the notebooks and
the isolated grader):

- where the reference is available (the instructor's repository, the grader), the earlier
  parts are the reference's, so each part is graded on its own and one mistake does not
  cost points twice;
- where it is not (the student bundle, a student running a notebook), they are the
  student's own, and the score table says which failures may come from them.

An implementation is ``solutions``, ``assignments`` or a folder of module files
(``qkv.py``, ...); missing modules come from ``assignments/`` (the stubs), so a
submission of only some parts still imports.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from autograder.core.paths import ASSIGNMENTS, ROOT, SOLUTIONS
from autograder.core.rubric import Part, Rubric
from autograder.core.shortcuts import Shortcut, find_shortcuts

BUILTIN = ("solutions", "assignments")
YOURS = "yours"
REFERENCE = "reference"


class ImplementationError(Exception):
    """A part's module cannot be used: missing, does not import, or uses a forbidden shortcut."""


@dataclass
class Implementation:
    """One implementation of the course's modules: folders searched in order."""

    label: str
    search_path: list[Path]
    package: str = ""

    def path_of(self, name: str) -> Path | None:
        """The file that provides module ``name`` (the first on the search path)."""
        for directory in self.search_path:
            candidate = directory / f"{name}.py"
            if candidate.is_file():
                return candidate
        return None

    @property
    def is_reference(self) -> bool:
        return self.search_path[:1] == [SOLUTIONS]

    def shortcuts(self, part: Part) -> list[Shortcut]:
        """The forbidden shortcuts the part's module uses (empty when it has none)."""
        path = self.path_of(part.module)
        if path is None or not part.forbidden:
            return []
        return find_shortcuts(path.read_text(encoding="utf-8"), part.forbidden)


def load_implementation(where: str | Path) -> Implementation:
    """``"solutions"``, ``"assignments"`` or the path of a folder of module files."""
    if str(where) in BUILTIN:
        return Implementation(str(where), [ROOT / str(where)])
    folder = Path(where).resolve()
    if not folder.is_dir():
        raise ImplementationError(
            f"--impl {where}: no such folder; give 'solutions', 'assignments' or the folder "
            "that holds your module files (make test IMPL=path/to/folder)"
        )
    return Implementation(str(where), [folder, ASSIGNMENTS])


def reference_available() -> bool:
    """Whether the reference implementation is here (not in the student bundle)."""
    return SOLUTIONS.is_dir()


def plan(
    builds_on: Iterable[str], implementation_is_reference: bool, reference: bool
) -> dict[str, str]:
    """Whose module each earlier part is: :data:`YOURS` or :data:`REFERENCE`.

    The one rule every route follows (pytest, ``score``, the notebooks, the grader).

    Args:
        builds_on: the earlier parts' modules the part under test imports (its ``depends``).
        implementation_is_reference: the implementation under test is the reference itself.
        reference: whether the reference is available to stand in for earlier parts.
    """
    whose = REFERENCE if reference or implementation_is_reference else YOURS
    return {name: whose for name in builds_on}


@dataclass
class Assembled:
    """The module under test and, for each earlier part it builds on, whose it is."""

    part: Part
    module: ModuleType | Any
    earlier: dict[str, str] = field(default_factory=dict)

    def yours(self) -> list[str]:
        """The earlier parts' modules that are the student's own."""
        return [name for name, whose in self.earlier.items() if whose == YOURS]


_assembled: dict[tuple[str, ...], Assembled] = {}


def _package(implementation: Implementation, part: Part, earlier: dict[str, str]) -> str:
    """A fresh package over ``implementation`` whose reference earlier parts are in place."""
    key = "\0".join([*map(str, implementation.search_path), part.module, *sorted(earlier)])
    name = f"course_impl_{hashlib.sha1(key.encode()).hexdigest()[:12]}"
    if name not in sys.modules:
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(p) for p in implementation.search_path]
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        for module, whose in earlier.items():
            if whose == REFERENCE:
                reference = importlib.import_module(f"solutions.{module}")
                sys.modules[f"{name}.{module}"] = reference
                setattr(package, module, reference)
    return name


def assemble(
    part: Part,
    implementation: Implementation,
    reference: bool | None = None,
) -> Assembled:
    """Import ``part``'s module of ``implementation`` with its earlier parts, in this process.

    Args:
        part: the part under test.
        implementation: where its module (and, when they are the student's, the earlier
            parts' modules) come from.
        reference: whether the reference stands in for the earlier parts (by default, where
            it is available).

    Raises:
        ImplementationError: the module is missing, does not import, or uses a shortcut the
            part forbids (every check of the part then scores 0, with this message).
    """
    used = implementation.shortcuts(part)
    if used:
        listed = "; ".join(str(s) for s in used)
        raise ImplementationError(
            f"part {part.number} ({part.module}.py) uses a shortcut the part forbids - "
            f"{listed}. Write it yourself: every check of this part scores 0 until then."
        )
    if implementation.path_of(part.module) is None:
        raise ImplementationError(f"{implementation.label} has no {part.module}.py")
    reference = reference_available() if reference is None else reference
    earlier = plan(part.depends, implementation.is_reference, reference)
    key = (*map(str, implementation.search_path), part.module, str(sorted(earlier.items())))
    if key in _assembled:
        return _assembled[key]
    if implementation.is_reference:
        package = "solutions"
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
    else:
        package = _package(implementation, part, earlier)
    try:
        module = importlib.import_module(f"{package}.{part.module}")
    except Exception as error:
        raise ImplementationError(
            f"{part.module}.py does not import: {type(error).__name__}: {error}"
        ) from error
    _assembled[key] = Assembled(part, module, earlier)
    return _assembled[key]


def unfinished(implementation: Implementation, module: str) -> bool:
    """Whether ``module`` of ``implementation`` still holds a stub's ``NotImplementedError``."""
    path = implementation.path_of(module)
    if path is None:
        return True
    return "is not implemented yet" in path.read_text(encoding="utf-8", errors="replace")


def earlier_note(part: Part, rubric: Rubric, yours: list[str], trouble: dict[str, str]) -> str:
    """What the score table says when a part built on the student's earlier parts fails.

    Args:
        part: the part whose checks failed.
        rubric: the course rubric (for the earlier parts' numbers).
        yours: the earlier parts' modules that were the student's own.
        trouble: module -> why it may be at fault ("fails 3 of its checks").
    """
    suspects = [name for name in yours if name in trouble]
    if not suspects:
        return ""
    named = "; ".join(
        f"your {name}.py (part {rubric.part_of_module(name).number}), which {trouble[name]}"
        for name in suspects
    )
    return (
        f"part {part.number} builds on {named}; some of its failures may come from there. "
        f"The grader grades part {part.number} with the reference "
        f"{', '.join(f'{n}.py' for n in suspects)}, so its graded score can be higher."
    )
