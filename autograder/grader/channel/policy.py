"""What the other process may do with this process's objects (see :class:`Policy`)."""

from __future__ import annotations

import builtins
import types
from typing import Any

__builtins__ = dict(vars(builtins))  # the runtime keeps its builtins whatever student code patches


class Policy:
    """What the other process may do with this process's objects.

    The worker lets the grader do anything with its objects. The grader only lets the worker
    call the objects it handed out and read their public data: no names starting with ``_``
    and no modules, classes or functions as attribute values, so student code cannot walk
    from a handle to the grader's modules, files or reference source.
    """

    ALLOWED = frozenset(
        {
            "getattr",
            "call",
            "repr",
            "len",
            "iter",
            "next",
            "nextmany",
            "getitem",
            "contains",
            "bool",
        }
    )

    def __init__(self, restricted: bool) -> None:
        self.restricted = restricted

    def check(self, op: str, target: Any, name: str | None = None) -> None:
        """Raise ``PermissionError`` when ``op`` on ``target`` is not allowed."""
        if not self.restricted:
            return
        if op not in self.ALLOWED:
            # callmethod is checked as a getattr of the method
            raise PermissionError(f"the grader does not allow {op!r} on its objects")
        if name is not None and name.startswith("_"):
            raise PermissionError(f"the grader's objects do not expose {name!r}")

    def allow_value(self, value: Any) -> Any:
        """``value`` if it may be handed to the other process as an attribute value."""
        if self.restricted and isinstance(
            value, types.ModuleType | type | types.FunctionType | types.CodeType | types.FrameType
        ):
            raise PermissionError(
                f"the grader's objects do not expose their {type(value).__name__} attributes"
            )
        return value
