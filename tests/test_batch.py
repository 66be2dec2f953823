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


def test_a_batch_never_loses_a_row(tmp_path):
    """Names that share a stem, a hang, a corrupt zip: every entry gets its own row."""
    submissions = tmp_path / "submissions"
    (submissions / "alice").mkdir(parents=True)
    shutil.copy2(ROOT / "solutions" / "softmax_attention.py", submissions / "alice")
    shutil.copy2(ROOT / "assignments" / "softmax_attention.py", tmp_path / "softmax_attention.py")
    shutil.make_archive(str(submissions / "alice"), "zip", tmp_path, "softmax_attention.py")
    (submissions / "carol.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (submissions / "dave").mkdir()
    (submissions / "dave" / "softmax_attention.py").write_text(
        "import time\nwhile True:\n    time.sleep(1)\n"
    )
    out = tmp_path / "out" / "grades.csv"
    graded = batch.run_batch(submissions, out, jobs=2, parts=[1], progress=False, timeout=25)
    rows = {row["submission"]: row for row in csv.DictReader(out.open())}
    assert set(rows) == {"alice", "alice.zip", "carol.zip", "dave"}
    assert float(rows["alice"]["part1"]) == RUBRIC.points(1)
    assert float(rows["alice.zip"]["part1"]) == 0
    assert float(rows["carol.zip"]["total"]) == 0
    # dave's import hangs past the grader's 30 s limit, so the batch's 25 s stop it first.
    assert "took longer than 25 s" in rows["dave"]["problem"]
    assert float(rows["dave"]["total"]) == 0
    assert len(graded) == 4
    summary = batch.summary(graded, RUBRIC)
    assert any("1 submissions could not be graded" in line for line in summary), summary


def test_the_skip_cache_keys_on_what_is_graded(tmp_path):
    """A module one folder down is what the grader reads: changing it must regrade."""
    folder = tmp_path / "work"
    (folder / "inner").mkdir(parents=True)
    (folder / "inner" / "qkv.py").write_text("x = 1\n")
    first = batch.content_hash(folder)
    (folder / "inner" / "qkv.py").write_text("x = 2\n")
    assert batch.content_hash(folder) != first
    (folder / "notes.txt").write_text("not graded\n")
    second = batch.content_hash(folder)
    (folder / "notes.txt").write_text("still not graded\n")
    assert batch.content_hash(folder) == second, "only what is graded counts"
    assert len(batch.grader_version()) == 16
