"""``release``: generate the students' notebooks and prove they fail untouched.

nbgrader's ``validate --invert`` exits 0 whatever happens; here every visible check cell of
a released notebook must fail when run as released, and every check must pass on the source
notebook (the reference code), in a real kernel as nbgrader runs it.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat

from autograder.nbgrader.course_dir import (
    HIDDEN_CALL,
    SCHEDULE,
    VISIBLE_CALL,
    CourseError,
    api,
    assignments,
    gradebook,
    grading_environment,
    require_course,
)


@dataclass(frozen=True)
class ReleaseReport:
    """Per released notebook: the visible check cells that pass untouched (should be none)."""

    released: list[Path]
    passing_untouched: dict[str, list[str]]
    failing_source: dict[str, list[str]]


def generate(course_dir: Path, names: Iterable[str] | None = None) -> list[Path]:
    """``nbgrader generate_assignment``: strip solutions and hidden tests into ``release/``.

    Then every stub is named (``raise NotImplementedError("split_heads is not implemented
    yet")``, where nbgrader writes a bare ``raise NotImplementedError()``) and the
    assignments get the due dates of ``schedule.json``.
    """
    course_dir = require_course(course_dir)
    names = list(names or assignments(course_dir))
    if not names:
        raise CourseError(f"{course_dir}/source has no assignment: run `make notebooks` first")
    grader = api(course_dir)
    for name in names:
        result = grader.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise CourseError(f"generate_assignment {name} failed:\n{result.get('error', '')}")
    released = sorted((course_dir / "release").glob("*/*.ipynb"))
    for notebook in released:
        name_stubs(notebook)
    apply_schedule(course_dir)
    return released


STUB = "raise NotImplementedError()"


def named_stub(source: str) -> str:
    """``source`` (a code cell) with each bare stub naming the function it is in."""
    if STUB not in source:
        return source
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    scopes: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                scopes.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    lines = source.split("\n")
    for number, line in enumerate(lines, start=1):
        if line.strip() == STUB:
            inside = [s for s in scopes if s[0] <= number <= s[1]]
            if inside:
                name = max(inside, key=lambda s: s[0])[2]
                lines[number - 1] = line.replace(
                    STUB, f'raise NotImplementedError("{name} is not implemented yet")'
                )
    return "\n".join(lines)


def name_stubs(notebook: Path) -> None:
    """Name the stubs of ``notebook``'s solution cells (see :func:`named_stub`)."""
    document = nbformat.read(notebook, as_version=4)
    for cell in document.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = named_stub(cell.source)
    nbformat.write(document, notebook)


def apply_schedule(course_dir: Path) -> None:
    """Give the gradebook's assignments the due dates of ``schedule.json``."""
    path = course_dir / SCHEDULE
    schedule = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if not schedule:
        return
    with gradebook(course_dir) as book:
        for name, due in schedule.items():
            book.update_or_create_assignment(name, duedate=datetime.fromisoformat(due))


def _validator(invert: bool = False):
    """nbgrader's ``Validator``, its kernel channel encrypted as in ``nbgrader_config.py``."""
    from nbgrader.validator import Validator
    from traitlets.config import Config

    config = Config()
    config.KernelManager.transport_encryption = "auto"
    os.environ.update(grading_environment())
    return Validator(invert=invert, config=config)


def visible_checks_passing(notebook: Path) -> list[str]:
    """The visible check cells that pass when ``notebook`` runs as it is (nbgrader validate)."""
    results = _validator(invert=True).validate(str(notebook))
    passed = [cell["source"] for cell in results.get("passed", [])]
    return [m.group("id") for source in passed if (m := VISIBLE_CALL.search(source))]


def checks_failing(notebook: Path) -> list[str]:
    """The check cells (hidden ones included) that fail when ``notebook`` runs as it is."""
    results = _validator().validate(str(notebook))
    failed = [cell["source"] for cell in results.get("failed", [])]
    calls = [HIDDEN_CALL.search(s) or VISIBLE_CALL.search(s) for s in failed]
    return [m.group("id") if m else s.splitlines()[0] for m, s in zip(calls, failed, strict=True)]


def release(
    course_dir: Path, names: Iterable[str] | None = None, check_source: bool = True
) -> ReleaseReport:
    """Generate the release and prove it fails: no visible check passes on a blank notebook.

    With ``check_source``, also prove that every check passes on the source notebook (the
    reference code), in a real kernel as nbgrader runs it.
    """
    course_dir = require_course(course_dir)
    released = generate(course_dir, names)
    passing = {str(p.relative_to(course_dir)): visible_checks_passing(p) for p in released}
    failing: dict[str, list[str]] = {}
    if check_source:
        for path in released:
            source = course_dir / "source" / path.parent.name / path.name
            failing[str(source.relative_to(course_dir))] = checks_failing(source)
    return ReleaseReport(
        released,
        {k: v for k, v in passing.items() if v},
        {k: v for k, v in failing.items() if v},
    )
