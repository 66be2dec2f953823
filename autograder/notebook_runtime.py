"""What the course notebooks import: the part's setup, saving the student's module, the checks.

A notebook starts with ``course = notebook_runtime.start(part)``. From then on:

- the earlier parts the part builds on (``depends`` in the rubric) are importable by their
  plain names (``from qkv import scaled_dot_product_attention``). When nbgrader grades the
  notebook they are the course's reference modules, so a mistake in part 2 does not cost
  points again in part 3; when the student runs the notebook they are the student's own
  ``qkv.py``, which the part 2 notebook wrote next to itself when its checks ran;
- ``course.save()`` writes the student's code cells (those headed ``# <module>.py [i/n]``)
  to ``<module>.py`` beside the notebook, for the later parts;
- ``course.check(id)`` runs one graded check of the rubric on the notebook's code, through
  the same function pytest runs, and fails with a short message in the student's terms;
- ``course.hidden_check(id)`` runs a hidden check. Hidden checks exist only where the
  instructor grades; their failure shows the message and nothing of the check's code.

"Grading" means nbgrader executes the notebook (``NBGRADER_EXECUTION`` is ``autograde`` or
``validate``) and the course repository is found: ``COURSE_ROOT`` or a parent folder of the
notebook holding ``rubric.toml``, ``solutions/`` and ``tests/hidden/``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

CELL_HEADER = re.compile(r"^# (?P<module>\w+)\.py \[(?P<index>\d+)/(?P<count>\d+)\]")
"""First line of every cell that belongs to the part's module: ``# qkv.py [2/5]``."""

GRADING_MODES = ("autograde", "validate")


class CheckFailed(Exception):
    """A visible check failed. IPython shows the message only: the check's code is not news."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class HiddenCheckFailed(CheckFailed):
    """A hidden check failed: only this message reaches the notebook and the feedback."""


class NotebookSetupError(Exception):
    """The notebook cannot run its checks yet; the message says what to do."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def course_root(start: Path | None = None) -> Path | None:
    """The instructor's course repository, or None where it is not available (a student)."""
    named = os.environ.get("COURSE_ROOT")
    if named:
        return Path(named).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (
            (folder / "rubric.toml").is_file()
            and (folder / "solutions").is_dir()
            and (folder / "tests" / "hidden").is_dir()
        ):
            return folder
    return None


COURSE_PACKAGES = ("solutions", "tests", "autograder")
"""Packages of the course that a student's module has no business importing."""


def course_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import of the course's packages in ``source``.

    When the notebook is graded, the course's reference code is importable in the same
    kernel: importing it is copying the answer.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [(node.lineno, n) for n in names if n.split(".")[0] in COURSE_PACKAGES]
    return found


def _load_file(name: str, path: Path) -> types.ModuleType:
    """Import ``path`` as the top-level module ``name`` (replacing any earlier one)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise NotebookSetupError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise NotebookSetupError(
            f"{path} does not import ({type(error).__name__}: {error}). Fix that notebook, run "
            f"it to its checks again, then rerun this notebook from the top."
        ) from None
    return module


@dataclass
class Course:
    """The state of one running notebook: its part, where it runs, how it is graded."""

    part: int
    module: str
    depends: tuple[str, ...]
    forbidden: tuple[str, ...]
    folder: Path
    root: Path | None
    grading: bool
    _namespace: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- the module the student writes -------------------------------------------------

    def _history(self) -> list[str]:
        """Every cell executed so far in this kernel, oldest first."""
        history = self._namespace.get("In")
        return list(history) if isinstance(history, list) else []

    def source(self) -> str:
        """The student's module: the latest run of each of its cells, in cell order."""
        latest: dict[int, str] = {}
        for cell in self._history():
            match = CELL_HEADER.match(cell)
            if match and match.group("module") == self.module:
                latest[int(match.group("index"))] = cell
        return "\n\n".join(latest[i].rstrip() for i in sorted(latest)) + "\n"

    def save(self) -> Path:
        """Write the student's module beside the notebook, for the parts that build on it."""
        target = self.folder / f"{self.module}.py"
        target.write_text(self.source(), encoding="utf-8")
        return target

    def module_object(self) -> types.ModuleType:
        """A module holding every public name the notebook defined (what the checks call)."""
        module = types.ModuleType(self.module, f"part {self.part}, from the notebook")
        for name, value in self._namespace.items():
            if not name.startswith("_") and name not in ("In", "Out", "exit", "quit"):
                setattr(module, name, value)
        return module

    # -- the checks ----------------------------------------------------------------------

    def _shortcut_message(self) -> str | None:
        from autograder.shortcuts import find_shortcuts

        source = self.source()
        used = [str(s) for s in find_shortcuts(source, self.forbidden)]
        used += [
            f"line {line}: imports {name}, the course's own code"
            for line, name in course_imports(source)
        ]
        if not used:
            return None
        listed = "; ".join(used)
        return (
            f"part {self.part} uses a shortcut the part forbids - {listed} (lines of "
            f"{self.module}.py as saved by this notebook). Write it yourself: every check of "
            f"this part scores 0 until then."
        )

    def _run(self, check_id: str, hidden: bool) -> None:
        from autograder.rubric import load_rubric
        from autograder.runner import check_function, run_check

        failure = HiddenCheckFailed if hidden else CheckFailed
        rubric = load_rubric(self.root / "rubric.toml") if self.root else load_rubric()
        check = rubric.checks.get(check_id)
        if check is None:
            raise failure(f"{check_id} is not a check of this course's rubric")
        shortcut = self._shortcut_message()
        if shortcut:
            raise failure(shortcut)
        modules: dict[str, Any] = {dep: sys.modules[dep] for dep in self.depends}
        modules[self.module] = self.module_object()
        # Module initialisation inside a check is the same in every run, as under pytest.
        torch.manual_seed(0)
        try:
            function = check_function(check, rubric)
        except (ImportError, LookupError) as error:
            raise failure(f"this check cannot run here ({error}); tell your instructor") from None
        verdict = run_check(function, modules)
        if not verdict.passed:
            raise failure(f"{check.description}: {verdict.message}")
        print(f"passed: {check.description} ({check.points:g} point(s))")

    def check(self, check_id: str) -> None:
        """Run the visible check ``check_id`` on the notebook's code; raise when it fails."""
        self._run(check_id, hidden=False)

    def hidden_check(self, check_id: str) -> None:
        """Run a hidden check; it is only available where the instructor grades."""
        if not self.grading:
            raise HiddenCheckFailed(
                "hidden checks run only when the instructor grades the notebook "
                "(set COURSE_ROOT to the course repository to run them yourself)"
            )
        self._run(check_id, hidden=True)


def _install_dependencies(course: Course) -> None:
    """Make ``_validate`` and the earlier parts importable by their plain names."""
    for name in ("_validate", *course.depends):
        sys.modules.pop(name, None)
    if course.grading:
        assert course.root is not None
        for name in ("_validate", *course.depends):
            sys.modules[name] = importlib.import_module(f"solutions.{name}")
        return
    _load_file("_validate", course.folder / "_validate.py")
    for name in course.depends:
        siblings = sorted(course.folder.parent.glob(f"*/{name}.py"))
        candidates = [course.folder / f"{name}.py", *siblings]
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            raise NotebookSetupError(
                f"part {course.part} builds on your {name}.py, which the notebook of that part "
                f"writes next to itself when you run its checks. Run that notebook first (it "
                f"should sit in a folder beside this one), then rerun this cell."
            )
        _load_file(name, found)


def start(part: int, namespace: dict[str, Any] | None = None) -> Course:
    """Set the notebook up for ``part``: hypothesis profile, paths, earlier parts.

    Args:
        part: the part number in ``rubric.toml``.
        namespace: the notebook's global names (IPython's ``user_ns`` when left out).
    """
    if namespace is None:
        from IPython import get_ipython

        shell = get_ipython()
        namespace = shell.user_ns if shell is not None else {}
    folder = Path.cwd().resolve()
    root = course_root(folder)
    grading = os.environ.get("NBGRADER_EXECUTION") in GRADING_MODES and root is not None
    if grading:
        assert root is not None
        # The course's own checks, hidden ones included, and its reference modules.
        sys.path.insert(0, str(root))
        for name in [n for n in sys.modules if n == "tests" or n.startswith("tests.")]:
            del sys.modules[name]
    elif str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

    from autograder import profiles
    from autograder.rubric import load_rubric

    profiles.use("grading")
    rubric = load_rubric(root / "rubric.toml") if grading and root else load_rubric()
    info = rubric.parts[part]
    course = Course(
        part=part,
        module=info.module,
        depends=info.depends,
        forbidden=info.forbidden,
        folder=folder,
        root=root if grading else None,
        grading=grading,
        _namespace=namespace,
    )
    # Module-level code that locates its own file finds where save() writes the module.
    namespace.setdefault("__file__", str(folder / f"{info.module}.py"))
    _install_dependencies(course)
    return course
