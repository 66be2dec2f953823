"""Time to 99% exact match on each task's frozen held-out set (``make bench-tasks``).

Each run trains the solution's Transformer with the course's settings
(``recipes/<task>.toml``), evaluates on the whole held-out set every few steps with
greedy decoding, and stops at the first evaluation at or above 99% exact match. The time is
the wall-clock time of the training steps only (evaluations are not counted), with
``torch.set_num_threads(2)`` unless ``--threads`` says otherwise, each run in a fresh
Python process. The table printed at the end is what ``docs/benchmarks.md`` records.

    python -m benchmarks.tasks                       # all six tasks, seed 0
    python -m benchmarks.tasks --tasks parser-textbook copy --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from benchmarks import commit, publish
from solutions import recipes, tasks, training

ROOT = Path(__file__).resolve().parent.parent

# The textbook definitions first: their budgets are a fifth of the textbook code's times.
ORDER = ("copy-textbook", "addition-textbook", "parser-textbook", "copy", "addition", "parser")
BENCHMARKS = tuple(sorted(tasks.TASK_NAMES, key=lambda n: (*ORDER, n).index(n)))
"""Every task with a recipe; each recipe's [benchmark] gives its budget and interval."""


def run(name: str, seed: int) -> dict[str, object]:
    """Train ``name`` with ``seed`` until 99% exact match (or the step limit)."""
    benchmark = recipes.load(name).benchmark
    budget, every = float(benchmark["budget_s"]), int(benchmark["eval_every"])
    task = tasks.make_task(name)
    settings = training.settings_for(
        name, seed=seed, eval_every=every, eval_size=10**9, stop_at=0.99
    )
    torch.manual_seed(seed)
    model = training.build_model(task)
    started = time.perf_counter()
    history = training.train(model, task, settings, progress=False)
    wall = time.perf_counter() - started
    final = history.evaluations[-1]
    result: dict[str, object] = {
        "task": name,
        "seed": seed,
        "steps": final["step"],
        "seconds": final["train_seconds"],
        "wall": wall,
        "exact_match": final["exact_match"],
        "budget": budget,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    if name == "addition":
        # Length generalisation: a model trained on 3 digits, asked about 4 and 5.
        for digits in (4, 5):
            examples = tasks.load_eval_set(f"addition-{digits}digits")
            scores = training.evaluate(model, task, examples)
            result[f"{digits}-digit"] = (
                f"{scores['exact_match']:.3f} exact, {scores['digit_accuracy']:.3f} per digit"
            )
    return result


def run_in_own_process(name: str, seed: int, threads: int) -> dict[str, object]:
    """:func:`run` in a fresh Python process, so that no run starts with what an earlier one
    left behind (allocator caches, loaded data, threads)."""
    command = [sys.executable, "-m", "benchmarks.tasks", "--threads", str(threads)]
    command += ["--one", name, str(seed)]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(f"{name} seed {seed} failed:\n{finished.stderr}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=tuple(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--one", nargs=2, metavar=("TASK", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(run(args.one[0], int(args.one[1]))))
        return
    results = []
    for name in args.tasks:
        for seed in args.seeds:
            result = run_in_own_process(name, seed, args.threads)
            results.append(result)
            extra = ""
            if "4-digit" in result:
                extra = f"; 4 digits: {result['4-digit']}; 5 digits: {result['5-digit']}"
            print(
                f"{name} seed {seed}: {result['exact_match']:.3f} exact match after "
                f"{result['steps']} steps, {result['seconds']:.1f} s of training "
                f"(budget {result['budget']:g} s){extra}",
                flush=True,
            )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {stamp}, commit {commit()}, {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads.",
        "",
        "| task | seed | parameters | steps | training time | exact match | budget | within |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        within = "yes" if r["exact_match"] >= 0.99 and r["seconds"] <= r["budget"] else "NO"
        lines.append(
            f"| {r['task']} | {r['seed']} | {r['parameters']:,} | {r['steps']} | "
            f"{r['seconds']:.1f} s | {r['exact_match']:.3f} | {r['budget']:g} s | {within} |"
        )
    for r in results:
        for digits in (4, 5):
            if f"{digits}-digit" in r:
                lines.append(
                    f"\n{r['task']} seed {r['seed']} on {digits}-digit operands: "
                    f"{r[f'{digits}-digit']}"
                )
    publish("\n".join(lines), "bench-tasks")


if __name__ == "__main__":
    main()
