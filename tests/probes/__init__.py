"""Which known mistake a failing part makes: probes, and the one entry point :func:`diagnose`.

Each part has a module ``partN_<module>.py`` here with its ``PROBES``: small fixed calls of
the part's public API (fixed inputs, weights chosen by parameter name). ``expected.json``
holds what every mistake of the catalogue (``tests/mistakes/``) gives on every probe; it is
written by ``python -m autograder diagnoses`` and ships with the student runtime, while the
catalogue itself does not.

:func:`diagnose` runs the probes in order on a student's module. A mistake stays a candidate
only while every outcome so far matches it (same kinds and shapes, floats within a tolerance,
the same exception type); probing stops as soon as no candidate is left, so a stub costs one
probe. A diagnosis is given only when exactly one mistake matches every probe: the message
never names a mistake the code does not make (code matching the reference, or two mistakes
at once, gets none).
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tests.probes.outcomes import encode, same

EXPECTED = Path(__file__).with_name("expected.json")
TAG = re.compile(r"\[diagnosis part (\d+): ([A-Za-z0-9_]+)\]")
"""The tag ending every diagnosis message; tools read diagnoses back from it."""


@dataclass(frozen=True)
class Probe:
    """One fixed call of a part's API: ``run(module)`` returns what to compare."""

    name: str
    run: Callable[[Any], Any]


@dataclass
class Probes:
    """The ordered probes of one part; ``@PROBES.add`` registers a function as a probe."""

    items: list[Probe] = field(default_factory=list)

    def add(self, function: Callable[[Any], Any]) -> Callable[[Any], Any]:
        self.items.append(Probe(function.__name__, function))
        return function

    def __iter__(self):
        return iter(self.items)


@dataclass(frozen=True)
class Diagnosis:
    """The one known mistake a part's code matches on every probe."""

    part: int
    name: str
    says: str
    probes: int

    @property
    def tag(self) -> str:
        return f"[diagnosis part {self.part}: {self.name}]"

    @property
    def message(self) -> str:
        return (
            f"Diagnosis: your code gives exactly what the reference gives with this known "
            f"mistake: {self.says} (it matched on all {self.probes} probes). {self.tag}"
        )


def probes_of(stem: str) -> list[Probe]:
    """The probes of the part whose check module is ``stem`` (``part2_qkv``); none if absent."""
    try:
        module = importlib.import_module(f"tests.probes.{stem}")
    except ModuleNotFoundError:
        return []
    return list(module.PROBES)


def outcome(probe: Probe, module: Any, seed: int = 0) -> Any:
    """What ``probe`` gives on ``module``, encoded; the student's exceptions are outcomes too.

    Errors of the grader's channel to the student's process (a dead or hanging worker) are
    not outcomes of the code: they propagate, and the caller gives no diagnosis. ``seed``
    seeds this process's random numbers (the grader's worker has its own).
    """
    torch.manual_seed(seed)
    try:
        value = probe.run(module)
    except Exception as error:
        if type(error).__module__.startswith("autograder."):
            raise
        return encode(error)
    return encode(value)


@functools.cache
def expected() -> dict[str, Any]:
    """The stored outcomes of every part's mistakes (``expected.json``); empty when absent."""
    if not EXPECTED.is_file():
        return {}
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


def candidates_after(stem: str, module: Any) -> tuple[list[str], int]:
    """The mistakes of ``stem`` that ``module`` matches on every probe, and probes run."""
    table = expected().get(stem, {})
    mistakes: dict[str, Any] = table.get("mistakes", {})
    left = list(mistakes)
    ran = 0
    for probe in probes_of(stem):
        if not left:
            break
        got = outcome(probe, module)
        ran += 1
        left = [name for name in left if same(got, mistakes[name]["outcomes"].get(probe.name))]
    return left, ran


def diagnose(stem: str, module: Any) -> Diagnosis | None:
    """The known mistake of part ``stem`` (``part2_qkv``) that ``module`` makes, if exactly
    one matches every probe; None otherwise (never raises for the student's code)."""
    table = expected().get(stem)
    if not table:
        return None
    try:
        left, ran = candidates_after(stem, module)
    except Exception:
        return None
    if len(left) != 1:
        return None
    name = left[0]
    return Diagnosis(table["part"], name, table["mistakes"][name]["says"], ran)


def read_tags(text: str) -> list[tuple[int, str]]:
    """The ``(part, mistake)`` pairs tagged in ``text`` (a message, a notebook's output)."""
    return [(int(part), name) for part, name in TAG.findall(text)]
