"""Load an implementation of the course: ``solutions``, ``assignments`` or a student's folder.

A student's folder holds module files with the part names (``qkv.py``, ...). It is loaded
as a package whose search path is the folder first and ``assignments/`` second, so a
submission of only some parts still imports (the missing modules are the stubs), and the
modules' relative imports (``from .qkv import ...``) work as they do in ``solutions/``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from .rubric import Part
from .shortcuts import Shortcut, find_shortcuts

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ("solutions", "assignments")


class ImplementationError(Exception):
    """A part's module cannot be used: missing, does not import, or uses a forbidden shortcut."""


@dataclass
class Implementation:
    """One implementation of the course's modules, importable as a package."""

    label: str
    package: str
    search_path: list[Path]
    _modules: dict[str, ModuleType] = field(default_factory=dict)

    def path_of(self, name: str) -> Path | None:
        """The file that provides module ``name`` (the first on the search path)."""
        for directory in self.search_path:
            candidate = directory / f"{name}.py"
            if candidate.is_file():
                return candidate
        return None

    def module(self, name: str) -> ModuleType:
        """Import module ``name`` of this implementation; errors say what to fix."""
        if name in self._modules:
            return self._modules[name]
        if self.path_of(name) is None:
            raise ImplementationError(f"{self.label} has no {name}.py")
        try:
            module = importlib.import_module(f"{self.package}.{name}")
        except Exception as error:
            raise ImplementationError(
                f"{name}.py does not import: {type(error).__name__}: {error}"
            ) from error
        self._modules[name] = module
        return module

    def shortcuts(self, part: Part) -> list[Shortcut]:
        """The forbidden shortcuts the part's module uses (empty when it has none)."""
        path = self.path_of(part.module)
        if path is None or not part.forbidden:
            return []
        return find_shortcuts(path.read_text(encoding="utf-8"), part.forbidden)

    def graded_module(self, part: Part) -> ModuleType:
        """The part's module, refused with a clear message when it uses a forbidden shortcut."""
        used = self.shortcuts(part)
        if used:
            listed = "; ".join(str(s) for s in used)
            raise ImplementationError(
                f"part {part.number} ({part.module}.py) uses a shortcut the part forbids - "
                f"{listed}. Write it yourself: every check of this part scores 0 until then."
            )
        return self.module(part.module)


def _package_for_folder(folder: Path) -> str:
    """Register ``folder`` (over ``assignments/``) as a package and return its name."""
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:12]
    name = f"submission_{digest}"
    if name not in sys.modules:
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder), str(ROOT / "assignments")]
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
    return name


def load_implementation(where: str | Path) -> Implementation:
    """``"solutions"``, ``"assignments"`` or the path of a folder of module files."""
    if str(where) in BUILTIN:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        return Implementation(str(where), str(where), [ROOT / str(where)])
    folder = Path(where).resolve()
    if not folder.is_dir():
        raise ImplementationError(
            f"--impl {where}: no such folder; give 'solutions', 'assignments' or the folder "
            "that holds your module files (make test IMPL=path/to/folder)"
        )
    return Implementation(str(where), _package_for_folder(folder), [folder, ROOT / "assignments"])
