"""Commands of part 9's tasks: regenerate or verify the frozen datasets, train a task.

The work is the given code of part 9 (``solutions/tasks.py``, ``solutions/training.py``);
the recipe of each task is data in ``recipes/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.core.paths import ROOT


def _datasets(arguments: argparse.Namespace) -> int:
    from solutions import tasks

    for path in tasks.write_datasets():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


def _check_datasets(arguments: argparse.Namespace) -> int:
    from solutions import tasks

    problems = tasks.verify_datasets()
    print("\n".join(problems) or "datasets match the manifest")
    return 1 if problems else 0


def _train(arguments: argparse.Namespace) -> int:
    from autograder.apps import UsageError
    from solutions import training

    try:
        training.available_device(arguments.device)
    except ValueError as error:
        raise UsageError(str(error)) from None
    training.run_task(
        arguments.task,
        steps=arguments.steps,
        device=arguments.device,
        seed=arguments.seed,
        reverse=arguments.reverse,
        out=arguments.out,
        progress=not arguments.no_progress,
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    from solutions.tasks import TASK_NAMES

    commands.add_parser("datasets", help="regenerate datasets/ and its manifest").set_defaults(
        run=_datasets
    )
    commands.add_parser(
        "check-datasets", help="verify datasets/ against its manifest"
    ).set_defaults(run=_check_datasets)
    train = commands.add_parser("train", help="train a model on a task of part 9, evaluate it")
    train.add_argument("task", choices=TASK_NAMES)
    train.add_argument("--steps", type=int, default=None, help="training steps (the recipe's)")
    train.add_argument("--device", default="cpu")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--reverse", action="store_true", help="addition: sum least-significant first"
    )
    train.add_argument(
        "--out", type=Path, default=ROOT / "runs", help="checkpoints and plots go here"
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)
