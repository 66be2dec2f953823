"""``make figures``: one page per part for students, with the part's key figure.

The page is written from the same prose as the part's notebook (``autograder/prose/``) and
the rubric's visible checks; the figure is drawn by running the notebook's worked example
against the reference implementation. Part 9's figures come from a short training run of
the copy task.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from autograder.build.notebook import load_prose
from autograder.core.rubric import Part, Rubric, load_rubric
from autograder.core.paths import ROOT

PAGES = ROOT / "docs" / "parts"
FIGURES = ROOT / "docs" / "figures"
TRAINING_STEPS = 300


def _namespace(rubric: Rubric) -> dict:
    """What a worked example sees: numpy, torch and every public name of the reference."""
    import numpy as np
    import torch
    from torch import nn

    namespace: dict = {"np": np, "torch": torch, "nn": nn}
    for part in rubric.parts.values():
        module = importlib.import_module(f"solutions.{part.module}")
        namespace.update({k: v for k, v in vars(module).items() if not k.startswith("_")})
    return namespace


def draw(part: Part, rubric: Rubric) -> list[str]:
    """Run the part's worked example; save the figures it draws; return their file names."""
    prose = load_prose(part)
    if prose is None:
        return []
    namespace = _namespace(rubric)
    plt.close("all")
    plt.show = lambda *args, **kwargs: None
    for kind, text in prose.example:
        if kind == "code":
            exec(compile(text, f"<part {part.number} example>", "exec"), namespace)
    names = []
    for index, number in enumerate(plt.get_fignums()):
        name = f"part{part.number}.png" if index == 0 else f"part{part.number}-{index + 1}.png"
        plt.figure(number).savefig(FIGURES / name, dpi=110, bbox_inches="tight")
        names.append(name)
    plt.close("all")
    return names


def training_figures() -> list[str]:
    """Loss and accuracy curves and attention maps of a short copy-task run (part 9)."""
    from solutions import training

    with tempfile.TemporaryDirectory() as scratch:
        training.run_task("copy", steps=TRAINING_STEPS, out=Path(scratch), progress=False)
        names = []
        for source, name in (
            ("curves.png", "part9-curves.png"),
            ("attention.png", "part9-attention.png"),
        ):
            shutil.copy2(Path(scratch) / "copy" / source, FIGURES / name)
            names.append(name)
    return names


def page(part: Part, rubric: Rubric, figures: list[str]) -> str:
    """The student page of ``part``: the notebook's prose, the figures, the visible checks."""
    prose = load_prose(part)
    lines = [f"# Part {part.number}: {part.title}", ""]
    if prose is not None:
        lines += [text for kind, text in prose.intro if kind == "markdown"]
        lines.append("")
    main_figure = f"part{part.number}.png"
    for name in sorted(figures, key=lambda n: (n != main_figure, n)):
        lines += [f"![part {part.number}](../figures/{name})", ""]
    if prose is not None:
        lines += [text for kind, text in prose.example if kind == "markdown"]
        lines.append("")
    visible = rubric.checks_of(part.number, include_hidden=False)
    hidden = rubric.points(part.number) - rubric.points(part.number, include_hidden=False)
    lines += ["## What the checks look at", ""]
    lines += [
        f"- {c.description} ({c.points:g} point{'s' if c.points != 1 else ''}"
        f"{', bonus' if c.bonus else ''})"
        for c in visible
    ]
    if hidden:
        lines += ["", f"Hidden checks, run by the grader, add {hidden:g} points."]
    lines += ["", f"Module: `assignments/{part.module}.py`. Run `make test PART={part.number}`."]
    return "\n".join(lines).rstrip() + "\n"


def write_pages(draw_figures: bool = True) -> list[str]:
    """Write ``docs/parts/`` (and, unless ``draw_figures`` is False, ``docs/figures/``)."""
    rubric = load_rubric()
    PAGES.mkdir(parents=True, exist_ok=True)
    FIGURES.mkdir(parents=True, exist_ok=True)
    index = ["# The parts", ""]
    written = []
    for part in rubric.parts.values():
        if draw_figures:
            figures = draw(part, rubric)
            if part.module == "tasks":
                figures += training_figures()
        else:
            figures = [p.name for p in FIGURES.glob(f"part{part.number}*.png")]
        (PAGES / f"part{part.number}.md").write_text(page(part, rubric, figures))
        index.append(f"- [Part {part.number}: {part.title}](part{part.number}.md)")
        written.append(f"docs/parts/part{part.number}.md ({', '.join(figures) or 'no figure'})")
    (PAGES / "README.md").write_text("\n".join(index) + "\n")
    return written
