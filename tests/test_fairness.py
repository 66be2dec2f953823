"""Correct code gets every point and trivial code none: the sweeps, in their quick form.

The full fairness sweep (100 seeds a check, ``make fairness``) is a benchmark whose result
goes in ``docs/benchmarks.md``; here a few random seeds, 1 and 2 threads, in this process
and through the isolated grader, keep every change honest.
"""

import pytest

from autograder.core.rubric import load_rubric
from autograder.sweeps import fairness, trivial

RUBRIC = load_rubric()


@pytest.mark.parametrize("number", list(RUBRIC.parts), ids=lambda n: f"part{n}")
def test_correct_code_never_fails_a_check(number):
    results = fairness.sweep(
        seeds=range(1000, 1002),
        examples=8,
        threads=(1, 2),
        routes=("in-process", "isolated"),
        isolated_seeds=(1000,),
        parts=[number],
    )
    total = fairness.tally(results)
    assert total.runs > 0
    assert not total.failures, "\n".join(map(str, total.failures[:5]))


@pytest.mark.parametrize("number", list(RUBRIC.parts), ids=lambda n: f"part{n}")
def test_trivial_code_scores_nothing(number):
    generous = [
        f"{outcome.family}: {check}"
        for outcome in trivial.sweep([number])
        for check in outcome.passed
    ]
    assert not generous, f"part {number} gives points to trivial code: {generous}"
