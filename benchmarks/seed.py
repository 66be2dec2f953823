"""The course's code against the textbook's own code, side by side (``make bench-seed``).

The textbook's package (``dldna==0.1.6``, the chapter 8 code) is installed from the package
index into its own virtual environment, ``build/textbook-venv``, without the package's long
list of dependencies: chapter 8 imports only torch, NumPy, matplotlib and seaborn. torch,
NumPy and matplotlib are the course's own (a ``.pth`` file points at the course's
environment), so both codes run on the very same torch build; seaborn is installed there.

Then, seed by seed and task by task, each run in a fresh process with one torch thread:

- the textbook's code trains its copy, addition or parser task with its own settings
  (``benchmarks/textbook_run.py``: its model, data, loss, Adam with lr 1e-4) until greedy
  exact match on 1,000 held-out examples reaches 99%;
- the course's code trains the same task as the textbook defines it (``copy-textbook``,
  ``addition-textbook``, ``parser-textbook``; ``benchmarks/tasks.py``) until 99% on its
  frozen held-out set.

Both times count training steps only, not evaluations. The two runs of a pair follow each
other, so that whatever else loads the machine weighs on both alike: the speed-up is the
ratio of the two times, measured in the same minute.

    python -m benchmarks.seed                          # every task, seeds 0 1 2
    python -m benchmarks.seed --tasks parser --seeds 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import sysconfig
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import commit, publish
from benchmarks.tasks import run_in_own_process

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "build" / "textbook-venv"
PACKAGE = "dldna==0.1.6"
EXTRA = ("seaborn",)
"""What chapter 8 imports besides torch, NumPy and matplotlib (the course's own)."""
OURS = {"copy": "copy-textbook", "addition": "addition-textbook", "parser": "parser-textbook"}


def textbook_python() -> Path:
    """The textbook environment's Python, made on first use."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    if stamp.is_file():
        return python
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The course's torch, NumPy and matplotlib, so that both codes run on one torch build.
    Path(purelib, "course-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", PACKAGE], check=True)
    subprocess.run([*pip, *EXTRA], check=True)
    subprocess.run([str(python), "-c", "import dldna.chapter_08.transformer.examples.copy_task"])
    stamp.write_text(PACKAGE + "\n")
    return python


def textbook_run(task: str, seed: int) -> dict[str, object]:
    """One run of the textbook's code, in its environment's Python."""
    command = [str(textbook_python()), str(ROOT / "benchmarks" / "textbook_run.py")]
    command += [task, str(seed), "1"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    environment.pop("PYTHONPATH", None)
    finished = subprocess.run(
        command, cwd=VENV, capture_output=True, text=True, env=environment, check=False
    )
    if finished.returncode != 0:
        raise SystemExit(f"the textbook's {task} seed {seed} failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=tuple(OURS), default=list(OURS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args()
    textbook_python()
    rows = []
    for seed in args.seeds:
        for task in args.tasks:
            theirs = textbook_run(task, seed)
            ours = run_in_own_process(OURS[task], seed, threads=1)
            speedup = float(theirs["seconds"]) / float(ours["seconds"])
            rows.append((task, seed, theirs, ours, speedup))
            reached = "" if theirs["reached"] else " (did not reach 99%: a lower bound)"
            print(
                f"{task} seed {seed}: textbook {theirs['steps']} steps {theirs['seconds']:.1f} s "
                f"({theirs['exact_match']:.3f}); ours {ours['steps']} steps "
                f"{ours['seconds']:.1f} s ({ours['exact_match']:.3f}); speed-up "
                f"{speedup:.1f}x{reached}",
                flush=True,
            )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"Measured {stamp}, commit {commit()}, {platform.machine()}, one torch thread each, "
        f"load average at the end {load}.",
        "",
        "| task | seed | textbook steps | textbook time | course steps | course time | "
        "speed-up (time) | speed-up (steps) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, seed, theirs, ours, speedup in rows:
        bound = "" if theirs["reached"] else " (not reached)"
        lines.append(
            f"| {task} | {seed} | {theirs['steps']}{bound} | {theirs['seconds']:.1f} s | "
            f"{ours['steps']} | {ours['seconds']:.1f} s | {speedup:.1f}x | "
            f"{int(theirs['steps']) / int(ours['steps']):.1f}x |"
        )
    publish("\n".join(lines), "bench-seed")


if __name__ == "__main__":
    main()
