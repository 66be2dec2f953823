"""``make demo``: the whole course pipeline on this machine, in a few minutes.

It regenerates the stubs, builds the nbgrader release and the student bundle, grades the
reference and the blank submission through the isolated grader and through nbgrader, trains
the copy task briefly, and ends with a table of points per part and the paths it wrote.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

from autograder.build import bundle, stubs
from autograder.build import nbgrader_course as notebooks
from autograder.core.paths import ROOT
from autograder.core.rubric import Rubric, load_rubric
from autograder.grader import batch
from autograder.nbgrader import autograde, exchange, grades, release
from autograder.nbgrader.course_dir import assignments, install_kernel

OUT = ROOT / "build" / "demo"
COPY_STEPS = 300


class Steps:
    """Numbered progress lines with the time each step took."""

    def __init__(self, total: int) -> None:
        self.total, self.number, self.start = total, 0, time.perf_counter()

    def __call__(self, title: str) -> None:
        self.number += 1
        elapsed = time.perf_counter() - self.start
        print(f"\n== [{self.number}/{self.total}] {title} (at {elapsed:.0f} s)", flush=True)


def grader_scores(folder: Path) -> dict[str, dict[int, float]]:
    """The isolated grader's points per part for the reference and the blank submission."""
    submissions = folder / "submissions"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "solutions", submissions / "reference", ignore=ignore)
    shutil.copytree(ROOT / "assignments", submissions / "blank", ignore=ignore)
    graded = batch.run_batch(submissions, folder / "grades.csv", jobs=2)
    return {entry.name: entry.part_points() for entry in graded}


def nbgrader_scores(course_dir: Path) -> dict[str, dict[int, float]]:
    """Submit the filled-in and the untouched release for every part; autograde both."""
    for assignment in assignments(course_dir, "release"):
        for source in (course_dir / "source" / assignment).glob("*.ipynb"):
            for student in ("reference", "blank"):
                target = course_dir / "submitted" / student / assignment
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(
                    course_dir / "release" / assignment / source.name, target / source.name
                )
                if student == "reference":
                    exchange.fill_with_solutions(target / source.name, source)
    autograde.autograde(course_dir, jobs=2)
    parts = {f"part{p}": p for p in load_rubric().parts}
    scores: dict[str, dict[int, float]] = defaultdict(dict)
    for row in grades.grade_rows(course_dir):
        if row.assignment in parts and row.score is not None:
            scores[row.student][parts[row.assignment]] = row.score
    return scores


def main() -> int:
    rubric = load_rubric()
    step = Steps(6)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)

    step("regenerating the stubs (assignments/) from solutions/")
    stubs.write_stubs()
    stale = stubs.stale_files()
    if stale:
        print("assignments/ is stale: " + "; ".join(stale))
        return 1
    print("assignments/ matches solutions/")

    step("building the nbgrader course directory and its release")
    course_dir = OUT / "course"
    settings = notebooks.Settings(course_dir=course_dir, exchange=OUT / "exchange", timeout=120)
    install_kernel()
    written = notebooks.write_course(settings)
    print(f"{len(written.notebooks)} source notebooks in {course_dir / 'source'}")
    release.release(course_dir, check_source=False)
    print(f"released to {course_dir / 'release'}")

    step("building the student bundle")
    archive = bundle.build(ROOT / "build" / "student-bundle")
    print(f"{archive.with_suffix('')}/ and {archive}")

    step("grading the reference and the blank submission with the isolated grader")
    grader = grader_scores(OUT / "grader")

    step("autograding the reference and the blank notebooks with nbgrader")
    nb_scores = nbgrader_scores(course_dir)

    step(f"training the copy task for {COPY_STEPS} steps (the solution's model, on the CPU)")
    from solutions import training

    runs = OUT / "runs"
    training.run_task("copy", steps=COPY_STEPS, out=runs, progress=sys.stdout.isatty())

    print("\n== Points per part (rubric.toml)")
    header = (
        f"{'part':<24}{'points':>7}{'grader: ref':>13}{'blank':>7}{'nbgrader: ref':>15}{'blank':>7}"
    )
    print(header)
    print("-" * len(header))
    for number, part in rubric.parts.items():
        bonus = sum(c.points for c in rubric.checks_of(number) if c.bonus)
        points = f"{rubric.points(number):g}" + (f"+{bonus:g}" if bonus else "")
        cells = [grader.get(who, {}).get(number, 0.0) for who in ("reference", "blank")] + [
            nb_scores.get(who, {}).get(number, float("nan")) for who in ("reference", "blank")
        ]
        print(
            f"{number} {part.module:<22}{points:>7}{cells[0]:>13g}{cells[1]:>7g}"
            f"{cells[2]:>15g}{cells[3]:>7g}"
        )
    print("(points: the part's total, + its bonus)")
    wrong = disagreements(rubric, grader, nb_scores)
    for line in wrong:
        print(f"WRONG: {line}")
    summary = {"grader": grader, "nbgrader": nb_scores}
    (OUT / "scores.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n== What was written")
    print(f"nbgrader source notebooks:  {course_dir / 'source'}")
    print(f"nbgrader release:           {course_dir / 'release'}")
    print(f"nbgrader feedback, grades:  make feedback / make grades COURSE={course_dir}")
    print(f"student bundle:             {archive.with_suffix('')}/ (and {archive.name})")
    print(f"grader results.json files:  {OUT / 'grader' / 'results'}")
    print(f"grader points per part:     {OUT / 'grader' / 'grades.csv'}")
    print(
        f"copy task plots:            {runs / 'copy' / 'curves.png'}, "
        f"{runs / 'copy' / 'attention.png'}"
    )
    print(f"scores of this run:         {OUT / 'scores.json'}")
    print(f"total time: {time.perf_counter() - step.start:.0f} s")
    if wrong:
        print(f"{len(wrong)} scores are wrong (see WRONG above): the demo failed")
        return 1
    return 0


def disagreements(
    rubric: Rubric,
    grader: dict[str, dict[int, float]],
    nbgrader: dict[str, dict[int, float]],
) -> list[str]:
    """Every part where a route does not give the reference full marks or the blank 0."""
    found = []
    for number in rubric.parts:
        full = rubric.points(number) + sum(c.points for c in rubric.checks_of(number) if c.bonus)
        for route, scores in (("the isolated grader", grader), ("nbgrader", nbgrader)):
            reference = scores.get("reference", {}).get(number)
            blank = scores.get("blank", {}).get(number)
            if reference != full:
                found.append(
                    f"part {number}: {route} gives the reference {reference}, not {full:g}"
                )
            if blank != 0:
                found.append(f"part {number}: {route} gives the blank submission {blank}, not 0")
    return found


def register(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "demo", help="build everything, grade the reference and the blank on every route"
    ).set_defaults(run=lambda arguments: main())
