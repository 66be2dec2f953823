"""Part 9's speedrun: a recipe is checked strictly, trained by the grader, and ranked."""

import csv
import shutil
import time
from pathlib import Path

import pytest

from autograder.core.rubric import load_rubric
from autograder.grader import batch, grade, results, speedrun

ROOT = Path(__file__).resolve().parent.parent

# This parser-textbook recipe reaches 99% at step 15 on every seed (evaluated every 5 steps,
# 640 examples); a smaller one that stops after 2 steps cannot.
GOOD = 'task = "parser-textbook"\n[training]\nsteps = 20\nbatch_size = 128\nlr = 3e-3\nwarmup = 3\n'
HOPELESS = (
    'task = "parser-textbook"\n[model]\nd_model = 16\nnum_heads = 2\nd_ff = 16\n'
    "num_encoder_layers = 1\nnum_decoder_layers = 1\n[training]\nsteps = 2\nwarmup = 1\n"
)


def submission(tmp_path: Path, recipe: str | bytes) -> Path:
    """Part 9 done (the reference) with ``recipe`` as its speedrun.toml."""
    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy2(ROOT / "solutions" / "tasks.py", folder / "tasks.py")
    data = recipe.encode() if isinstance(recipe, str) else recipe
    (folder / speedrun.FILE_NAME).write_bytes(data)
    return folder


def test_a_good_recipe_gets_a_leaderboard_entry_in_results_json_and_the_csv(tmp_path, monkeypatch):
    monkeypatch.setattr(speedrun, "SEEDS", (0,))
    report = grade.grade(submission(tmp_path, GOOD), parts=[9])
    assert report.score == sum(r.check.points for p in report.parts for r in p.results)
    data = results.gradescope(report)
    board = {entry["name"]: entry for entry in data["leaderboard"]}
    assert board["task"]["value"] == "parser-textbook"
    assert board["steps to 99% (median)"]["value"] == 15
    assert board["examples to 99% (median)"]["value"] == 15 * 128
    gflop = board["GFLOP to 99% (median)"]
    assert gflop["order"] == "asc" and 100 < gflop["value"] < 300
    assert board["seconds to 99% (median)"]["value"] > 0
    entry = next(t for t in data["tests"] if t["number"] == "9.speedrun")
    assert entry["max_score"] == 0 and entry["score"] == 0 and entry["status"] == "passed"
    assert "median 15 steps" in entry["output"]
    # The batch CSV reads the same numbers back from results.json.
    out = tmp_path / "grades.csv"
    batch.write_csv([batch.Graded("alice", data)], out, load_rubric())
    row = next(csv.DictReader(out.open()))
    assert row["speedrun task"] == "parser-textbook"
    assert row["speedrun status"] == "reached"
    assert row["speedrun steps"] == "15"


def test_a_recipe_that_cannot_reach_99_percent_is_not_reached_and_ranks_nowhere(tmp_path):
    path = submission(tmp_path, HOPELESS) / speedrun.FILE_NAME
    result = speedrun.run(path, time.monotonic() + 120)
    # Two seeds out of three missed: the third cannot change the median and is not trained.
    assert [r["seed"] for r in result.runs] == [0, 1]
    assert result.status == "not reached" and not result.reached
    board = {entry["name"]: entry["value"] for entry in result.leaderboard()}
    assert board["steps to 99% (median)"] == "not reached"
    assert board["GFLOP to 99% (median)"] == "not reached"
    assert "not reached" in result.message() and "no place on the leaderboard" in result.message()
    fields = speedrun.csv_fields({"tests": [result.test_entry()]})
    assert fields == ["parser-textbook", "not reached", "", "", ""]


def test_training_is_deterministic_for_a_seed():
    recipe = speedrun.parse(HOPELESS)
    first = speedrun.train_one(recipe, seed=3, eval_every=1)
    again = speedrun.train_one(recipe, seed=3, eval_every=1)
    other = speedrun.train_one(recipe, seed=4, eval_every=1)
    assert first == again
    assert first["trained_steps"] == 2 and first["steps"] is None
    # The seed matters (so the equality above is not vacuous): the losses differ.
    assert other["last_loss"] != first["last_loss"]


def test_the_median_counts_a_missed_seed_as_slowest():
    runs = [{"seed": 0, "steps": 30, "seconds": 3.0, "batch_size": 8}]
    runs += [{"seed": 1, "steps": None}, {"seed": 2, "steps": 10, "seconds": 1.0, "batch_size": 8}]
    result = speedrun.Speedrun(task="copy-textbook", runs=runs, gflop_per_step=2.0)
    assert result.summary() == {"steps": 30, "examples": 240, "gflop": 60.0, "seconds": 3.0}
    result.runs[2]["steps"] = None
    assert result.summary()["steps"] is None and result.status == "not reached"


REFUSED = [
    ("", "task must be one of"),
    ('task = "../../etc/passwd"', "task must be one of"),
    ('task = "addition"', "task must be one of"),
    ("task = 3", "task must be one of"),
    ('task = "copy-textbook"\nsecret = 1', "has no setting 'secret'"),
    ('task = "copy-textbook"\n[model]\nd_model = 64.0', "[model] d_model must be an integer"),
    ('task = "copy-textbook"\n[model]\nd_model = 100000', "[model] d_model must be an integer"),
    ('task = "copy-textbook"\n[model]\nd_model = true', "[model] d_model must be an integer"),
    ('task = "copy-textbook"\n[model]\nnum_heads = 3', "divisible by num_heads"),
    ('task = "copy-textbook"\n[model]\npositional = "rope"', "[model] positional must be one"),
    ('task = "copy-textbook"\n[model]\npad_id = 5', "[model] has no setting 'pad_id'"),
    ('task = "copy-textbook"\n[training]\nlr = nan', "[training] lr must be a number"),
    ('task = "copy-textbook"\n[training]\nlr = inf', "[training] lr must be a number"),
    ('task = "copy-textbook"\n[training]\nlr = 0', "[training] lr must be a number"),
    ('task = "copy-textbook"\n[training]\nlr = "fast"', "[training] lr must be a number"),
    ('task = "copy-textbook"\n[training]\nbetas = [0.9]', "[training] betas must be two"),
    ('task = "copy-textbook"\n[training]\nbetas = [0.9, 1.5]', "[training] betas must be two"),
    ('task = "copy-textbook"\n[training]\nseed = 7', "[training] has no setting 'seed'"),
    ('task = "copy-textbook"\n[training]\nstop_at = 0.5', "[training] has no setting 'stop_at'"),
    ('task = "copy-textbook"\n[training]\nsteps = 10\nwarmup = 20', "warmup (20) must be"),
    ('task = "copy-textbook"\ntraining = 5', "[training] must be a table"),
    ('task = "copy-textbook"\n[training]\nsteps = 5000', "[training] steps: 5000 steps"),
    ('task = "copy-textbook"\n[model]\nd_model = 128\nd_ff = 512', "[training] steps: 250"),
    (
        'task = "copy-textbook"\n[model]\nd_model = 256\nd_ff = 1024\nnum_encoder_layers = 4',
        "parameters; a speedrun allows at most",
    ),
    ("task = [[[[", "not valid TOML"),
    ("x = " + "[" * 4000 + "]" * 4000, "not valid TOML"),
    ("a" * (speedrun.MAX_BYTES + 1), "larger than"),
    (b"task = '\xff\xfe'", "not UTF-8"),
]


@pytest.mark.parametrize(("text", "expected"), REFUSED)
def test_a_bad_or_hostile_recipe_is_refused_naming_the_field(tmp_path, text, expected):
    path = submission(tmp_path, text) / speedrun.FILE_NAME
    result = speedrun.run(path, time.monotonic() + 60)
    assert result.status == "refused" and result.runs == []
    assert expected in result.problem, result.problem
    assert result.leaderboard() == []
    entry = result.test_entry()
    assert entry["status"] == "failed" and entry["max_score"] == 0
    assert entry["output"].startswith("speedrun.toml was not trained: ")


def test_a_refused_recipe_never_costs_the_grade_of_part_9(tmp_path, monkeypatch):
    monkeypatch.setattr(speedrun, "SEEDS", (0,))
    report = grade.grade(submission(tmp_path, b"\x00" * 100 + b"task=["), parts=[9])
    assert report.parts[0].score == sum(r.check.points for r in report.parts[0].results)
    assert all(r.passed for r in report.parts[0].results)
    data = results.gradescope(report)
    assert "leaderboard" not in data
    entry = next(t for t in data["tests"] if t["number"] == "9.speedrun")
    assert "not valid TOML" in entry["output"]


def test_without_a_recipe_or_without_part_9_there_is_no_speedrun(tmp_path):
    folder = submission(tmp_path, GOOD)
    assert speedrun.wanted(folder, [9]) and not speedrun.wanted(folder, [1, 2])
    (folder / speedrun.FILE_NAME).unlink()
    assert not speedrun.wanted(folder, [9])
    assert speedrun.csv_fields({"tests": []}) == [""] * len(speedrun.CSV_HEADER)
