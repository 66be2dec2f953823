"""What goes wrong on the channel, and exceptions rebuilt from the other process's."""

from __future__ import annotations

import builtins
import keyword
from collections import OrderedDict
from typing import Any, Generic, TypeVar

__builtins__ = dict(vars(builtins))  # the runtime keeps its builtins whatever student code patches

K = TypeVar("K")
V = TypeVar("V")


class RemoteError(Exception):
    """Base class of the errors the channel raises about itself or the other process."""


class ProtocolError(RemoteError):
    """The other process sent something that is not a valid message, or that is not allowed."""


class ChannelClosed(RemoteError):
    """The other process closed the channel (it exited or was killed)."""


class ChannelTimeout(RemoteError):
    """The other process did not answer within the time allowed."""


class StaleHandle(RemoteError):
    """A proxy was used after the object it stands for was released (e.g. by ``reset()``)."""


class StudentError(Exception):
    """An exception of a type that is not a Python builtin, raised in the student's process.

    ``type_name`` is the class name there; ``remote_traceback`` (when known) the traceback
    text. Instances are also instances of the nearest builtin base class of the original, so
    ``except ValueError`` catches a student's ``class ShapeError(ValueError)``.
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(type_name, message)
        self.type_name = type_name
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"StudentError({self.type_name!r}, {self.message!r})"


BUILTIN_EXCEPTIONS: dict[str, type[BaseException]] = {
    name: value
    for name, value in vars(builtins).items()
    if isinstance(value, type)
    and issubclass(value, Exception)
    and not issubclass(value, Warning)
    and name not in {"BaseExceptionGroup", "ExceptionGroup"}
}
"""Exception classes re-raised as themselves: the builtins (not warnings or groups)."""


class BoundedCache(Generic[K, V]):
    """A least-recently-used map of at most ``size`` entries.

    Classes made for names the other process chooses (proxy types, error types, named
    tuples) are cached per channel in one of these, so a hostile worker cannot grow the
    grader's memory by sending ever new names, and nothing outlives its submission.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self.entries.get(key)
        if value is not None:
            self.entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return value


def identifier(name: Any, fallback: str) -> str:
    """``name`` when it is a safe class name, else ``fallback`` (names come from the worker)."""
    safe = isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)
    return name if safe and len(name) <= 80 else fallback


def rebuild_exception(
    type_name: str,
    bases: list[str],
    args: tuple[Any, ...],
    remote_traceback: str,
    classes: BoundedCache[tuple[str, str], type[StudentError]],
) -> BaseException:
    """The local exception for one raised in the other process (see :class:`StudentError`)."""
    cls = BUILTIN_EXCEPTIONS.get(type_name)
    error: BaseException | None = None
    if cls is not None:
        for attempt in (args, tuple(str(a) for a in args[:1])):
            try:
                error = cls(*attempt)
                break
            except Exception:
                continue
    if error is None:
        base_name = next((b for b in bases if b in BUILTIN_EXCEPTIONS), "Exception")
        if cls is not None:
            base_name = "Exception"
        key = (identifier(type_name, "StudentError"), base_name)
        error_class = classes.get(key)
        if error_class is None:
            base = BUILTIN_EXCEPTIONS[base_name]
            parents = (StudentError,) if base is Exception else (StudentError, base)
            error_class = classes.put(key, type(key[0], parents, {"__module__": "student"}))
        message = str(args[0]) if len(args) == 1 else ", ".join(str(a) for a in args)
        error = error_class(type_name, message)
    error.remote_traceback = remote_traceback  # type: ignore[attr-defined]
    return error
