"""Length generalisation of addition: which levers carry a 3-digit model to other lengths.

A trial trains the course's ``addition`` model (operands of 3 digits, the recipe's sizes and
settings) and scores it by greedy exact match and per-digit accuracy at every operand length
from 1 to 6 digits (both operands of that length, zero-padded, the sum one digit longer):

- 3, 4 and 5 digits: the frozen sets ``addition`` (the task's held-out set, never trained
  on), ``addition-4digits`` and ``addition-5digits`` (``datasets/``, see the recipe);
- 1, 2 and 6 digits: generated here, deterministically (:func:`generated_set`): every one of
  the 100 one-digit sums, and 1,000 distinct sums of 2 and of 6 digits drawn with
  ``random.Random(GENERATED_SEED + digits)``. The trials that train on mixed widths train on
  1- and 2-digit sums too, so for them these two sets are not held out.

The levers:

- ``reverse``: the sum is written least significant digit first, so each output digit
  depends only on digits already seen and the carry;
- ``digit-positions``: the position of a digit is its significance within its number (units
  0, tens 1, ...) in the source, and the index of the output digit in the (reversed) target,
  so the k-th digits of both operands and of the sum share a position code whatever the
  number of digits (the idea of the "Abacus" embeddings, McLeish et al., 2024);
- ``offsets``: during training every example's position codes are shifted by a random
  offset, so that the codes of longer numbers have been seen before;
- ``widths``: training operands have 1, 2 or 3 digits (both the same width, zero-padded,
  the sum one digit wider), so where the sum ends depends on the operands' width instead
  of being always after the fourth digit.

    python -m benchmarks.length --trial reverse --steps 1500
    python -m benchmarks.length --trial reverse+digit-positions+offsets --steps 1500 \
        --out build/length/reverse+digit-positions+offsets-seed0.json
    python -m benchmarks.length --trial baseline --recipe    # and time the course's recipe
    python -m benchmarks.length --figure                     # docs/figures/part9-length.png

``--recipe`` also trains the course's own 3-digit recipe to 99% (as ``make bench-tasks``
does), once before and once after the trial in the same process, and records the ratio of
the trial's training time to the recipe's: a ratio measured side by side holds on a loaded
machine where absolute seconds do not. ``--figure`` draws exact match against operand length
from the measured results kept in ``benchmarks/results/length.json`` (it trains nothing).

This is a measurement harness: the course's model keeps its own positions; the trials swap
the model's embedding modules for :class:`DigitPositions` from the outside.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from torch import nn

from benchmarks import ROOT, commit
from benchmarks import tasks as bench_tasks
from solutions import positional, tasks, training

TRIALS = (
    "baseline",
    "reverse",
    "reverse+digit-positions",
    "reverse+digit-positions+offsets",
    "reverse+digit-positions+widths",
    "reverse+digit-positions+offsets+widths",
)
MAX_OFFSET = 12
TABLE = 64
"""Position codes available: significances and offsets up to here."""
WIDTHS = (1, 3)
"""The shortest and longest operands of the ``widths`` lever (the others train on 3 only)."""


class DigitPositions(nn.Module):
    """Token embedding times ``sqrt(d_model)`` plus a sinusoidal code of each token's digit
    position (see the module docstring); other tokens get the code of position ``TABLE - 1``.

    Shapes: ``(B, T)`` token ids -> ``(B, T, d_model)``.
    """

    def __init__(self, token: nn.Embedding, vocabulary: tasks.Vocabulary, source: bool) -> None:
        super().__init__()
        self.token = token
        self.d_model = token.embedding_dim
        self.source = source
        digits = [vocabulary.id_of(d) for d in tasks.DIGITS]
        self.low, self.high = min(digits), max(digits)
        self.register_buffer("table", positional.sinusoidal_encoding(TABLE, self.d_model))
        self.offset: torch.Tensor | None = None

    def positions(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` position ids: significance in the source, index in the target."""
        is_digit = (tokens >= self.low) & (tokens <= self.high)
        if self.source:
            ids = torch.full_like(tokens, TABLE - 1)
            run = torch.zeros_like(tokens[:, 0])
            for t in reversed(range(tokens.shape[1])):
                run = torch.where(is_digit[:, t], run + 1, torch.zeros_like(run))
                ids[:, t] = torch.where(is_digit[:, t], run - 1, ids[:, t])
        else:
            ids = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens).clone()
        if self.training:
            # One offset per example, shared by its source and target (set by the caller).
            assert self.offset is not None
            ids = torch.where(ids == TABLE - 1, ids, ids + self.offset[: tokens.shape[0], None])
        return ids

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.token(tokens) * math.sqrt(self.d_model) + self.table[self.positions(tokens)]


def draw_offsets(model: nn.Module, offsets: bool) -> None:
    """Before each call of ``model`` (training calls it; greedy decoding calls its parts), draw
    one offset per example (0 without ``offsets``) for its source and target positions."""

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        source = inputs[0]
        high = MAX_OFFSET + 1 if offsets else 1
        offset = torch.randint(0, high, (source.shape[0],), device=source.device)
        module.encoder.embeddings.offset = offset
        module.decoder.embeddings.offset = offset

    model.register_forward_pre_hook(hook)


def mixed_widths(rng: random.Random) -> tasks.Example:
    """An addition example whose operands both have 1, 2 or 3 digits."""
    digits = rng.randint(*WIDTHS)
    top = 10**digits - 1
    return tasks.addition_example(rng.randint(0, top), rng.randint(0, top), digits)


LENGTHS = (1, 2, 3, 4, 5, 6)
FROZEN = {3: "addition", 4: "addition-4digits", 5: "addition-5digits"}
"""Operand lengths with a frozen set in ``datasets/``, and its name."""
FIGURE_TRIALS = (
    "baseline",
    "reverse",
    "reverse+digit-positions+offsets",
    "reverse+digit-positions+offsets+widths",
)
"""The trials the figure draws: no lever, then the levers added in three steps."""
LABELS = {
    "baseline": "baseline (no lever)",
    "reverse+digit-positions+offsets+widths": "reverse+digit-positions+offsets+widths (all four)",
}
"""Legend labels where the trial's name alone says too little."""
GENERATED_SEED = 1600
GENERATED_COUNT = 1000
RESULTS = ROOT / "benchmarks" / "results" / "length.json"
FIGURE = ROOT / "docs" / "figures" / "part9-length.png"


def generated_set(digits: int) -> list[tasks.Example]:
    """Distinct sums of two ``digits``-digit operands (every one when there are fewer than
    ``GENERATED_COUNT``), drawn with ``random.Random(GENERATED_SEED + digits)``."""
    top = 10**digits - 1
    count = min(GENERATED_COUNT, (top + 1) ** 2)
    generate = tasks.addition_generator(digits, top)
    return tasks.draw_distinct(generate, count, GENERATED_SEED + digits)


def length_set(digits: int) -> tuple[str, list[tasks.Example]]:
    """The examples scored at operand length ``digits`` and where they come from."""
    if digits in FROZEN:
        return f"frozen {FROZEN[digits]}", tasks.load_eval_set(FROZEN[digits])
    return f"generated, seed {GENERATED_SEED + digits}", generated_set(digits)


def trial(name: str, steps: int, seed: int) -> dict[str, object]:
    """Train the model of trial ``name`` for ``steps`` steps and score it at every length."""
    task = tasks.make_task("addition", reverse="reverse" in name)
    if "widths" in name:
        task = dataclasses.replace(task, generate=mixed_widths)
    torch.manual_seed(seed)
    model = training.build_model(task)
    if "digit-positions" in name:
        for part, source in ((model.encoder, True), (model.decoder, False)):
            part.embeddings = DigitPositions(part.embeddings.token, task.vocabulary, source)
        draw_offsets(model, offsets="offsets" in name)
    settings = training.settings_for(
        "addition", steps=steps, seed=seed, eval_every=0, precision="float32"
    )
    started = time.perf_counter()
    history = training.train(model, task, settings, progress=False)
    seconds = time.perf_counter() - started
    result: dict[str, object] = {"trial": name, "seed": seed, "steps": steps}
    result["train_seconds"] = round(history.train_seconds, 1)
    result["wall_seconds"] = round(seconds, 1)
    result["lengths"] = [score(model, task, digits) for digits in LENGTHS]
    return result


def score(model: nn.Module, task: tasks.Task, digits: int) -> dict[str, object]:
    """Greedy exact match, per-digit accuracy and the share of answers of the right length
    (as many digits as the sum) on the sums of ``digits``-digit operands."""
    origin, examples = length_set(digits)
    expected = [target for _, target in examples]
    # Room for two digits more than the longest sum, as training.evaluate gives.
    longest = max(map(len, expected)) + 2
    predicted = training.predict(model, task, [source for source, _ in examples], "cpu", longest)
    right_length = sum(len(p) == len(e) for p, e in zip(predicted, expected, strict=True))
    scores = {
        "exact_match": tasks.exact_match(predicted, expected),
        "digit_accuracy": tasks.digit_accuracy(predicted, expected),
        "right_length": right_length / len(expected),
    }
    row = {"digits": digits, "set": origin, "examples": len(examples)}
    return row | {name: round(value, 3) for name, value in scores.items()}


def recipe_seconds(seed: int) -> dict[str, object]:
    """Train the course's 3-digit ``addition`` recipe to 99% as ``make bench-tasks`` does:
    its steps and training seconds."""
    timed = bench_tasks.run("addition", seed)
    return {"steps": timed["steps"], "train_seconds": round(float(timed["seconds"]), 1)}


def side_by_side(name: str, steps: int, seed: int) -> dict[str, object]:
    """:func:`trial` between two timings of the course's recipe, and the ratio of times."""
    before = recipe_seconds(seed)
    result = trial(name, steps, seed)
    after = recipe_seconds(seed)
    recipe = (before["train_seconds"] + after["train_seconds"]) / 2
    result["recipe"] = {"before": before, "after": after}
    result["ratio_to_recipe"] = round(float(result["train_seconds"]) / recipe, 2)
    return result


def machine() -> dict[str, object]:
    """When and under what load a result was measured (the load average when the trial ended)."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def collect(paths: list[Path]) -> dict[str, object]:
    """The figure's data from trial results written by ``--out``: per trial and seed, exact
    match and per-digit accuracy at each length (and the recipe ratio when measured)."""
    trials = []
    for path in paths:
        result = json.loads(path.read_text(encoding="utf-8"))
        kept = {k: result[k] for k in ("trial", "seed", "steps", "train_seconds", "machine")}
        kept["lengths"] = [
            {k: row[k] for k in ("digits", "exact_match", "digit_accuracy", "right_length")}
            for row in result["lengths"]
        ]
        for key in ("recipe", "ratio_to_recipe"):
            if key in result:
                kept[key] = result[key]
        trials.append(kept)
    order = {name: index for index, name in enumerate(TRIALS)}
    trials.sort(key=lambda t: (order[t["trial"]], t["seed"]))
    return {"lengths": list(LENGTHS), "trials": trials}


def draw_figure(data: dict, path: Path = FIGURE) -> Path:
    """Exact match and per-digit accuracy against operand length, one line per trial of
    ``FIGURE_TRIALS`` (seed 0), the lengths trained on shaded. Lines that coincide (several
    trials at 0) stay visible through their markers, drawn smaller for each later trial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [t for t in data["trials"] if t["seed"] == 0 and t["trial"] in FIGURE_TRIALS]
    runs.sort(key=lambda t: FIGURE_TRIALS.index(t["trial"]))
    figure, panels = plt.subplots(1, 2, figsize=(10, 4.4), sharey=True)
    styles = ("-", "--", ":", "-", "-.", "--")
    markers = "osD^vP"
    low, high = WIDTHS
    for panel, metric, label in (
        (panels[0], "exact_match", "exact match (whole sum right)"),
        (panels[1], "digit_accuracy", "per-digit accuracy"),
    ):
        panel.axvspan(low - 0.5, high + 0.5, color="0.93", zorder=0)
        panel.axvspan(high - 0.5, high + 0.5, color="0.84", zorder=0)
        for index, run in enumerate(runs):
            panel.plot(
                [row["digits"] for row in run["lengths"]],
                [row[metric] for row in run["lengths"]],
                linestyle=styles[index % len(styles)],
                marker=markers[index % len(markers)],
                markersize=9 - 1.5 * index,
                linewidth=2,
                label=LABELS.get(run["trial"], run["trial"]),
            )
        panel.set_xticks(data["lengths"])
        panel.set_xlim(min(data["lengths"]) - 0.5, max(data["lengths"]) + 0.5)
        panel.set_ylim(-0.04, 1.04)
        panel.set_xlabel("digits per operand")
        panel.set_title(label, fontsize=10)
        panel.grid(alpha=0.3)
    panels[0].set_ylabel("score on test sums (greedy decoding)")
    panels[0].text(high, 0.5, "every\ntrial\ntrains\nhere", ha="center", size=8, color="0.3")
    panels[0].text(1.5, 0.5, "widths\nalso\ntrains\nhere", ha="center", size=8, color="0.3")
    figure.suptitle("Addition beyond the training lengths (seed 0, 1,500 steps)")
    handles, labels = panels[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=2, fontsize=9, frameon=False)
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trial", choices=TRIALS, default=TRIALS[-1])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the result to this JSON file")
    parser.add_argument(
        "--recipe", action="store_true", help="time the course's recipe before and after"
    )
    parser.add_argument(
        "--collect", type=Path, nargs="+", help=f"write these --out files into {RESULTS.name}"
    )
    parser.add_argument("--figure", action="store_true", help=f"draw {FIGURE.name}")
    args = parser.parse_args()
    if args.collect or args.figure:
        if args.collect:
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(collect(args.collect), indent=1) + "\n")
            print(f"written {RESULTS.relative_to(ROOT)}")
        if args.figure:
            data = json.loads(RESULTS.read_text(encoding="utf-8"))
            print(f"drawn {draw_figure(data).relative_to(ROOT)}")
        return
    torch.set_num_threads(args.threads)
    run = side_by_side if args.recipe else trial
    result = run(args.trial, args.steps, args.seed)
    result["machine"] = machine()
    print(json.dumps(result), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
