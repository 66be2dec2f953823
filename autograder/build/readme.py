"""The parts table (README and student README) and the rubric students see."""

from __future__ import annotations

import tomllib

from autograder.core.rubric import Rubric


def visible_rubric(text: str) -> str:
    """``rubric.toml`` without its hidden checks (their names would hint at the tests)."""
    kept: list[str] = []
    block: list[str] = []

    def flush() -> None:
        joined = "".join(block)
        is_check = joined.lstrip().startswith("[[checks]]")
        if not (is_check and tomllib.loads(joined)["checks"][0].get("visibility") == "hidden"):
            kept.append(joined)
        block.clear()

    for line in text.splitlines(keepends=True):
        if line.startswith(("[[checks]]", "[[parts]]", "# -")) and block:
            flush()
        block.append(line)
    if block:
        flush()
    return "".join(kept)


def _bonus_cell(rubric: Rubric, part: int) -> str:
    """``5``, or ``5 + 1 hidden``: the bonus points as the score table and the grader count."""
    checks = [c for c in rubric.checks_of(part) if c.bonus]
    visible = sum(c.points for c in checks if not c.hidden)
    hidden = sum(c.points for c in checks if c.hidden)
    return f"{visible:g} + {hidden:g} hidden" if hidden else f"{visible:g}"


def parts_table(rubric: Rubric) -> str:
    """Markdown table of the parts with their visible, hidden and bonus points."""
    rows = [
        "| # | module | what you build | visible points | hidden points | bonus |",
        "|---|---|---|---|---|---|",
    ]
    for part in rubric.parts.values():
        visible = rubric.points(part.number, include_hidden=False)
        hidden = rubric.points(part.number) - visible
        bonus = _bonus_cell(rubric, part.number)
        rows.append(
            f"| {part.number} | `{part.module}` | {part.title} | {visible:g} | {hidden:g} "
            f"| {bonus} |"
        )
    return "\n".join(rows)


README_BEGIN, README_END = "<!-- parts:begin -->", "<!-- parts:end -->"


def with_parts_table(text: str, rubric: Rubric) -> str:
    """``text`` with the table between the README's parts markers regenerated."""
    head, _, rest = text.partition(README_BEGIN)
    _, _, tail = rest.partition(README_END)
    return f"{head}{README_BEGIN}\n{parts_table(rubric)}\n{README_END}{tail}"
