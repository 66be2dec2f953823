"""Checks catch the mistakes students make, and accept correct code written differently.

The mistakes and variants are the catalogue of ``tests/mistakes/`` (one module per part).
Per part: every mistake fails at least one graded check, every graded check is failed by
at least one mistake, and every variant (correct code written another way) passes every
graded check, hidden ones included; each part has at least three variants.
"""

import pytest

from autograder.core.rubric import load_rubric
from autograder.sweeps import mutants

# The mistakes overflow and divide by zero on purpose: their warnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")

RUBRIC = load_rubric()


@pytest.mark.parametrize("number", list(RUBRIC.parts), ids=lambda n: f"part{n}")
def test_every_mistake_is_caught_and_every_check_catches_one(number):
    part = RUBRIC.parts[number]
    outcomes = list(mutants.sweep([number], RUBRIC))
    problems = mutants.problems(outcomes, part, RUBRIC)
    assert not problems, "\n".join(problems)


def test_every_catalogue_edit_still_applies():
    for part in RUBRIC.parts.values():
        for mutant in mutants.catalogue(part):
            assert mutant.source != mutants.implementations.solution_source(part), mutant.label
