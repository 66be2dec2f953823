"""What a course notebook imports: the part's setup, saving the student's module, the checks.

A notebook starts with ``notebook = start(3, builds_on=("qkv",))``. From then on:

- the earlier parts it builds on are importable by their plain names (``from qkv import
  scaled_dot_product_attention``), chosen by :func:`autograder.core.assemble.plan`: when
  nbgrader grades the notebook they are the course's reference modules, so a mistake in
  part 2 does not cost points again in part 3; when the student runs the notebook they are
  the student's own ``qkv.py``, which the part 2 notebook saved;
- ``notebook.save()`` writes the student's code cells (those headed ``# <module>.py [i/n]``)
  to ``.modules/<module>.py`` beside the parts' folders, for the later parts;
- ``notebook.check(id)`` runs one graded check of the rubric on the notebook's code, through
  the same function pytest runs, and says in the student's terms what failed (under
  nbgrader the cell then raises; for the student, Run All goes on);
- ``notebook.summary()`` prints the points of the checks that ran, as the grader counts them;
- ``notebook.hidden_check(id)`` runs a hidden check. Hidden checks exist only where the
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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

CELL_HEADER = re.compile(r"^# (?P<module>\w+)\.py \[(?P<index>\d+)/(?P<count>\d+)\]")
"""First line of every cell that belongs to the part's module: ``# qkv.py [2/5]``."""

GRADING_MODES = ("autograde", "validate")
MODULES_FOLDER = ".modules"
"""Beside the parts' folders: where each notebook saves the student's module."""
RELATIVE_IMPORT = re.compile(r"^(?P<indent>[ \t]*)from \.(?P<name>\w+) import ", re.MULTILINE)
PACKAGE_IMPORT = re.compile(r"^(?P<indent>[ \t]*)from \. import ", re.MULTILINE)
COURSE_PACKAGES = ("solutions", "tests", "autograder")
"""Packages of the course that a student's module has no business importing."""


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


# -- a module in notebook form -------------------------------------------------------------


def plain_imports(source: str) -> str:
    """``from .qkv import x`` -> ``from qkv import x`` and ``from . import recipes`` ->
    ``import recipes``: a notebook is not inside a package."""
    source = RELATIVE_IMPORT.sub(r"\g<indent>from \g<name> import ", source)
    return PACKAGE_IMPORT.sub(r"\g<indent>import ", source)


def relative_imports(source: str, names: Iterable[str]) -> str:
    """Undo :func:`plain_imports` for the course's modules ``names`` (and ``_validate``)."""
    wanted = "|".join(re.escape(n) for n in sorted({*names, "_validate"}))
    pattern = re.compile(rf"^(?P<indent>[ \t]*)from (?P<name>{wanted}) import ", re.MULTILINE)
    source = pattern.sub(r"\g<indent>from .\g<name> import ", source)
    alone = re.compile(rf"^(?P<indent>[ \t]*)import (?P<name>{wanted})$", re.MULTILINE)
    return alone.sub(r"\g<indent>from . import \g<name>", source)


def module_cells(cells: Iterable[str]) -> dict[str, dict[int, str]]:
    """Module name -> {cell number: source} of the cells headed ``# <module>.py [i/n]``.

    A later cell with the same header replaces an earlier one (a cell run twice).
    """
    found: dict[str, dict[int, str]] = {}
    for source in cells:
        match = CELL_HEADER.match(source)
        if match:
            found.setdefault(match.group("module"), {})[int(match.group("index"))] = source
    return found


def joined(numbered: Mapping[int, str]) -> str:
    """The cells of one module, in the order of their numbers, as one source text."""
    return "\n\n".join(numbered[i].rstrip() for i in sorted(numbered)) + "\n"


def _cell_text(cell: Any) -> str | None:
    """A notebook code cell's source, or None for anything that is not a readable code cell."""
    if not isinstance(cell, dict) or cell.get("cell_type") != "code":
        return None
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else None


def module_in_notebook(
    notebook: Any, known: Iterable[str], given: Iterable[str] = ("_validate",)
) -> tuple[str, str] | None:
    """The part module a notebook's JSON holds: ``(module name, source)``, or None.

    Relative imports of the course's part modules ``known`` and given modules ``given`` are
    restored, so the module imports like ``solutions/``. ``ValueError`` names what is wrong
    with a notebook whose module cells name more than one module or one that is not a
    course module.
    """
    raw = notebook.get("cells", []) if isinstance(notebook, dict) else []
    texts = [t for t in map(_cell_text, raw if isinstance(raw, list) else []) if t is not None]
    cells = module_cells(texts)
    if not cells:
        return None
    if len(cells) > 1:
        raise ValueError(f"the notebook holds cells of several modules: {sorted(cells)}")
    module, numbered = next(iter(cells.items()))
    known = set(known)
    if module not in known:
        raise ValueError(f"the notebook's cells name {module}.py, which is not a course module")
    return module, relative_imports(joined(numbered), known | set(given))


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


# -- the running notebook --------------------------------------------------------------------


def grading_root(start: Path | None = None) -> Path | None:
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
class NotebookPart:
    """One running notebook: its part, where it runs, whose earlier parts it uses."""

    number: int
    module: str
    builds_on: tuple[str, ...]
    forbidden: tuple[str, ...]
    folder: Path
    root: Path | None
    grading: bool
    given: tuple[str, ...] = ("_validate",)
    """The course's given modules the part's module imports (argument checks, recipes)."""
    earlier: dict[str, str] = field(default_factory=dict)
    """Earlier part module -> ``yours`` or ``reference`` (:func:`assemble.plan`)."""
    raising: bool = False
    """nbgrader runs the notebook (validate or autograde): a failing check cell must raise.
    Otherwise it prints what failed and Run All goes on to the next check."""
    _namespace: dict[str, Any] = field(default_factory=dict, repr=False)
    _outcomes: dict[str, tuple[bool, str]] = field(default_factory=dict, repr=False)
    _diagnosed: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- the module the student writes -------------------------------------------------

    def _history(self) -> list[str]:
        """Every cell executed so far in this kernel, oldest first."""
        history = self._namespace.get("In")
        return list(history) if isinstance(history, list) else []

    def source(self) -> str:
        """The student's module: the latest run of each of its cells, in cell order."""
        return joined(module_cells(self._history()).get(self.module, {}))

    @property
    def modules_folder(self) -> Path:
        """Where the notebooks save the student's modules: ``.modules/`` beside the parts."""
        return self.folder.parent / MODULES_FOLDER

    def save(self) -> Path:
        """Save the student's module for the parts that build on it (not when graded).

        It goes to ``.modules/<module>.py`` beside the parts' folders, never into the
        notebook's own folder: nothing but the notebook is handed in, and the file is
        rewritten from the notebook's cells each time (edit the notebook, not the file).
        """
        target = self.modules_folder / f"{self.module}.py"
        if self.grading:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        header = (
            f"# Saved by the notebook of part {self.number} from its cells: edit the notebook,\n"
            "# not this file (the next run of the notebook's checks rewrites it).\n"
        )
        target.write_text(header + self.source(), encoding="utf-8")
        return target

    def module_object(self) -> types.ModuleType:
        """A module holding every public name the notebook defined (what the checks call)."""
        module = types.ModuleType(self.module, f"part {self.number}, from the notebook")
        for name, value in self._namespace.items():
            if not name.startswith("_") and name not in ("In", "Out", "exit", "quit"):
                setattr(module, name, value)
        return module

    # -- the earlier parts -------------------------------------------------------------------

    def install_earlier_parts(self) -> None:
        """Make ``_validate`` and the earlier parts importable by their plain names."""
        from autograder.core.assemble import REFERENCE
        from autograder.core.paths import ASSIGNMENTS

        for name in (*self.given, *self.builds_on):
            sys.modules.pop(name, None)
        for name in self.given:
            # Given code holds no solution: the reference's when graded, else the runtime's.
            if self.grading:
                sys.modules[name] = importlib.import_module(f"solutions.{name}")
            else:
                _load_file(name, ASSIGNMENTS / f"{name}.py")
        for name in self.builds_on:
            if self.earlier.get(name) == REFERENCE:
                sys.modules[name] = importlib.import_module(f"solutions.{name}")
                continue
            found = self.modules_folder / f"{name}.py"
            if not found.is_file():
                raise NotebookSetupError(
                    f"part {self.number} builds on your {name}.py, which the notebook of that "
                    f"part saves (in {found.parent}) when you run its checks. Run that notebook "
                    f"first (its folder should sit beside this one), then rerun this cell."
                )
            _load_file(name, found)

    # -- the checks ----------------------------------------------------------------------

    def _shortcut_message(self) -> str | None:
        from autograder.core.shortcuts import find_shortcuts

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
            f"part {self.number} uses a shortcut the part forbids - {listed} (lines of "
            f"{self.module}.py as saved by this notebook). Write it yourself: every check of "
            f"this part scores 0 until then."
        )

    def _run(self, check_id: str, hidden: bool) -> None:
        from autograder.core.rubric import load_rubric
        from autograder.core.runner import check_function, run_check

        failure = HiddenCheckFailed if hidden else CheckFailed
        rubric = load_rubric(self.root / "rubric.toml") if self.root else load_rubric()
        check = rubric.checks.get(check_id)
        if check is None:
            raise failure(f"{check_id} is not a check of this course's rubric")
        shortcut = self._shortcut_message()
        if shortcut:
            raise failure(shortcut)
        modules: dict[str, Any] = {name: sys.modules[name] for name in self.builds_on}
        modules[self.module] = self.module_object()
        # Module initialisation inside a check is the same in every run, as under pytest.
        torch.manual_seed(0)
        try:
            function = check_function(check, rubric)
        except (ImportError, LookupError) as error:
            raise failure(f"this check cannot run here ({error}); tell your instructor") from None
        verdict = run_check(function, modules)
        self._outcomes[check_id] = (verdict.passed, verdict.message)
        if not verdict.passed:
            diagnosis = self._diagnosis(modules[self.module])
            said = f"\n{diagnosis.message}" if diagnosis is not None else ""
            raise failure(f"{check.description}: {verdict.message}{said}")
        print(f"passed: {check.description} ({check.points:g} point(s))")

    def _diagnosis(self, module: Any) -> Any:
        """The known mistake the notebook's code makes, probed once per version of its code."""
        source = self.source()
        if source not in self._diagnosed:
            from tests.probes import diagnose

            self._diagnosed.clear()
            self._diagnosed[source] = diagnose(f"part{self.number}_{self.module}", module)
        return self._diagnosed[source]

    def check(self, check_id: str) -> None:
        """Run the visible check ``check_id`` on the notebook's code.

        When it fails: under nbgrader the cell raises (its points are lost); when the student
        runs the notebook it prints why, and Run All goes on to the next check.
        """
        try:
            self._run(check_id, hidden=False)
        except CheckFailed as failed:
            self._outcomes.setdefault(check_id, (False, str(failed)))
            if self.raising:
                raise
            print(f"FAILED: {failed}", file=sys.stderr)

    def hidden_check(self, check_id: str) -> None:
        """Run a hidden check; it is only available where the instructor grades."""
        if not self.grading:
            message = (
                "hidden checks run only when the instructor grades the notebook "
                "(set COURSE_ROOT to the course repository to run them yourself)"
            )
            if self.raising:
                raise HiddenCheckFailed(message)
            print(f"not run: {message}")
            return
        self._run(check_id, hidden=True)

    def summary(self) -> str:
        """The points of the visible checks that ran, per check and in total (printed too)."""
        from autograder.core.assemble import YOURS
        from autograder.core.rubric import load_rubric

        rubric = load_rubric(self.root / "rubric.toml") if self.root else load_rubric()
        lines = [f"Part {self.number}: your points, as the grader counts them"]
        earned = available = 0.0
        for check in rubric.checks_of(self.number, include_hidden=False):
            outcome = self._outcomes.get(check.id)
            mark = "not run" if outcome is None else "passed" if outcome[0] else "FAILED"
            got = check.points if outcome is not None and outcome[0] else 0.0
            bonus = " (bonus)" if check.bonus else ""
            lines.append(f"  {mark:<8} {got:g} / {check.points:g}  {check.description}{bonus}")
            if not check.bonus:
                earned += got
                available += check.points
        lines.append(f"Total: {earned:g} / {available:g} points in the visible checks.")
        hidden = rubric.points(self.number) - rubric.points(self.number, include_hidden=False)
        if hidden:
            lines.append(f"Hidden checks worth {hidden:g} more points run when it is graded.")
        failed = any(not passed for passed, _ in self._outcomes.values())
        yours = [name for name, whose in self.earlier.items() if whose == YOURS]
        if failed and yours:
            lines.append(
                f"Part {self.number} builds on your {', '.join(f'{n}.py' for n in yours)}: a "
                "failure may come from there. When graded, this part uses the reference of "
                "the earlier parts, so its graded score can be higher."
            )
        text = "\n".join(lines)
        print(text)
        return text


def start(
    number: int,
    builds_on: Iterable[str] = (),
    given: Iterable[str] = ("_validate",),
    namespace: dict[str, Any] | None = None,
) -> NotebookPart:
    """Set the notebook up for part ``number``: paths, checks, earlier parts.

    Args:
        number: the part number in ``rubric.toml``.
        builds_on: the earlier parts' modules its module imports (written into the setup
            cell by the notebook builder, read off the reference's imports).
        given: the course's given modules it imports (``_validate``, part 9's ``recipes``).
        namespace: the notebook's global names (IPython's ``user_ns`` when left out).
    """
    if namespace is None:
        from IPython import get_ipython

        shell = get_ipython()
        namespace = shell.user_ns if shell is not None else {}
    folder = Path.cwd().resolve()
    root = grading_root(folder)
    grading = os.environ.get("NBGRADER_EXECUTION") in GRADING_MODES and root is not None
    if grading:
        assert root is not None
        # The course's own checks, hidden ones included, and its reference modules.
        sys.path.insert(0, str(root))
        for name in [n for n in sys.modules if n == "tests" or n.startswith("tests.")]:
            del sys.modules[name]
    elif str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

    from autograder.core.assemble import plan
    from autograder.core.rubric import load_rubric

    rubric = load_rubric(root / "rubric.toml") if grading and root else load_rubric()
    info = rubric.parts[number]
    builds_on = tuple(builds_on)
    part = NotebookPart(
        number=number,
        module=info.module,
        builds_on=builds_on,
        forbidden=info.forbidden,
        given=tuple(given),
        folder=folder,
        root=root if grading else None,
        grading=grading,
        earlier=plan(builds_on, False, grading),
        raising=os.environ.get("NBGRADER_EXECUTION") in GRADING_MODES,
        _namespace=namespace,
    )
    # Module-level code that finds its data from its own file (part 9's datasets/ and
    # recipes/, two folders up) finds the data files released beside the notebook.
    namespace.setdefault("__file__", str(folder / "module" / f"{info.module}.py"))
    part.install_earlier_parts()
    return part
