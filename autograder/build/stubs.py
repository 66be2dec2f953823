"""Generate the student's stubs (``assignments/``) from the reference (``solutions/``).

Every region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is replaced, at the
indentation of its BEGIN line, by the region's ``### HINT:`` lines (as ``# HINT:``
comments) and then by ``raise NotImplementedError(...)`` inside a function, or ``pass``
at class or module level (raising there would break the whole module's import).
Everything else - signatures, docstrings, imports, given code - is kept as it is.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from autograder.core.paths import ROOT

BEGIN = re.compile(r"^(?P<indent>\s*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
HINT = re.compile(r"^\s*### HINT:?\s?(?P<text>.*)$")
SOLUTIONS = ROOT / "solutions"
ASSIGNMENTS = ROOT / "assignments"


class MarkerError(ValueError):
    """Unbalanced or misplaced solution markers."""


@dataclass(frozen=True)
class Region:
    """One marked region: 1-based line numbers of its BEGIN and END markers."""

    begin: int
    end: int
    indent: str
    hints: tuple[str, ...]


def find_regions(source: str, filename: str = "<source>") -> list[Region]:
    """The marked regions of ``source``; :class:`MarkerError` names the bad line."""
    regions: list[Region] = []
    open_at: int | None = None
    indent = ""
    hints: list[str] = []
    for number, line in enumerate(source.splitlines(), start=1):
        begin = BEGIN.match(line)
        if begin:
            if open_at is not None:
                raise MarkerError(
                    f"{filename}:{number}: BEGIN SOLUTION inside the region opened at line "
                    f"{open_at} (regions cannot nest)"
                )
            open_at, indent, hints = number, begin.group("indent"), []
        elif END.match(line):
            if open_at is None:
                raise MarkerError(f"{filename}:{number}: END SOLUTION without a BEGIN SOLUTION")
            regions.append(Region(open_at, number, indent, tuple(hints)))
            open_at = None
        elif open_at is not None and (hint := HINT.match(line)):
            hints.append(hint.group("text"))
        elif "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
            raise MarkerError(f"{filename}:{number}: a solution marker must be alone on its line")
    if open_at is not None:
        raise MarkerError(f"{filename}:{open_at}: BEGIN SOLUTION is never closed by END SOLUTION")
    return regions


def _enclosing_scopes(tree: ast.Module) -> list[tuple[int, int, str, bool]]:
    """(first line, last line, qualified name, is a function) of every def and class."""
    scopes: list[tuple[int, int, str, bool]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                is_function = not isinstance(child, ast.ClassDef)
                scopes.append((child.lineno, child.end_lineno or child.lineno, name, is_function))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return scopes


def _scope_of(scopes: list[tuple[int, int, str, bool]], line: int) -> tuple[str, bool]:
    """The innermost def or class around ``line``: (name, is a function); module: ("", False)."""
    inside = [s for s in scopes if s[0] < line <= s[1]]
    if not inside:
        return "", False
    _, _, name, is_function = max(inside, key=lambda s: s[0])
    return name, is_function


def make_stub(source: str, filename: str = "<source>") -> str:
    """The student's version of ``source``: every marked region replaced by a stub."""
    regions = find_regions(source, filename)
    if not regions:
        return source
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise MarkerError(
            f"{filename}:{error.lineno}: the solution does not parse: {error.msg}"
        ) from None
    scopes = _enclosing_scopes(tree)
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    previous_end = 0
    for region in regions:
        out.extend(lines[previous_end : region.begin - 1])
        name, in_function = _scope_of(scopes, region.begin)
        out.extend(f"{region.indent}# HINT: {text}\n".replace(" \n", "\n") for text in region.hints)
        out.append(f"{region.indent}# YOUR CODE HERE\n")
        if in_function:
            out.append(
                f'{region.indent}raise NotImplementedError("{name} is not implemented yet")\n'
            )
        else:
            out.append(f"{region.indent}pass\n")
        previous_end = region.end
    out.extend(lines[previous_end:])
    stub = "".join(out)
    try:
        ast.parse(stub, filename=filename)
    except SyntaxError as error:
        raise MarkerError(
            f"{filename}: the stub does not parse at line {error.lineno} ({error.msg}); "
            f"a region must cover whole statements"
        ) from None
    return stub


def expected_files(solutions: Path = SOLUTIONS) -> dict[Path, str]:
    """Every file ``assignments/`` should hold, relative path -> text."""
    files: dict[Path, str] = {}
    for path in sorted(solutions.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(solutions)
        text = path.read_text(encoding="utf-8")
        files[relative] = make_stub(text, str(path)) if path.suffix == ".py" else text
    return files


def stale_files(solutions: Path = SOLUTIONS, assignments: Path = ASSIGNMENTS) -> list[str]:
    """Paths of ``assignments/`` that differ from what ``solutions/`` generates."""
    expected = expected_files(solutions)
    actual = {
        p.relative_to(assignments)
        for p in assignments.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    problems = [
        f"{p} is not generated from solutions/ (remove it)" for p in sorted(actual - set(expected))
    ]
    for relative, text in expected.items():
        target = assignments / relative
        if not target.exists():
            problems.append(f"{relative} is missing")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(f"{relative} differs from the stub of solutions/{relative}")
    return problems


def write_stubs(solutions: Path = SOLUTIONS, assignments: Path = ASSIGNMENTS) -> list[Path]:
    """Regenerate ``assignments/``; returns the files written."""
    expected = expected_files(solutions)
    for path in assignments.rglob("*"):
        stale = path.is_file() and path.relative_to(assignments) not in expected
        if stale and "__pycache__" not in path.parts:
            path.unlink()
    written = []
    for relative, text in expected.items():
        target = assignments / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(target)
    return written
