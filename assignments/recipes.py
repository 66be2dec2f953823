"""The recipe of each task of part 9: what to learn, on what model, trained how (given code).

A recipe is data, one TOML file per task in ``recipes/`` (``recipes/addition.toml``):

- ``[task]``: the example generator and its parameters, and the longest source and target;
- ``[heldout]``: the size and seed of the frozen evaluation set (``datasets/<name>.jsonl``);
- ``[[probes]]``: further frozen sets that measure generalisation (longer operands);
- ``[model]``: the Transformer's sizes (the fields of ``TransformerConfig`` besides the
  vocabulary, the maximum length and the padding id, which the task decides);
- ``[training]``: the fields of ``TrainSettings`` (steps, batch size, learning rate, ...);
- ``[benchmark]``: the time budget to 99% exact match and how often to evaluate.

:func:`load` reads and checks one; ``training.py`` and ``tasks.py`` build from it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"
SECTIONS = ("task", "heldout", "probes", "model", "training", "benchmark")


@dataclass(frozen=True)
class Recipe:
    """One task's recipe (see the module docstring for its sections)."""

    name: str
    task: dict[str, Any]
    heldout: dict[str, Any]
    model: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    benchmark: dict[str, Any] = field(default_factory=dict)
    probes: list[dict[str, Any]] = field(default_factory=list)


def names(folder: Path = RECIPES) -> tuple[str, ...]:
    """The tasks that have a recipe, sorted."""
    return tuple(sorted(path.stem for path in folder.glob("*.toml")))


def parse(text: str, name: str) -> Recipe:
    """A recipe from TOML text; ``ValueError`` names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"recipe {name}: not valid TOML ({error})") from None
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ValueError(
            f"recipe {name}: unknown section(s) {', '.join(unknown)}; a recipe has "
            f"{', '.join(SECTIONS)}"
        )
    for section in ("task", "heldout"):
        if not isinstance(data.get(section), dict):
            raise ValueError(f"recipe {name}: the [{section}] section is missing")
    for section in ("model", "training", "benchmark"):
        if not isinstance(data.get(section, {}), dict):
            raise ValueError(f"recipe {name}: [{section}] must be a table of settings")
    probes = data.get("probes", [])
    if not isinstance(probes, list) or not all(isinstance(p, dict) for p in probes):
        raise ValueError(f"recipe {name}: [[probes]] must be tables")
    return Recipe(
        name=name,
        task=dict(data["task"]),
        heldout=dict(data["heldout"]),
        model=dict(data.get("model", {})),
        training=dict(data.get("training", {})),
        benchmark=dict(data.get("benchmark", {})),
        probes=[dict(p) for p in probes],
    )


def load(name: str, folder: Path = RECIPES) -> Recipe:
    """The recipe of task ``name`` (``recipes/<name>.toml``)."""
    path = folder / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(names(folder)) or "none"
        raise ValueError(f"unknown task {name!r}; the tasks with a recipe are: {known}")
    return parse(path.read_text(encoding="utf-8"), name)
