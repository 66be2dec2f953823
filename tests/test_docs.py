"""The student pages in docs/parts/ are what `make figures` writes from the prose and rubric."""

from pathlib import Path

import pytest

from autograder.build import figures
from autograder.core.rubric import load_rubric

RUBRIC = load_rubric()


def figures_of(number: int) -> list[str]:
    return [p.name for p in figures.FIGURES.glob(f"part{number}*.png")]


@pytest.mark.parametrize("number", list(RUBRIC.parts))
def test_part_pages_are_up_to_date(number: int) -> None:
    part = RUBRIC.parts[number]
    path = figures.PAGES / f"part{number}.md"
    expected = figures.page(part, RUBRIC, figures_of(number))
    assert path.read_text() == expected, "run `make figures` (docs/parts is stale)"
    for name in figures_of(number):
        assert Path(figures.FIGURES / name).stat().st_size > 1000
