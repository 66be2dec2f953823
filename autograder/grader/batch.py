"""Grade many submissions in parallel: one results.json each, a CSV of points, a summary.

``python -m autograder batch SUBMISSIONS_DIR --out grades.csv --jobs N`` grades every
folder or zip in ``SUBMISSIONS_DIR`` (named after the student). A submission whose content
hash matches the one recorded in its results.json is not graded again.
"""

from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import json
import multiprocessing
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from tqdm import tqdm

from autograder.core.rubric import Rubric, load_rubric


def content_hash(submission: Path) -> str:
    """SHA-256 of a zip's bytes, or of a folder's relative paths and file contents."""
    digest = hashlib.sha256()
    if submission.is_file():
        digest.update(submission.read_bytes())
        return digest.hexdigest()
    for path in sorted(p for p in submission.rglob("*") if p.is_file() and not p.is_symlink()):
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(submission)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def find_submissions(folder: Path) -> list[Path]:
    """The folders and zips directly inside ``folder``, by name."""
    return sorted(
        p
        for p in folder.iterdir()
        if (p.is_dir() and not p.name.startswith(".")) or p.suffix == ".zip"
    )


def _grade_one(submission: str, destination: str, parts: list[int] | None) -> str:
    """Grade in a child process and write ``destination``; returns its path."""
    from autograder.grader import grade, results

    report = grade.grade(Path(submission), parts=parts, hide=(Path(destination).parent,))
    data = results.gradescope(report)
    data["extra_data"] = {"content_hash": content_hash(Path(submission)), "parts": parts}
    Path(destination).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return destination


def _already_graded(path: Path, submission: Path, parts: list[int] | None) -> bool:
    """Whether ``path`` holds results of this very content, graded on the same parts."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))["extra_data"]
        return recorded["content_hash"] == content_hash(submission) and recorded["parts"] == parts
    except (OSError, ValueError, KeyError, TypeError):
        return False


@dataclass
class Graded:
    """One submission's results, read back from its results.json."""

    name: str
    data: dict[str, Any]

    def part_points(self) -> dict[int, float]:
        points: Counter[int] = Counter()
        for test in self.data["tests"]:
            points[int(test["number"].split(".")[0])] += test["score"]
        return dict(points)


def run_batch(
    folder: Path,
    out_csv: Path,
    jobs: int = 1,
    results_dir: Path | None = None,
    parts: Iterable[int] | None = None,
    progress: bool = True,
) -> list[Graded]:
    """Grade every submission of ``folder`` (skipping unchanged ones) and write the CSV."""
    results_dir = results_dir or out_csv.parent / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    chosen = list(parts) if parts else None
    submissions = find_submissions(folder)
    todo = [
        s for s in submissions if not _already_graded(results_dir / f"{s.stem}.json", s, chosen)
    ]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [
            pool.submit(_grade_one, str(s), str(results_dir / f"{s.stem}.json"), chosen)
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
    graded = [
        Graded(s.stem, json.loads((results_dir / f"{s.stem}.json").read_text(encoding="utf-8")))
        for s in submissions
    ]
    write_csv(graded, out_csv, load_rubric())
    return graded


def write_csv(graded: list[Graded], out_csv: Path, rubric: Rubric) -> None:
    """One row per submission: total, then the points of every part."""
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "total", *(f"part{n}" for n in rubric.parts)])
        for entry in graded:
            points = entry.part_points()
            writer.writerow(
                [entry.name, f"{entry.data['score']:g}"]
                + [f"{points.get(n, 0):g}" for n in rubric.parts]
            )


def summary(graded: list[Graded], rubric: Rubric) -> list[str]:
    """Mean and distribution per part, and the checks failed most often."""
    if not graded:
        return ["no submissions"]
    lines = [f"{len(graded)} submissions, mean total {mean(g.data['score'] for g in graded):.2f}"]
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
        for test in entry.data["tests"]:
            if test["status"] == "failed":
                failures[test["name"].split(":")[0]] += 1
    if failures:
        lines.append("checks failed most often:")
        lines += [f"  {count:>4}  {name}" for name, count in failures.most_common(5)]
    return lines
