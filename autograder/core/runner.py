"""Run one graded check against an implementation and explain the verdict.

The checks are pytest test functions; pytest runs them in ``make test``, and this module
runs the very same functions for the notebooks and the grader. A check names the part
modules it needs as parameters, plus ``device``; hypothesis draws the rest.
"""

from __future__ import annotations

import importlib
import inspect
import re
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from hypothesis import settings

from autograder.core import profiles
from autograder.core.rubric import Check, Rubric, load_rubric

FIXTURE_LINE = re.compile(r"^\s+(?P<name>\w+)=.*,$")


class GraderError(Exception):
    """An error of the grading machinery whose message is already written for the student
    (the submission's process died, ran out of time...)."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: passed or not, and what to tell the student."""

    check: str
    passed: bool
    message: str
    seconds: float


def check_module_name(check: Check, rubric: Rubric | None = None) -> str:
    """The module defining ``check``: ``tests.checks.part2_qkv`` or ``tests.hidden.part2_qkv``."""
    rubric = rubric or load_rubric()
    return rubric.parts[check.part].check_module(check.hidden)


def check_function(check: Check, rubric: Rubric | None = None) -> Callable[..., Any]:
    """The test function of ``check`` (``test_<id>``)."""
    module = importlib.import_module(check_module_name(check, rubric))
    function = getattr(module, f"test_{check.id}", None)
    if function is None:
        raise LookupError(f"{module.__name__} has no test_{check.id} (listed in rubric.toml)")
    return function


def fixture_names(function: Callable[..., Any]) -> list[str]:
    """The parameters a check expects from its caller (hypothesis supplies the others)."""
    return list(inspect.signature(function).parameters)


REMOTE_FRAME = re.compile(
    r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>.+)$', re.MULTILINE
)
"""A frame of the traceback text that comes with an exception raised in the grader's worker."""


def student_frame(error: BaseException, roots: tuple[str, ...]) -> str:
    """ "qkv.py, line 42, in scaled_dot_product_attention" for the deepest student frame."""
    remote = getattr(error, "remote_traceback", None)
    if remote:
        # Raised in the grader's worker: the student's frames are in its traceback text.
        frames = [m for m in REMOTE_FRAME.finditer(remote) if "/submission/" in m["file"]]
        if not frames:
            return ""
        last = frames[-1]
        return f" ({last['file'].rsplit('/', 1)[-1]}, line {last['line']}, in {last['name']})"
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        path = frame.filename.replace("\\", "/")
        if any(f"/{root}/" in path or path.endswith(f"/{root}") for root in roots):
            name = frame.filename.replace("\\", "/").rsplit("/", 1)[-1]
            return f" ({name}, line {frame.lineno}, in {frame.name})"
    return ""


def _smallest_input(error: BaseException, fixtures: set[str]) -> str:
    """Hypothesis's falsifying example, without the fixtures (the module, the device)."""
    notes = [
        n
        for n in getattr(error, "__notes__", ())
        if n.startswith(("Falsifying example", "Failing test case"))
    ]
    if not notes:
        return ""
    lines = notes[0].splitlines()[1:-1]
    kept = []
    for line in lines:
        match = FIXTURE_LINE.match(line)
        if match and match.group("name") in fixtures:
            continue
        kept.append(line[4:] if line.startswith("    ") else line)
    return ("\nSmallest failing input:\n" + "\n".join(kept)) if kept else ""


def _first_failure(error: BaseException) -> BaseException:
    """Hypothesis groups distinct failures; the student needs the first one."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        notes = getattr(error, "__notes__", ())
        inner = error.exceptions[0]
        if notes and not getattr(inner, "__notes__", None):
            inner.__notes__ = list(notes)
        error = inner
    return error


def _unfinished(error: BaseException, roots: tuple[str, ...]) -> str:
    """ "scaled_dot_product_attention is not implemented yet (qkv.py, line 12)" from a bare
    ``raise NotImplementedError()`` (nbgrader's stub), named from where it was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    where = student_frame(error, roots)
    name = frames[-1].name if frames else ""
    if name and name != "<module>":
        return f"{name} is not implemented yet{where}"
    return f"a function this check calls is not implemented yet{where}"


def explain(error: BaseException, fixtures: set[str], roots: tuple[str, ...] = ()) -> str:
    """A message for the student about why a check failed."""
    error = _first_failure(error)
    example = _smallest_input(error, fixtures)
    if isinstance(error, AssertionError) and type(error).__name__ == "CheckFailure":
        return f"{error}{example}"
    if isinstance(error, GraderError):
        return str(error)
    if isinstance(error, NotImplementedError):
        return str(error) or _unfinished(error, roots)
    if isinstance(error, AssertionError):
        return f"assertion failed: {error}{example}"
    frame = student_frame(error, roots)
    if not frame and (roots or getattr(error, "remote_traceback", None)):
        return (
            f"checking your result raised {type(error).__name__}: {error}{example}\n"
            "No line of your code is in the traceback, so the fault may be in the check: "
            "if your code looks right, show this message to your instructor."
        )
    return f"your code raised {type(error).__name__}: {error}{frame}{example}"


def run_check(
    function: Callable[..., Any],
    modules: Mapping[str, ModuleType | Any],
    device: str = "cpu",
    roots: tuple[str, ...] = (),
    chosen: settings | None = None,
    seed: int | None = None,
) -> Verdict:
    """Call ``function`` with the modules it names and ``device``; never raises.

    Args:
        function: a check (``test_<id>``).
        modules: part module name -> module (or a proxy of one).
        device: the value of the ``device`` parameter.
        roots: path fragments of the student's files, to point at the failing line.
        chosen: hypothesis settings for this run (:data:`profiles.GRADING` when None).
        seed: hypothesis's seed for this run (None: the settings decide).
    """
    name = function.__name__.removeprefix("test_")
    arguments: dict[str, Any] = {}
    for parameter in fixture_names(function):
        if parameter == "device":
            arguments[parameter] = device
        elif parameter in modules:
            arguments[parameter] = modules[parameter]
        else:
            return Verdict(name, False, f"the check needs module {parameter!r}, not given", 0.0)
    start = time.perf_counter()
    try:
        with profiles.configured(function, chosen, seed):
            function(**arguments)
    except Exception as error:
        message = explain(error, set(arguments), roots)
        return Verdict(name, False, message, time.perf_counter() - start)
    return Verdict(name, True, "passed", time.perf_counter() - start)
