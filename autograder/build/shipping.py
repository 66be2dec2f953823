"""What a student's copy of the course holds, read off the repository's layout.

The rule, not a list: the ``autograder/core`` package (and the package's ``__init__``), the
support modules of ``tests/`` (every ``tests/*.py`` that is not a test of the tooling,
``test_*.py``), the diagnosis probes of ``tests/probes/`` with their ``expected.json``, and
the visible checks of ``tests/checks/``. Nothing under
``tests/hidden``, ``tests/mistakes`` or ``solutions/`` ever ships.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from autograder.core.paths import ROOT
from autograder.core.rubric import Part


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def runtime_files(root: Path = ROOT) -> list[Path]:
    """The tooling the visible checks need: ``autograder/core`` and the check support."""
    files = [root / "autograder" / "__init__.py", *_python_files(root / "autograder" / "core")]
    tests = root / "tests"
    files += sorted(p for p in tests.glob("*.py") if not p.name.startswith("test_"))
    files.append(tests / "checks" / "__init__.py")
    probes = tests / "probes"
    files += [*_python_files(probes), *sorted(probes.glob("*.json"))]
    return files


def check_files(parts: Iterable[Part], root: Path = ROOT) -> list[Path]:
    """The visible check modules of ``parts`` (those that exist)."""
    return [p.check_file(root=root) for p in parts if p.check_file(root=root).is_file()]


def copy_files(files: Iterable[Path], destination: Path, root: Path = ROOT) -> list[Path]:
    """Copy ``files`` (paths under ``root``) to the same relative paths under ``destination``."""
    written = []
    for path in files:
        target = destination / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        written.append(target)
    return written
