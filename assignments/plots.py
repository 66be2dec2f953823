"""Plots of a training run, saved as PNG files (given code).

``plot_history`` draws the loss and the accuracies; ``plot_attention`` draws, for one
example, the attention weights of every layer: encoder self-attention, decoder
self-attention and cross-attention (decoder queries, encoder keys). The weights come from
the ``attention_weights`` that each ``MultiHeadAttention`` keeps after its forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, and safe in threads and on servers

import matplotlib.pyplot as plt
import torch

if TYPE_CHECKING:
    from .training import History

from . import tasks


def plot_history(history: History, path: str | Path, title: str = "") -> Path:
    """Loss (log scale) and token accuracy per step, and the held-out scores of each
    evaluation, side by side; returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(history.steps, history.losses, linewidth=0.8)
    left.set_yscale("log")
    left.set_xlabel("step")
    left.set_ylabel("training loss")
    left.set_title("loss")
    right.plot(
        history.steps, history.token_accuracies, linewidth=0.8, label="token accuracy (train)"
    )
    if history.evaluations:
        steps = [e["step"] for e in history.evaluations]
        for key in ("exact_match", "digit_accuracy", "well_formed"):
            if key in history.evaluations[0]:
                values = [e[key] for e in history.evaluations]
                right.plot(steps, values, marker="o", label=f"{key.replace('_', ' ')} (held-out)")
    right.set_ylim(0, 1.02)
    right.set_xlabel("step")
    right.set_title("accuracy")
    right.legend(loc="lower right")
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
    figure, axes = plt.subplots(
        3, layers, figsize=(3.2 * layers, 9), squeeze=False, constrained_layout=True
    )
    labels = {
        "encoder self": (source_labels, source_labels),
        "decoder self": (target_labels, target_labels),
        "cross": (target_labels, source_labels),
    }
    for row, (kind, maps) in enumerate(groups.items()):
        for column in range(layers):
            axis = axes[row][column]
            if column >= len(maps):
                axis.axis("off")
                continue
            weights = maps[column][0].mean(0).float().numpy()
            axis.imshow(weights, vmin=0, vmax=1, cmap="viridis")
            queries, keys = labels[kind]
            axis.set_xticks(range(len(keys)), keys, fontsize=7, rotation=90)
            axis.set_yticks(range(len(queries)), queries, fontsize=7)
            axis.set_title(f"{kind}, layer {column + 1}", fontsize=9)
    figure.suptitle(f"{task.name}: {' '.join(source)} -> {' '.join(answer)}")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
