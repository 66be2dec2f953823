"""The house rules of the code, checked: small modules, no import circles, wings apart.

- No Python file of ``autograder/`` is over 600 lines.
- No circle among the module-level imports of ``solutions/`` or of ``autograder/``.
- ``autograder/core`` (what ships to students) imports nothing of the other wings.
- The worker's side (``autograder/grader/worker`` and ``channel``) never imports the
  reference, the checks or the grader's other modules: a worker's memory is the student's.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The modules ``path`` imports at module level (not inside functions or TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _graph(folder: str) -> dict[str, set[str]]:
    files = sorted((ROOT / folder).rglob("*.py"))
    modules = {_module_name(p): p for p in files if "__pycache__" not in p.parts}
    return {
        name: {m for m in _imports(path) if m in modules} - {name} for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_the_circle_finder_finds_circles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_tooling_is_over_600_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "autograder").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert not long, long


@pytest.mark.parametrize("folder", ["solutions", "autograder"])
def test_no_import_circle(folder):
    cycle = _cycle(_graph(folder))
    assert not cycle, " -> ".join(cycle)


def test_what_ships_to_students_stands_alone():
    for name, imported in _graph("autograder").items():
        if name.startswith("autograder.core"):
            outside = [m for m in imported if not m.startswith(("autograder.core", "autograder"))]
            wings = [
                m
                for m in imported
                if m.startswith("autograder.") and not m.startswith("autograder.core")
            ]
            assert not outside and not wings, f"{name} imports {wings or outside}"


def test_the_workers_side_never_imports_the_reference_or_the_checks():
    worker_side = ("autograder.grader.worker", "autograder.grader.channel")
    for path in (ROOT / "autograder" / "grader").rglob("*.py"):
        name = _module_name(path)
        if not name.startswith(worker_side):
            continue
        imported = _imports(path)
        bad = [
            m
            for m in imported
            if m.startswith(("solutions", "tests", "autograder"))
            and not m.startswith((*worker_side, "autograder.grader.worker"))
            and m not in ("autograder", "autograder.grader")
        ]
        assert not bad, f"{name} imports {bad}"
