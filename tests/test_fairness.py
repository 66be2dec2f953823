"""Correct code gets every point and trivial code none: the sweeps, in their quick form.

The full fairness sweep (100 seeds a check, ``make fairness``) is a benchmark whose result
goes in ``docs/benchmarks.md``; here a few random seeds, 1 and 2 threads, in this process
and through the isolated grader, keep every change honest.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.core.rubric import load_rubric
from autograder.sweeps import fairness, trivial

RUBRIC = load_rubric()
ROOT = Path(__file__).resolve().parents[1]

# Draws a derandomized test's examples, imports a module full of literals (a student's file, a
# notebook cell), draws them again, and prints whether both draws were the same.
_DRAW_TWICE = textwrap.dedent(
    """
    import json, sys
    if sys.argv[1] == "course":
        import autograder.core.profiles
    from hypothesis import given, settings, strategies as st

    seen = []

    @settings(derandomize=True, max_examples=300, database=None)
    @given(st.integers(0, 10**6), st.floats(-1e6, 1e6), st.text(max_size=4))
    def draw(i, f, t):
        seen.append([i, f, t])

    draw()
    first = list(seen)
    seen.clear()
    sys.path.insert(0, sys.argv[2])
    import literals
    draw()
    print(json.dumps(first == seen))
    """
)


def _same_draws_after_import(tmp_path: Path, profile: str) -> bool:
    literals = ", ".join(str(17 + 7919 * k) for k in range(60))
    floats = ", ".join(f"{k}.4375" for k in range(60))
    words = ", ".join(f"'w{k}'" for k in range(60))
    (tmp_path / "literals.py").write_text(f"A = [{literals}]\nB = [{floats}]\nC = [{words}]\n")
    done = subprocess.run(
        [sys.executable, "-c", _DRAW_TWICE, profile, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_examples_do_not_depend_on_loaded_modules(tmp_path):
    # Plain hypothesis mixes literals of loaded local modules into its draws; if this ever
    # stops being true, the patch in autograder/core/profiles.py can go.
    assert not _same_draws_after_import(tmp_path, "plain"), "hypothesis no longer does this"
    assert _same_draws_after_import(tmp_path, "course"), (
        "with the course's profiles loaded, importing a module changed a check's examples"
    )


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
