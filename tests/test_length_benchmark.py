"""The length-generalisation harness of part 9's deep dive (``benchmarks/length.py``).

Training a trial to the recorded figures takes minutes, so these tests check the harness's
parts (the digit positions, the test sets, a short trial end to end, the figure) and that the
committed results, which the docs and the figure quote, meet the issue's bar.
"""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import length
from solutions import tasks

ALL_LEVERS = "reverse+digit-positions+offsets+widths"


def _positions(symbols: tuple[str, ...], source: bool, training: bool = False) -> list[int]:
    task = tasks.make_task("addition", reverse=True)
    embedding = torch.nn.Embedding(len(task.vocabulary), 8)
    positions = length.DigitPositions(embedding, task.vocabulary, source)
    positions.train(training)
    ids = torch.tensor([task.vocabulary.encode(symbols)])
    if training:
        positions.offset = torch.tensor([5])
    return positions.positions(ids)[0].tolist()


def test_source_digits_are_numbered_by_significance():
    # "123+045": the units of both operands share position 0, the tens 1, the hundreds 2;
    # the operator gets the code kept for non-digits.
    source, _ = tasks.addition_example(123, 45, 3)
    other = length.TABLE - 1
    assert _positions(source, source=True) == [2, 1, 0, other, 2, 1, 0]
    # A 5-digit operand reuses the codes of the 3-digit ones for its lowest digits.
    long_source, _ = tasks.addition_example(12345, 6, 5)
    assert _positions(long_source, source=True)[-3:] == [2, 1, 0]


def test_training_offsets_shift_digits_only():
    source, _ = tasks.addition_example(123, 45, 3)
    other = length.TABLE - 1
    assert _positions(source, source=True, training=True) == [7, 6, 5, other, 7, 6, 5]


def test_target_positions_count_output_tokens():
    _, target = tasks.addition_example(123, 45, 3)
    assert _positions(target, source=False) == list(range(len(target)))


@pytest.mark.parametrize("digits", [1, 2, 6])
def test_generated_sets_are_seeded_distinct_and_of_their_length(digits):
    first, second = length.generated_set(digits), length.generated_set(digits)
    assert first == second
    assert len(first) == min(length.GENERATED_COUNT, 10 ** (2 * digits))
    assert len({source for source, _ in first}) == len(first)
    for source, target in first:
        assert len(source) == 2 * digits + 1 and source[digits] == "+"
        left, right = "".join(source[:digits]), "".join(source[digits + 1 :])
        assert int("".join(target)) == int(left) + int(right)


def test_a_short_trial_scores_every_length():
    result = length.trial("reverse+digit-positions+offsets", steps=2, seed=0)
    rows = result["lengths"]
    assert [row["digits"] for row in rows] == list(length.LENGTHS)
    for row in rows:
        assert row["examples"] > 0
        for metric in ("exact_match", "digit_accuracy", "right_length"):
            assert 0.0 <= row[metric] <= 1.0
    assert rows[2]["set"] == "frozen addition" and rows[0]["set"].startswith("generated")


def test_recorded_results_meet_the_bar_and_draw(tmp_path):
    data = json.loads(length.RESULTS.read_text(encoding="utf-8"))
    levers = [t for t in data["trials"] if t["trial"] == ALL_LEVERS]
    assert {t["seed"] for t in levers} >= {0, 1}
    for run in levers:
        by_length = {row["digits"]: row["exact_match"] for row in run["lengths"]}
        assert by_length[4] >= 0.9 and by_length[5] >= 0.8, run["seed"]
    baseline = [t for t in data["trials"] if t["trial"] == "baseline"]
    assert baseline and all(
        row["exact_match"] == 0.0 for t in baseline for row in t["lengths"] if row["digits"] > 3
    )
    path = length.draw_figure(data, tmp_path / "length.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
