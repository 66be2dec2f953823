"""``make figures``: one page per part for students, with the part's key figure.

The page is written from the same prose as the part's notebook (``autograder/prose/``) and
the rubric's visible checks; the figure is drawn by running the notebook's worked example
against the reference implementation. Part 9's figures come from a short training run of
the copy task, and from the measured length-generalisation trials kept in
``benchmarks/results/length.json`` (drawn from that file; nothing is trained for them).
"""

from __future__ import annotations

import importlib
import json
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import torch

from autograder.build.notebook import load_prose
from autograder.core.paths import ROOT
from autograder.core.rubric import Part, Rubric, load_rubric

PAGES = ROOT / "docs" / "parts"
FIGURES = ROOT / "docs" / "figures"
TRAINING_STEPS = 300
EVAL_EVERY = 5
EVAL_SIZE = 200


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


def smoothed_floor(vocabulary_size: int, smoothing: float) -> float:
    """The lowest cross-entropy label smoothing allows: the entropy of the smoothed target,
    ``1 - smoothing + smoothing / V`` on the right token and ``smoothing / V`` on each other."""
    right = 1 - smoothing + smoothing / vocabulary_size
    other = smoothing / vocabulary_size
    return -(right * math.log(right) + (vocabulary_size - 1) * other * math.log(other))


def training_figures() -> list[str]:
    """Loss and accuracy curves and attention maps of a short copy-task run (part 9).

    The run follows the copy recipe for ``TRAINING_STEPS`` steps and evaluates every
    ``EVAL_EVERY`` steps on ``EVAL_SIZE`` held-out examples, so that exact match is a curve.
    """
    from solutions import plots, tasks, training

    task = tasks.make_task("copy")
    settings = training.settings_for(
        "copy", steps=TRAINING_STEPS, eval_every=EVAL_EVERY, eval_size=EVAL_SIZE
    )
    symbols = len(task.vocabulary) - len(tasks.SPECIALS)
    floor = smoothed_floor(len(task.vocabulary), settings.label_smoothing)
    levels = [
        (math.log(symbols), f"ln {symbols} = {math.log(symbols):.2f}: a uniform guess"),
        (floor, f"{floor:.2f}: the floor of label smoothing {settings.label_smoothing:g}"),
    ]
    threads = torch.get_num_threads()
    # One thread, as in the tests: the model is tiny, and two threads on a busy machine
    # mostly wait for each other.
    torch.set_num_threads(1)
    try:
        torch.manual_seed(settings.seed)
        model = training.build_model(task)
        history = training.train(model, task, settings, progress=False)
    finally:
        torch.set_num_threads(threads)
    title = (
        f"copy task: {TRAINING_STEPS} steps; exact match on {EVAL_SIZE} held-out examples "
        f"every {EVAL_EVERY} steps"
    )
    plots.plot_history(
        history, FIGURES / "part9-curves.png", title=title, levels=levels, log_steps=True
    )
    source, _ = tasks.load_eval_set(task.heldout)[0]
    plots.plot_attention(model, task, source, FIGURES / "part9-attention.png")
    return ["part9-curves.png", "part9-attention.png"]


def length_figure() -> list[str]:
    """Exact match of the addition trials against operand length (part 9), drawn from the
    measured results that ``python -m benchmarks.length`` keeps."""
    from benchmarks import length

    data = json.loads(length.RESULTS.read_text(encoding="utf-8"))
    return [length.draw_figure(data, FIGURES / "part9-length.png").name]


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
                figures += training_figures() + length_figure()
        else:
            figures = [p.name for p in FIGURES.glob(f"part{part.number}*.png")]
        (PAGES / f"part{part.number}.md").write_text(page(part, rubric, figures))
        index.append(f"- [Part {part.number}: {part.title}](part{part.number}.md)")
        written.append(f"docs/parts/part{part.number}.md ({', '.join(figures) or 'no figure'})")
    (PAGES / "README.md").write_text("\n".join(index) + "\n")
    return written
