"""Length generalisation of addition: which levers carry a 3-digit model to 4 and 5 digits.

A trial trains the course's ``addition`` model (operands of 3 digits, the recipe's sizes and
settings) and scores it by greedy exact match on the frozen 3-, 4- and 5-digit sets
(``addition``, ``addition-4digits``, ``addition-5digits``). The levers:

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
    python -m benchmarks.length --trial reverse+digit-positions+offsets --steps 1500

This is a measurement harness: the course's model keeps its own positions; the trials swap
the model's embedding modules for :class:`DigitPositions` from the outside.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import time

import torch
from torch import nn

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
    digits = rng.randint(1, 3)
    top = 10**digits - 1
    return tasks.addition_example(rng.randint(0, top), rng.randint(0, top), digits)


def trial(name: str, steps: int, seed: int) -> dict[str, object]:
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
    for digits, heldout in ((3, "addition"), (4, "addition-4digits"), (5, "addition-5digits")):
        scores = training.evaluate(model, task, tasks.load_eval_set(heldout))
        result[f"{digits} digits"] = {k: round(v, 3) for k, v in scores.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trial", choices=TRIALS, default=TRIALS[-1])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps(trial(args.trial, args.steps, args.seed)), flush=True)


if __name__ == "__main__":
    main()
