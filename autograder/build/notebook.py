"""One part's nbgrader source notebook, from its solution module, its checks and its prose.

A part's notebook is built from three things written once elsewhere:

- the solution module (``solutions/<module>.py``): each top-level function or class holding a
  ``### BEGIN SOLUTION`` region becomes an nbgrader solution cell, the rest read-only cells
  (:mod:`autograder.build.cells`);
- the rubric: one locked autograder test cell per check, worth the rubric's points, calling
  the same check function pytest runs (hidden checks inside ``### BEGIN HIDDEN TESTS``);
- the part's prose (``autograder/build/prose/part<N>.md``): markdown, and fenced ``python``
  blocks that become the worked example's code cells.

Every code cell of the module starts with ``# <module>.py [i/n]`` so that the notebook can
save the student's module for the later parts (see :mod:`autograder.core.notebook`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from autograder.build.cells import hints_outside_regions, split_module
from autograder.build.stubs import make_stub
from autograder.core.notebook import plain_imports
from autograder.core.paths import SOLUTIONS
from autograder.core.rubric import Part, Rubric, relative_imports_of

PROSE = Path(__file__).resolve().parent / "prose"
KERNEL = {"name": "course", "display_name": "Python 3 (course)", "language": "python"}


def notebook_name(part: Part) -> str:
    """``part2_qkv``: the notebook's file name without ``.ipynb``."""
    return part.stem


@dataclass(frozen=True)
class Prose:
    """A part's prose: blocks before the code, between the code and checks, after."""

    intro: list[tuple[str, str]]
    example: list[tuple[str, str]]
    outro: list[tuple[str, str]]


FENCE = re.compile(r"^```python\s*\n(?P<code>.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def _blocks(text: str) -> list[tuple[str, str]]:
    """Markdown text -> [("markdown", text) | ("code", source)], fenced python as code."""
    blocks: list[tuple[str, str]] = []
    position = 0
    for match in FENCE.finditer(text):
        before = text[position : match.start()].strip()
        if before:
            blocks.append(("markdown", before))
        blocks.append(("code", match.group("code").rstrip()))
        position = match.end()
    rest = text[position:].strip()
    if rest:
        blocks.append(("markdown", rest))
    return blocks


def load_prose(part: Part, folder: Path = PROSE) -> Prose | None:
    """The part's prose, split at ``<!-- code -->`` and ``<!-- checks -->``; None if unwritten."""
    path = folder / f"part{part.number}.md"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    intro, _, rest = text.partition("<!-- code -->")
    example, _, outro = rest.partition("<!-- checks -->")
    return Prose(_blocks(intro), _blocks(example), _blocks(outro))


def _nbgrader(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float = 0):
    meta = {
        "grade": grade,
        "solution": solution,
        "locked": locked,
        "grade_id": grade_id,
        "schema_version": 3,
    }
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _titled(metadata: dict, title: str) -> dict:
    """``metadata`` with the check's title, which the feedback's contents list shows."""
    return {**metadata, "course": {"title": title}}


def _code(source: str, cell_id: str, metadata: dict | None = None) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata=metadata or {})
    cell.id = cell_id
    return cell


def _markdown(source: str, cell_id: str) -> NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source)
    cell.id = cell_id
    return cell


def _how_it_works(part: Part, rubric: Rubric) -> str:
    visible = rubric.points(part.number, include_hidden=False)
    hidden = rubric.points(part.number) - visible
    lines = [
        "## How this notebook works",
        "",
        f"- Run the setup cell first. Fill in every cell that says `YOUR CODE HERE`; the "
        f"read-only cells are given code, and the cells that start with `# {part.module}.py` "
        f"together make up your module `{part.module}.py`.",
        f"- The checks at the end are the ones your grade is computed with: {visible:g} "
        f"point(s) in the visible checks"
        + (
            f", and {hidden:g} more in hidden checks that run only when it is graded."
            if hidden
            else "."
        ),
        "- Run All runs every check, even after one fails: a failing check prints what went "
        "wrong, and the last cell adds up your points the way the grader will.",
        f"- Running the checks saves your code as `.modules/{part.module}.py` beside the "
        "parts' folders; later parts import it from there. Hand in the notebook only.",
    ]
    bonus = sum(c.points for c in rubric.checks_of(part.number) if c.bonus)
    if bonus:
        lines.append(
            f"- The checks marked *Bonus* are worth {bonus:g} more point(s) on top of the "
            f"part's total (nbgrader counts them in the notebook's maximum score)."
        )
    if part.depends:
        names = ", ".join(f"`{name}.py`" for name in part.depends)
        lines.append(
            f"- This part builds on {names} from earlier parts. When you run the notebook, "
            f"it imports **your own** version (saved by that part's notebook, whose folder "
            f"sits beside this one). When it is graded, it imports the course's "
            f"reference version instead: this part is graded on its own, so a mistake in an "
            f"earlier part does not cost you points twice."
        )
    if part.forbidden:
        names = ", ".join(f"`{name}`" for name in part.forbidden)
        lines.append(f"- Not allowed here: {names}. Using one scores 0 for the whole part.")
    return "\n".join(lines)


def build_notebook(
    part: Part, rubric: Rubric, solutions: Path = SOLUTIONS
) -> NotebookNode:
    """The nbgrader source notebook of ``part`` (solutions and hidden tests included)."""
    path = solutions / f"{part.module}.py"
    source = plain_imports(hints_outside_regions(path.read_text(encoding="utf-8")))
    code_cells = split_module(source, str(path))
    # A part whose prose is not written yet is introduced by its module's docstring.
    docstring = ast.get_docstring(ast.parse(source)) or ""
    prose = load_prose(part) or Prose([("markdown", docstring)], [], [])
    cells: list[NotebookNode] = []
    counter = iter(range(1000))

    def add_blocks(blocks: list[tuple[str, str]]) -> None:
        for kind, text in blocks:
            index = next(counter)
            if kind == "markdown":
                cells.append(_markdown(text, f"prose-{index}"))
            else:
                # Before the student's functions work, the examples raise; the tag lets
                # Run All go on to the checks, which say what is missing.
                cell = _code(text, f"example-{index}")
                cell.metadata["tags"] = ["raises-exception"]
                cells.append(cell)

    cells.append(_markdown(f"# Part {part.number}: {part.title}", "title"))
    add_blocks(prose.intro)
    cells.append(_markdown(_how_it_works(part, rubric), "how-it-works"))
    given = tuple(n for n in relative_imports_of(path.read_text()) if n not in part.depends)
    setup = (
        "# Setup (read-only): the course's checks and, for a part that builds on earlier\n"
        "# parts, their modules.\n"
        "from autograder.core.notebook import start\n\n"
        f"notebook = start({part.number}, builds_on={tuple(part.depends)!r}, "
        f"given={given!r})"
    )
    cells.append(
        _code(setup, "setup", _nbgrader("setup", grade=False, solution=False, locked=True))
    )
    cells.append(_markdown(f"## Your code: `{part.module}.py`", "code-heading"))
    count = len(code_cells)
    for index, cell in enumerate(code_cells, start=1):
        grade_id = f"{part.module}_{index}"
        text = f"# {part.module}.py [{index}/{count}]\n{cell.source}"
        meta = _nbgrader(grade_id, grade=False, solution=cell.solution, locked=not cell.solution)
        cells.append(_code(text, grade_id, meta))
    add_blocks(prose.example)
    cells.append(
        _markdown(
            "## Checks\n\nThe next cell saves your module; each cell after it is one graded "
            "check, worth the points in its first line. A check that fails says what went "
            "wrong and the smallest input it found that shows it.",
            "checks-heading",
        )
    )
    save = "# Saves your code cells above as a module, for the later parts.\nnotebook.save();"
    cells.append(_code(save, "save", _nbgrader("save", grade=False, solution=False, locked=True)))
    hidden_count = 0
    for check in rubric.checks_of(part.number):
        points = f"{check.points:g} point{'s' if check.points != 1 else ''}"
        grade_id = f"check_{check.id}"
        if check.hidden:
            # The released notebook keeps the cell's metadata: a numbered id names nothing.
            hidden_count += 1
            grade_id = f"hidden_{hidden_count}"
            text = (
                f"# Hidden check ({points}): it runs only when your notebook is graded.\n"
                f"### BEGIN HIDDEN TESTS\n"
                f'notebook.hidden_check("{check.id}")\n'
                f"### END HIDDEN TESTS"
            )
            title = f"Hidden check {hidden_count}"
        else:
            label = f"Bonus: {check.description}" if check.bonus else check.description
            text = f'# {label} ({points})\nnotebook.check("{check.id}")'
            title = label
        meta = _nbgrader(grade_id, grade=True, solution=False, locked=True, points=check.points)
        cells.append(_code(text, grade_id, _titled(meta, title)))
    # The ";" keeps the table from being shown a second time as the cell's value.
    total = "# Your points in this notebook, as the grader counts them.\nnotebook.summary();"
    cells.append(
        _code(total, "total", _nbgrader("total", grade=False, solution=False, locked=True))
    )
    add_blocks(prose.outro)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {"kernelspec": dict(KERNEL), "language_info": {"name": "python"}}
    return notebook


HIDDEN_TESTS = re.compile(r"^### BEGIN HIDDEN TESTS$.*?^### END HIDDEN TESTS$\n?", re.M | re.S)


def student_notebook(part: Part, rubric: Rubric) -> NotebookNode:
    """The notebook of ``part`` as a student receives it (what nbgrader's release holds).

    Solution regions become named stubs (with their hints), hidden checks keep only their
    explanation; the nbgrader metadata stays, so the notebook can be submitted through
    nbgrader as well as uploaded.
    """
    notebook = build_notebook(part, rubric)
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            cell.source = make_stub(cell.source).rstrip("\n")
        elif cell.cell_type == "code" and "### BEGIN HIDDEN TESTS" in cell.source:
            cell.source = HIDDEN_TESTS.sub("", cell.source).rstrip("\n")
    return notebook
