"""Grade many submissions in parallel: one results.json each, a CSV of points, a summary.

``python -m autograder batch SUBMISSIONS_DIR --out grades.csv --jobs N`` grades every
folder, zip, module or notebook directly in ``SUBMISSIONS_DIR`` (named after the student).

A batch never loses a row: each submission is graded by its own process (``python -m
autograder grade``), so one that crashes, hangs or exhausts that process costs only its own
row, which says why. Rows are named after the entries themselves (``alice`` and
``alice.zip`` are two rows). A submission is graded again unless its results hold the same
*graded content* (the module files :func:`~autograder.grader.submission.prepare` reads out
of it, and what it says was wrong) and the same grader (its code, checks, reference and
rubric) and parts.
"""

from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from statistics import mean
from typing import Any

from tqdm import tqdm

from autograder.core.paths import ROOT
from autograder.core.rubric import Rubric, load_rubric
from autograder.grader import speedrun
from autograder.grader.grade import BUDGET_S
from autograder.grader.limits import default_lanes, default_spin_s
from autograder.grader.submission import prepare

SUFFIXES = (".zip", ".py", ".ipynb")
GRADER_SOURCES = (
    "autograder",
    "solutions",
    "tests/checks",
    "tests/hidden",
    "tests/probes",
    "assignments",
)


def _frame(digest: Any, data: bytes) -> None:
    """Length, then bytes: no two different sequences of parts hash alike."""
    digest.update(len(data).to_bytes(8, "little"))
    digest.update(data)


def content_hash(submission: Path, rubric: Rubric | None = None) -> str:
    """SHA-256 of what grading ``submission`` reads: its module files and its problems."""
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="hash-") as scratch:
        try:
            prepared = prepare(submission, Path(scratch), rubric or load_rubric())
        except Exception as error:
            _frame(digest, f"unreadable: {type(error).__name__}: {error}".encode())
            return digest.hexdigest()
        for path in sorted(prepared.folder.iterdir()):
            _frame(digest, path.name.encode())
            _frame(digest, path.read_bytes())
        for problem in prepared.problems:
            _frame(digest, problem.encode())
    return digest.hexdigest()


@cache
def grader_version() -> str:
    """SHA-256 of the grader's own code, checks, probes, reference, stubs and rubric (and the
    probes' expected outcomes: a new diagnosis changes what results say; and the task
    recipes, which the speedrun's training fills in)."""
    digest = hashlib.sha256()
    expected = ROOT / "tests" / "probes" / "expected.json"
    recipes = sorted((ROOT / "recipes").glob("*.toml"))
    files = [ROOT / "rubric.toml", *([expected] if expected.is_file() else []), *recipes]
    for folder in GRADER_SOURCES:
        files += sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)
    for path in files:
        _frame(digest, str(path.relative_to(ROOT)).encode())
        _frame(digest, path.read_bytes())
    return digest.hexdigest()[:16]


def find_submissions(folder: Path) -> list[Path]:
    """The folders and zip, module and notebook files directly inside ``folder``, by name."""
    return sorted(
        p
        for p in folder.iterdir()
        if not p.name.startswith(".")
        and not p.is_symlink()
        and (p.is_dir() or (p.is_file() and p.suffix in SUFFIXES))
    )


def _key(content: str, parts: list[int] | None) -> dict[str, Any]:
    return {"content_hash": content, "grader": grader_version(), "parts": parts}


def _already_graded(path: Path, key: dict[str, Any]) -> bool:
    """Whether ``path`` holds results of this very content, grader and parts."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))["extra_data"]
        return all(recorded.get(name) == value for name, value in key.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _failed(reason: str, key: dict[str, Any]) -> dict[str, Any]:
    return {"score": 0.0, "output": reason, "tests": [], "extra_data": {**key, "failed": reason}}


def _grade_one(
    submission: Path,
    destination: Path,
    key: dict[str, Any],
    timeout: float,
    spin_s: float,
    lanes: int = 1,
) -> None:
    """Grade ``submission`` in its own process into ``destination``; always writes it."""
    command = [sys.executable, "-m", "autograder", "grade", str(submission)]
    command += ["--out", str(destination), "--spin-ms", f"{spin_s * 1000:g}"]
    command += ["--lanes", str(lanes)]
    if key["parts"]:
        command += ["--parts", *map(str, key["parts"])]
    destination.unlink(missing_ok=True)
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        _, errors = process.communicate(timeout=timeout)
        reason = f"the grading process ended with code {process.returncode}"
        tail = errors.decode("utf-8", "replace").strip().splitlines()[-1:] if errors else []
        reason += f": {tail[0][:300]}" if tail else ""
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        reason = f"grading took longer than {timeout:g} s and was stopped"
    try:
        data = json.loads(destination.read_text(encoding="utf-8"))
        data["extra_data"] = {**data.get("extra_data", {}), **key}
    except (OSError, ValueError):
        data = _failed(reason, key)
    destination.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@dataclass
class Graded:
    """One submission's results, read back from its results.json."""

    name: str
    data: dict[str, Any]

    @property
    def failed(self) -> str:
        """Why the submission could not be graded ("" when it was)."""
        return str(self.data.get("extra_data", {}).get("failed", ""))

    def part_points(self) -> dict[int, float]:
        points: Counter[int] = Counter()
        for test in self.data.get("tests", []):
            part = test.get("extra_data", {}).get("part")
            if isinstance(part, int):
                points[part] += float(test.get("score", 0.0))
        return dict(points)


def run_batch(
    folder: Path,
    out_csv: Path,
    jobs: int = 1,
    results_dir: Path | None = None,
    parts: Iterable[int] | None = None,
    progress: bool = True,
    timeout: float = BUDGET_S + 120,
    lanes: int | None = None,
) -> list[Graded]:
    """Grade every submission of ``folder`` (skipping unchanged ones) and write the CSV.

    Args:
        folder: one entry per student.
        out_csv: the CSV of points per part.
        jobs: submissions graded at once.
        results_dir: where each ``<entry>.json`` goes (``results/`` beside the CSV).
        parts: the parts to grade (all when None).
        progress: show a progress bar.
        timeout: seconds one submission's process may take before it is stopped.
        lanes: grader processes each grade uses at once (None: one per CPU it has, at
            most two; see :func:`~autograder.grader.limits.default_lanes`).
    """
    rubric = load_rubric()
    results_dir = results_dir or out_csv.parent / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    chosen = sorted(parts) if parts else None
    submissions = find_submissions(folder)
    keys = {s.name: _key(content_hash(s, rubric), chosen) for s in submissions}
    todo = [
        s for s in submissions if not _already_graded(results_dir / f"{s.name}.json", keys[s.name])
    ]
    # Each grade gets its share of the cores: lanes only where it has two, and polling only
    # where each of its processes (a grader and a worker per lane) has one.
    lanes = max(1, lanes) if lanes is not None else default_lanes(graders=max(1, jobs))
    spin_s = default_spin_s(graders=max(1, jobs) * lanes)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [
            pool.submit(
                _grade_one,
                s,
                results_dir / f"{s.name}.json",
                keys[s.name],
                timeout,
                spin_s,
                lanes,
            )
            for s in todo
        ]
        bar = tqdm(
            concurrent.futures.as_completed(futures),
            total=len(futures),
            desc=f"grading ({len(submissions) - len(todo)} unchanged, skipped)",
            unit="submission",
            disable=not progress,
        )
        for future in bar:
            future.result()
    graded = []
    for submission in submissions:
        path = results_dir / f"{submission.name}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            data = _failed(f"its results could not be read: {error}", keys[submission.name])
        graded.append(Graded(submission.name, data))
    write_csv(graded, out_csv, rubric)
    return graded


def write_csv(graded: list[Graded], out_csv: Path, rubric: Rubric) -> None:
    """One row per submission: total, the points of every part, why if it failed, and the
    part 9 speedrun's medians (:data:`~autograder.grader.speedrun.CSV_HEADER`)."""
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["submission", "total", *(f"part{n}" for n in rubric.parts), "problem"]
        writer.writerow([*header, *speedrun.CSV_HEADER])
        for entry in graded:
            points = entry.part_points()
            writer.writerow(
                [entry.name, f"{float(entry.data.get('score', 0.0)):g}"]
                + [f"{points.get(n, 0):g}" for n in rubric.parts]
                + [entry.failed]
                + speedrun.csv_fields(entry.data)
            )


def summary(graded: list[Graded], rubric: Rubric) -> list[str]:
    """Mean and distribution per part, the checks failed most often, the failed gradings."""
    if not graded:
        return ["no submissions"]
    totals = [float(g.data.get("score", 0.0)) for g in graded]
    lines = [f"{len(graded)} submissions, mean total {mean(totals):.2f}"]
    graded_parts = set().union(*(g.part_points() for g in graded))
    for number, part in rubric.parts.items():
        if number not in graded_parts:
            continue
        available = rubric.points(number)
        scores = [g.part_points().get(number, 0.0) for g in graded]
        full = sum(s >= available for s in scores)
        zero = sum(s == 0 for s in scores)
        lines.append(
            f"part {number} {part.module:<18} mean {mean(scores):5.2f} / {available:g}   "
            f"full {full}, partial {len(scores) - full - zero}, zero {zero}"
        )
    failures: Counter[str] = Counter()
    for entry in graded:
        for test in entry.data.get("tests", []):
            check = test.get("extra_data", {}).get("check")
            if test.get("status") == "failed" and check:
                failures[f"part {test['extra_data'].get('part')} · {check}"] += 1
    if failures:
        lines.append("checks failed most often:")
        lines += [f"  {count:>4}  {name}" for name, count in failures.most_common(5)]
    broken = [g for g in graded if g.failed]
    if broken:
        lines.append(f"{len(broken)} submissions could not be graded (the CSV says why):")
        lines += [f"  {g.name}: {g.failed}" for g in broken[:10]]
    return lines
