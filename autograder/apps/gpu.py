"""``make gpu-check``: the solution's checks and a short training of each task on CUDA.

Run it on a machine with an NVIDIA GPU (``make gpu-check TORCH=system`` keeps that machine's
CUDA build of torch) and copy the report it writes into ``docs/gpu.md``.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import time
from pathlib import Path

import torch

from autograder.core.paths import ROOT

OUT = ROOT / "build" / "gpu-check"
TASKS = ("copy", "addition", "parser")
TRAINING_STEPS = 300


def _run(command: list[str], log: Path) -> tuple[int, float]:
    start = time.perf_counter()
    with log.open("w") as handle:
        code = subprocess.call(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
    return code, time.perf_counter() - start


def _tail(log: Path, lines: int = 12) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def main() -> int:
    if not torch.cuda.is_available():
        print(
            "gpu-check needs a CUDA device, and torch sees none "
            f"(torch {torch.__version__}, torch.cuda.is_available() is False).\n"
            "Run it on a GPU machine: `make gpu-check TORCH=system` there keeps its CUDA torch."
        )
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name(0)
    report = [
        f"# gpu-check, {datetime.date.today().isoformat()}",
        "",
        f"- device: {name}",
        f"- torch {torch.__version__}, CUDA {torch.version.cuda}",
        "",
    ]
    checks_log = OUT / "checks.log"
    code, seconds = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/checks",
            "tests/hidden",
            "--impl",
            "solutions",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        checks_log,
    )
    report += [
        f"## Solution checks on cpu and cuda: exit {code}, {seconds:.0f} s",
        "",
        "```",
        _tail(checks_log),
        "```",
        "",
    ]
    failures = int(code != 0)
    for task in TASKS:
        log = OUT / f"train-{task}.log"
        code, seconds = _run(
            [
                sys.executable,
                "-m",
                "autograder",
                "train",
                task,
                "--steps",
                str(TRAINING_STEPS),
                "--device",
                "cuda",
                "--no-progress",
                "--out",
                str(OUT / "runs"),
            ],
            log,
        )
        failures += int(code != 0)
        report += [
            f"## Training {task} for {TRAINING_STEPS} steps on cuda: exit {code}, {seconds:.0f} s",
            "",
            "```",
            _tail(log, 6),
            "```",
            "",
        ]
    (OUT / "report.md").write_text("\n".join(report))
    print("\n".join(report))
    print(f"report written to {OUT / 'report.md'}: copy it into docs/gpu.md")
    return 1 if failures else 0


def register(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "gpu-check", help="the solution checks and a short training of each task on CUDA"
    ).set_defaults(run=lambda arguments: main())
