"""The student pages in docs/parts/ are what `make figures` writes from the prose and rubric."""

import re
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


DOCS = Path(__file__).resolve().parent.parent / "docs"
PYTHON = re.compile(r"^```python\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("page", ["architecture.md", "grading.md"])
def test_the_guides_examples_run(page: str) -> None:
    """Every Python example of a guide that imports the course's tooling runs as shown."""
    blocks = PYTHON.findall((DOCS / page).read_text(encoding="utf-8"))
    examples = [code for code in blocks if "from autograder" in code]
    assert examples, f"docs/{page} has no runnable example"
    for code in examples:
        exec(compile(code, f"docs/{page}", "exec"), {})
