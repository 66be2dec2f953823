"""Plots of a training run, saved as PNG files (given code).

``plot_history`` draws the loss and the accuracies; ``plot_attention`` draws, for one
example, the attention weights of every layer: encoder self-attention, decoder
self-attention and cross-attention (decoder queries, encoder keys). The weights come from
the ``attention_weights`` that each ``MultiHeadAttention`` keeps after its forward pass.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, and safe in threads and on servers

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import LogFormatterSciNotation

if TYPE_CHECKING:
    from .training import History

from . import tasks


class _PlainLogFormatter(LogFormatterSciNotation):
    """Labels the ticks matplotlib would label on a log axis, as plain numbers (0.6, 3)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def plateau(
    steps: Sequence[int], losses: Sequence[float], level: float, tolerance: float = 0.03
) -> tuple[int, int] | None:
    """Where the loss rests on ``level`` before falling below it: the first and last step
    of the first run of at least 3 steps whose losses lie within ``tolerance`` (relative)
    of ``level`` and right after which the loss is lower; None when there is none.

    A loss that reaches ``level`` and stays there to the end is at a floor, not on a
    plateau, and gives None.
    """
    near = [abs(loss - level) <= tolerance * level for loss in losses]
    first = None
    for index, is_near in enumerate(near):
        if is_near and first is None:
            first = index
        elif not is_near and first is not None:
            if index - first >= 3 and losses[index] < level:
                return steps[first], steps[index - 1]
            first = None
    return None


def plot_history(
    history: History,
    path: str | Path,
    title: str = "",
    levels: Sequence[tuple[float, str]] = (),
    log_steps: bool = False,
) -> Path:
    """Loss (log scale) and token accuracy per step, and the held-out scores of each
    evaluation, side by side; returns the path written.

    ``levels`` are ``(loss, label)`` pairs drawn as dashed reference lines on the loss;
    where the loss rests on one before falling below it (:func:`plateau`), that stretch is
    shaded. ``log_steps`` puts the steps on a log scale, which widens the first steps.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(history.steps, history.losses, linewidth=0.8)
    left.set_yscale("log")
    # Plain numbers (0.6, 3) rather than powers of ten (6 x 10^-1) on the loss axis.
    left.yaxis.set_major_formatter(_PlainLogFormatter())
    left.yaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))
    left.set_xlabel("step")
    left.set_ylabel("training loss")
    left.set_title("loss")
    for number, (level, label) in enumerate(levels):
        color = f"C{number + 2}"  # C0 and C1 are the curves' colours
        left.axhline(level, color=color, linestyle="--", linewidth=1)
        # The label sits above its line at the end (left or right) where the curve is
        # farthest from the line.
        fifth = max(1, len(history.losses) // 5)
        ends = {0.0: history.losses[:fifth], 1.0: history.losses[-fifth:]}
        distance = {
            x: sum(abs(math.log(loss / level)) for loss in part) for x, part in ends.items()
        }
        x = max(distance, key=distance.__getitem__)
        left.annotate(
            label,
            (x, level),
            xycoords=("axes fraction", "data"),
            xytext=(4 - 8 * x, 3),
            textcoords="offset points",
            ha="right" if x else "left",
            va="bottom",
            fontsize=8,
            color=color,
        )
        rest = plateau(history.steps, history.losses, level)
        if rest is not None:
            left.axvspan(rest[0], rest[1], color=color, alpha=0.2)
            left.annotate(
                f"plateau, steps {rest[0]}-{rest[1]}",
                ((rest[0] * rest[1]) ** 0.5 if log_steps else (rest[0] + rest[1]) / 2, level),
                xytext=(0, -40),
                textcoords="offset points",
                ha="center",
                fontsize=8,
                arrowprops={"arrowstyle": "->", "color": color},
            )
    right.plot(
        history.steps, history.token_accuracies, linewidth=0.8, label="token accuracy (train)"
    )
    if history.evaluations:
        steps = [e["step"] for e in history.evaluations]
        # Markers show where the evaluations are while there are few of them.
        marker = "o" if len(steps) <= 20 else None
        for key in ("exact_match", "digit_accuracy", "well_formed"):
            if key in history.evaluations[0]:
                values = [e[key] for e in history.evaluations]
                right.plot(
                    steps, values, marker=marker, label=f"{key.replace('_', ' ')} (held-out)"
                )
    right.set_ylim(0, 1.02)
    right.set_xlabel("step")
    right.set_title("accuracy")
    # On a log scale of steps the accuracies are still low at the left.
    right.legend(loc="upper left" if log_steps else "lower right")
    if log_steps:
        for axis in (left, right):
            axis.set_xscale("log")
            axis.xaxis.set_major_formatter(_PlainLogFormatter())
            axis.set_xlabel("step (log scale)")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def attention_maps(model: torch.nn.Module) -> dict[str, list[torch.Tensor]]:
    """The attention weights kept by the model's attention modules after a forward pass,
    grouped as ``encoder self``, ``decoder self`` and ``cross``, one ``(B, h, T_q, T_k)``
    tensor per layer in order."""
    groups: dict[str, list[torch.Tensor]] = {"encoder self": [], "decoder self": [], "cross": []}
    for name, module in model.named_modules():
        weights = getattr(module, "attention_weights", None)
        if not isinstance(weights, torch.Tensor):
            continue
        if name.startswith("encoder"):
            groups["encoder self"].append(weights.detach().cpu())
        elif "cross" in name:
            groups["cross"].append(weights.detach().cpu())
        else:
            groups["decoder self"].append(weights.detach().cpu())
    return groups


@torch.no_grad()
def plot_attention(
    model: torch.nn.Module,
    task: tasks.Task,
    source: Sequence[str],
    path: str | Path,
    device: str | torch.device = "cpu",
) -> Path:
    """Heatmaps of every layer's attention (averaged over heads) for one source.

    The decoder reads the model's own greedy answer, so the maps show what the model does
    when it generates. Rows: encoder self-attention, decoder self-attention,
    cross-attention; columns: layers. Returns the path written.
    """
    from .training import predict

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    vocabulary = task.vocabulary
    answer = predict(model, task, [source], device)[0]
    _, target_ids = task.encode((tuple(source), answer))
    model.eval()
    src = torch.tensor([vocabulary.encode(source)], device=device)
    tgt = torch.tensor([target_ids[:-1]], device=device)
    model(src, tgt)
    source_labels = list(source)
    target_labels = [vocabulary.symbol_of(i) for i in target_ids[:-1]]
    groups = attention_maps(model)
    layers = max(len(maps) for maps in groups.values())
    if layers == 0:
        raise ValueError("the model's attention modules keep no attention_weights to plot")
    # Each map gets about a quarter inch per token, so that long sequences stay readable.
    side = max(3.2, 0.25 * max(len(source_labels), len(target_labels)) + 1.2)
    figure, axes = plt.subplots(
        3,
        layers,
        figsize=(side * layers + 1.2, 3 * side + 1.5),
        squeeze=False,
        layout="constrained",
    )
    names = {
        "encoder self": (
            ("source token (query)", source_labels),
            ("source token (key)", source_labels),
        ),
        "decoder self": (
            ("decoder input (query)", target_labels),
            ("decoder input (key)", target_labels),
        ),
        "cross": (("decoder input (query)", target_labels), ("source token (key)", source_labels)),
    }
    image = None
    for row, (kind, maps) in enumerate(groups.items()):
        for column in range(layers):
            axis = axes[row][column]
            if column >= len(maps):
                axis.axis("off")
                continue
            weights = maps[column][0].mean(0).float().numpy()
            image = axis.imshow(weights, vmin=0, vmax=1, cmap="viridis")
            (query_name, queries), (key_name, keys) = names[kind]
            axis.set_xticks(range(len(keys)), keys, fontsize=9)
            # Short tokens (digits, single symbols) fit upright under their column.
            for label in axis.get_xticklabels():
                label.set_rotation(0 if len(label.get_text()) <= 2 else 90)
            axis.set_yticks(range(len(queries)), queries, fontsize=9)
            axis.set_xlabel(key_name)
            axis.set_ylabel(query_name)
            axis.set_title(f"{kind}-attention, layer {column + 1}", fontsize=10)
    figure.colorbar(image, ax=axes, shrink=0.5, label="attention weight (mean over heads)")
    # The title wraps to the figure's width (about 9 characters per inch at this size).
    width = int(9 * figure.get_figwidth())
    lines = [
        f"{task.name}: attention of every layer, averaged over heads",
        *textwrap.wrap(f"source: {' '.join(source)}", width, subsequent_indent="  "),
        *textwrap.wrap(f"answer: {' '.join(answer) or '(empty)'}", width, subsequent_indent="  "),
    ]
    figure.suptitle("\n".join(lines))
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
