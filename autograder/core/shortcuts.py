"""Static check for the library shortcuts a part forbids.

Part 2 asks for attention written by hand, so a call of
``torch.nn.functional.scaled_dot_product_attention`` there is a shortcut. The check reads
the module's syntax tree, resolves import aliases (``import torch.nn.functional as F``,
``from torch.nn import functional``, ``from torch.nn.functional import ... as sdpa``) and
reports every use of a forbidden name, with its line. It never runs the code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    """A forbidden name used at ``line``."""

    name: str
    line: int

    def __str__(self) -> str:
        return f"line {self.line}: uses {self.name}"


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> fully qualified name, for every import in the module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    names[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None for anything that is not a plain name chain."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def find_shortcuts(source: str, forbidden: Iterable[str]) -> list[Shortcut]:
    """Every use of a forbidden fully qualified name in ``source``.

    Args:
        source: Python source of one module.
        forbidden: fully qualified names such as ``torch.nn.MultiheadAttention``.

    Returns:
        The uses found, in line order; an empty list when there are none. A module that does
        not parse has no shortcuts to report (the import of it fails on its own).
    """
    targets = set(forbidden)
    if not targets:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    aliases = _aliases(tree)
    found: dict[tuple[str, int], Shortcut] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in targets:
                    found[(full, node.lineno)] = Shortcut(full, node.lineno)
        if not isinstance(node, (ast.Attribute, ast.Name)):
            continue
        chain = _dotted(node)
        if chain is None or chain[0] not in aliases:
            continue
        full = ".".join([aliases[chain[0]], *chain[1:]])
        if full in targets:
            found[(full, node.lineno)] = Shortcut(full, node.lineno)
    # getattr(F, "scaled_dot_product_attention") spells the name as a string.
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            chain = _dotted(node.args[0])
            if chain and chain[0] in aliases:
                full = ".".join([aliases[chain[0]], *chain[1:], node.args[1].value])
                if full in targets:
                    found[(full, node.lineno)] = Shortcut(full, node.lineno)
    return sorted(found.values(), key=lambda s: (s.line, s.name))
