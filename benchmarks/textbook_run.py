"""One run of the textbook's own code to 99% exact match (run by ``benchmarks.seed``).

This file runs with the Python of the textbook's virtual environment (``build/textbook-venv``,
where ``dldna==0.1.6`` is installed) and imports only the textbook's package and torch: the
course's code is not on its path. It trains one of the chapter 8 tasks exactly as the book's
``train_*_task`` functions do (the book's model class and configuration, its data
generator, its loss, ``Adam(lr=1e-4, betas=(0.9, 0.98), eps=1e-9)``, dropout 0.1), and
every few steps decodes 1,000 held-out examples greedily the way the book's ``test_*``
functions do (a zero start token, ``argmax`` step by step). The run stops at the first
evaluation at or above 99% exact match, or after the book's own number of steps.

    build/textbook-venv/bin/python benchmarks/textbook_run.py copy 0

It prints one JSON line: steps, training seconds (evaluations not counted), exact match.
"""

from __future__ import annotations

import json
import random
import sys
import time

import numpy as np
import torch
from dldna.chapter_08.transformer.config import TransformerConfig
from dldna.chapter_08.transformer.examples import addition_task, copy_task, parser_task
from dldna.chapter_08.transformer.masking import create_pad_mask, create_subsequent_mask
from dldna.chapter_08.transformer.transformer import Transformer

TASKS = {
    # The chapter's settings: model sizes, batch size, its epochs x steps, evaluation interval.
    "copy": {
        "sizes": (20, 64, 2, 2, 128, 32),
        "batch": 40,
        "steps": 50 * 100,
        "every": 25,
        "data": lambda batch: copy_task.create_copy_data(batch, 20),
        "loss": copy_task.CopyLoss,
    },
    "addition": {
        "sizes": (11, 256, 3, 4, 512, 10),
        "batch": 128,
        "steps": 10 * 300,
        "every": 25,
        "data": lambda batch: addition_task.create_addition_data(batch, 3),
        "loss": addition_task.AdditionLoss,
    },
    "parser": {
        "sizes": (25, 128, 3, 4, 512, 10),
        "batch": 64,
        "steps": 6 * 100,
        "every": 5,
        "data": lambda batch: parser_task.create_parser_data(batch, 5),
        "loss": parser_task.ParserLoss,
    },
}
HELDOUT = 1000
HELDOUT_SEED = 12345


def config_of(sizes: tuple[int, ...]) -> TransformerConfig:
    """The book's configuration object with the chapter's sizes for a task."""
    config = TransformerConfig()
    vocab, hidden, layers, heads, d_ff, positions = sizes
    config.vocab_size = vocab
    config.hidden_size = hidden
    config.num_hidden_layers = layers
    config.num_attention_heads = heads
    config.intermediate_size = d_ff
    config.max_position_embeddings = positions
    return config


def seed_everything(seed: int) -> None:
    """The book's generators draw from torch and NumPy (the parser) at random."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def exact_match(model: Transformer, source: torch.Tensor, target: torch.Tensor) -> float:
    """Greedy decoding as the book's ``test_*`` functions do it, batched."""
    model.eval()
    source_mask = create_pad_mask(source)
    decoder_input = torch.zeros((source.size(0), 1), dtype=torch.long)
    for _ in range(target.size(1)):
        target_mask = create_subsequent_mask(decoder_input.size(1))
        output = model(source, decoder_input, source_mask, target_mask)
        decoder_input = torch.cat([decoder_input, output[:, -1:].argmax(dim=-1)], dim=1)
    model.train()
    return (decoder_input[:, 1:] == target).all(dim=1).float().mean().item()


def run(name: str, seed: int) -> dict[str, object]:
    spec = TASKS[name]
    seed_everything(HELDOUT_SEED)
    held_source, held_target = spec["data"](HELDOUT)
    seed_everything(seed)
    model = Transformer(config_of(spec["sizes"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    criterion = spec["loss"]()
    model.train()
    seconds, score, step = 0.0, 0.0, 0
    for step in range(1, spec["steps"] + 1):
        started = time.perf_counter()
        # The body of the book's training loop (copy_task.train_copy_task and the others).
        source, target = spec["data"](spec["batch"])
        decoder_input = torch.zeros((spec["batch"], 1), dtype=torch.long)
        decoder_input = torch.cat([decoder_input, target[:, :-1]], dim=1)
        source_mask = create_pad_mask(source)
        target_mask = create_subsequent_mask(decoder_input.size(1))
        optimizer.zero_grad()
        outputs = model(source, decoder_input, source_mask, target_mask)
        loss, _ = criterion(outputs, target)
        loss.backward()
        optimizer.step()
        seconds += time.perf_counter() - started
        if step % spec["every"] == 0 or step == spec["steps"]:
            score = exact_match(model, held_source, held_target)
            if score >= 0.99:
                break
    return {
        "task": name,
        "seed": seed,
        "steps": step,
        "seconds": seconds,
        "exact_match": score,
        "reached": score >= 0.99,
    }


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    print(json.dumps(run(sys.argv[1], int(sys.argv[2]))))
