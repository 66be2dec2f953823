"""Batch grading: a results.json per submission, a CSV of points, unchanged work skipped."""

import csv
import json
import shutil
from pathlib import Path

from autograder.core.rubric import load_rubric
from autograder.grader import batch

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = load_rubric()


def test_batch_grades_writes_csv_and_skips_unchanged(tmp_path):
    submissions = tmp_path / "submissions"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "solutions", submissions / "alice", ignore=ignore)
    shutil.copytree(ROOT / "assignments", submissions / "bob", ignore=ignore)
    out = tmp_path / "out" / "grades.csv"

    graded = batch.run_batch(submissions, out, jobs=2, parts=[1], progress=False)
    rows = {row["submission"]: row for row in csv.DictReader(out.open())}
    assert float(rows["alice"]["part1"]) == RUBRIC.points(1)
    assert float(rows["bob"]["total"]) == 0
    results = out.parent / "results"
    assert {p.name for p in results.iterdir()} == {"alice.json", "bob.json"}
    lines = batch.summary(graded, RUBRIC)
    assert lines[0].startswith("2 submissions, mean total")
    assert any("checks failed most often" in line for line in lines)

    before = {p.name: p.stat().st_mtime_ns for p in results.iterdir()}
    (submissions / "bob" / "softmax_attention.py").write_text(
        (ROOT / "solutions" / "softmax_attention.py").read_text()
    )
    batch.run_batch(submissions, out, jobs=1, parts=[1], progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in results.iterdir()}
    assert after["alice.json"] == before["alice.json"], "unchanged work was graded again"
    assert after["bob.json"] != before["bob.json"], "changed work was not graded again"
    bob = json.loads((results / "bob.json").read_text())
    assert bob["score"] == RUBRIC.points(1)


def test_content_hash_follows_content_not_timestamps(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "qkv.py").write_text("x = 1\n")
    first = batch.content_hash(folder)
    (folder / "qkv.py").write_text("x = 1\n")
    assert batch.content_hash(folder) == first
    (folder / "qkv.py").write_text("x = 2\n")
    assert batch.content_hash(folder) != first
