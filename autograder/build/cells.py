"""Cut a solution module into notebook cells: one per top-level definition, imports together.

A cell that holds a ``### BEGIN SOLUTION`` region becomes an nbgrader solution cell; the
others are given code. Hints move above the region, where nbgrader keeps them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from autograder.build.stubs import BEGIN, END, HINT, find_regions


@dataclass(frozen=True)
class CodeCell:
    """A cell of the part's module: given code (read-only) or a solution cell."""

    source: str
    solution: bool


def hints_outside_regions(source: str) -> str:
    """Move each region's ``### HINT`` lines above its BEGIN marker as ``# HINT:`` comments.

    nbgrader drops everything between the markers, hints included; above the marker they
    survive into the released notebook, as they do in ``assignments/``.
    """
    out: list[str] = []
    region: list[str] | None = None
    hints: list[str] = []
    for line in source.splitlines():
        if BEGIN.match(line):
            region, hints = [line], []
        elif region is not None and END.match(line):
            indent = BEGIN.match(region[0]).group("indent")  # type: ignore[union-attr]
            out.extend(f"{indent}# HINT: {text}".rstrip() for text in hints)
            out.extend([*region, line])
            region = None
        elif region is not None:
            hint = HINT.match(line)
            if hint:
                hints.append(hint.group("text"))
            else:
                region.append(line)
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def split_module(source: str, filename: str = "<module>") -> list[CodeCell]:
    """Cut a solution module into cells: one per top-level def or class, imports together.

    A cell is a solution cell when it contains a marked region. Comments directly above a
    statement stay with it.
    """
    regions = find_regions(source, filename)
    tree = ast.parse(source, filename=filename)
    lines = source.splitlines()
    # A notebook's __name__ is "__main__": a module's command line must not run in it.
    for node in reversed(tree.body):
        if _is_main_guard(node):
            end = node.end_lineno or node.lineno
            lines[node.lineno - 1 : end] = [""] * (end - node.lineno + 1)
            tree.body.remove(node)
    starts: list[int] = []
    previous_was_import = False
    for node in tree.body:
        is_import = isinstance(node, (ast.Import, ast.ImportFrom))
        if previous_was_import and is_import:
            continue
        previous_was_import = is_import
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno, *(d.lineno for d in decorators)]) - 1
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1
        starts.append(start)
    # The module docstring belongs to the first cell, with the imports.
    if len(starts) > 1 and isinstance(tree.body[0], ast.Expr):
        starts.pop(1)
    starts[0] = 0
    cells: list[CodeCell] = []
    for begin, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        text = "\n".join(lines[begin:end]).strip("\n")
        solution = any(begin < r.begin <= end for r in regions)
        cells.append(CodeCell(text, solution))
    return cells


def _is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":``."""
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )
