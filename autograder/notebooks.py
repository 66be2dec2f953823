"""Generate the nbgrader course directory: one source notebook per part, from the modules.

A part's notebook is built from three things written once elsewhere:

- the solution module (``solutions/<module>.py``): each top-level function or class holding a
  ``### BEGIN SOLUTION`` region becomes an nbgrader solution cell, the rest read-only cells;
- the rubric: one locked autograder test cell per check, worth the rubric's points, calling
  the same check function pytest runs (hidden checks inside ``### BEGIN HIDDEN TESTS``);
- the part's prose (``autograder/prose/part<N>.md``): markdown, and fenced ``python`` blocks
  that become the worked example's code cells.

Every code cell of the module starts with ``# <module>.py [i/n]`` so that the notebook can
save the student's module for the later parts (see :mod:`autograder.notebook_runtime`).
"""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from .bundle import visible_rubric
from .notebook_runtime import CELL_HEADER
from .rubric import Part, Rubric, load_rubric
from .stubs import BEGIN, END, HINT, find_regions

ROOT = Path(__file__).resolve().parent.parent
PROSE = Path(__file__).resolve().parent / "prose"
DEFAULT_COURSE = ROOT / "build" / "course"
DEFAULT_EXCHANGE = ROOT / "build" / "exchange"
COURSE_ID = "attention"
KERNEL = {"name": "course", "display_name": "Python 3 (course)", "language": "python"}
RELATIVE_IMPORT = re.compile(r"^(?P<indent>[ \t]*)from \.(?P<name>\w+) import ", re.MULTILINE)
# What every assignment folder carries so that its notebook runs on a student's machine.
SUPPORT_FILES = (
    "autograder/__init__.py",
    "autograder/notebook_runtime.py",
    "autograder/profiles.py",
    "autograder/rubric.py",
    "autograder/runner.py",
    "autograder/shortcuts.py",
    "tests/__init__.py",
    "tests/harness.py",
    "tests/reference.py",
    "tests/strategies.py",
    "tests/checks/__init__.py",
)


@dataclass(frozen=True)
class CodeCell:
    """A cell of the part's module: given code (read-only) or a solution cell."""

    source: str
    solution: bool


@dataclass(frozen=True)
class Settings:
    """How the course directory is set up (written into its ``nbgrader_config.py``)."""

    course: Path = DEFAULT_COURSE
    exchange: Path = DEFAULT_EXCHANGE
    timeout: int = 120
    groups: Mapping[str, tuple[int, ...]] | None = None


def default_groups(rubric: Rubric) -> dict[str, tuple[int, ...]]:
    """One assignment per part: ``part1``, ``part2``, ..."""
    return {f"part{n}": (n,) for n in rubric.parts}


def parse_groups(specs: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """``["week1=1,2", "week2=3"]`` -> ``{"week1": (1, 2), "week2": (3,)}``."""
    groups: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, _, numbers = spec.partition("=")
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", name) or not numbers:
            raise ValueError(
                f"assignment {spec!r}: write NAME=PARTS, e.g. week1=1,2 (letters, digits, _ -)"
            )
        groups[name] = tuple(int(n) for n in numbers.split(","))
    return groups


def notebook_name(part: Part) -> str:
    """``part2_qkv``: the notebook's file name without ``.ipynb``."""
    return f"part{part.number}_{part.module}"


def plain_imports(source: str) -> str:
    """``from .qkv import x`` -> ``from qkv import x``: a notebook is not inside a package."""
    return RELATIVE_IMPORT.sub(r"\g<indent>from \g<name> import ", source)


def relative_imports(source: str, names: Iterable[str]) -> str:
    """Undo :func:`plain_imports` for the course's modules ``names`` (and ``_validate``)."""
    wanted = "|".join(re.escape(n) for n in sorted({*names, "_validate"}))
    pattern = re.compile(rf"^(?P<indent>[ \t]*)from (?P<name>{wanted}) import ", re.MULTILINE)
    return pattern.sub(r"\g<indent>from .\g<name> import ", source)


def extract_module(notebook: Mapping, rubric: Rubric | None = None) -> tuple[str, str] | None:
    """The part module a notebook holds: ``(module name, source)``, or None if it holds none.

    The module is the notebook's code cells headed ``# <module>.py [i/n]``, in the order of
    their numbers, with relative imports restored so that it imports like ``solutions/``.
    Raises ``ValueError`` for a notebook whose module cells name more than one module or a
    module the rubric does not know.
    """
    rubric = rubric or load_rubric()
    known = {part.module for part in rubric.parts.values()}
    cells: dict[str, dict[int, str]] = {}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        match = CELL_HEADER.match(source)
        if match:
            cells.setdefault(match.group("module"), {})[int(match.group("index"))] = source
    if not cells:
        return None
    if len(cells) > 1:
        raise ValueError(f"the notebook holds cells of several modules: {sorted(cells)}")
    module, numbered = next(iter(cells.items()))
    if module not in known:
        raise ValueError(f"the notebook's cells name {module}.py, which is not a course module")
    code = "\n\n".join(numbered[i].rstrip() for i in sorted(numbered)) + "\n"
    return module, relative_imports(code, known)


def hints_outside_regions(source: str) -> str:
    """Move each region's ``### HINT`` lines above its BEGIN marker as ``# HINT:`` comments.

    nbgrader drops everything between the markers, hints included; above the marker they
    survive into the released notebook, as they do in ``assignments/``.
    """
    out: list[str] = []
    region: list[str] | None = None
    hints: list[str] = []
    for line in source.splitlines():
        if BEGIN.match(line):
            region, hints = [line], []
        elif region is not None and END.match(line):
            indent = BEGIN.match(region[0]).group("indent")  # type: ignore[union-attr]
            out.extend(f"{indent}# HINT: {text}".rstrip() for text in hints)
            out.extend([*region, line])
            region = None
        elif region is not None:
            hint = HINT.match(line)
            if hint:
                hints.append(hint.group("text"))
            else:
                region.append(line)
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def split_module(source: str, filename: str = "<module>") -> list[CodeCell]:
    """Cut a solution module into cells: one per top-level def or class, imports together.

    A cell is a solution cell when it contains a marked region. Comments directly above a
    statement stay with it.
    """
    regions = find_regions(source, filename)
    tree = ast.parse(source, filename=filename)
    lines = source.splitlines()
    # A notebook's __name__ is "__main__": a module's command line must not run in it.
    for node in reversed(tree.body):
        if _is_main_guard(node):
            end = node.end_lineno or node.lineno
            lines[node.lineno - 1 : end] = [""] * (end - node.lineno + 1)
            tree.body.remove(node)
    starts: list[int] = []
    previous_was_import = False
    for node in tree.body:
        is_import = isinstance(node, (ast.Import, ast.ImportFrom))
        if previous_was_import and is_import:
            continue
        previous_was_import = is_import
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno, *(d.lineno for d in decorators)]) - 1
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1
        starts.append(start)
    # The module docstring belongs to the first cell, with the imports.
    if len(starts) > 1 and isinstance(tree.body[0], ast.Expr):
        starts.pop(1)
    starts[0] = 0
    cells: list[CodeCell] = []
    for begin, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        text = "\n".join(lines[begin:end]).strip("\n")
        solution = any(begin < r.begin <= end for r in regions)
        cells.append(CodeCell(text, solution))
    return cells


def _is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":``."""
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


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
        f"- Running the checks saves your code as `{part.module}.py` next to this notebook; "
        f"later parts import it from there.",
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
            f"it imports **your own** version (saved by that part's notebook, which must sit "
            f"in a folder beside this one). When it is graded, it imports the course's "
            f"reference version instead: this part is graded on its own, so a mistake in an "
            f"earlier part does not cost you points twice."
        )
    if part.forbidden:
        names = ", ".join(f"`{name}`" for name in part.forbidden)
        lines.append(f"- Not allowed here: {names}. Using one scores 0 for the whole part.")
    return "\n".join(lines)


def build_notebook(
    part: Part, rubric: Rubric, solutions: Path = ROOT / "solutions"
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
                cells.append(_code(text, f"example-{index}"))

    cells.append(_markdown(f"# Part {part.number}: {part.title}", "title"))
    add_blocks(prose.intro)
    cells.append(_markdown(_how_it_works(part, rubric), "how-it-works"))
    setup = (
        "# Setup (read-only): the course's checks and, for a part that builds on earlier\n"
        "# parts, their modules.\n"
        "from autograder import notebook_runtime\n\n"
        f"course = notebook_runtime.start(part={part.number})"
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
    save = "# Saves your code cells above as a module, for the later parts.\ncourse.save()"
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
                f'course.hidden_check("{check.id}")\n'
                f"### END HIDDEN TESTS"
            )
        else:
            label = f"Bonus: {check.description}" if check.bonus else check.description
            text = f'# {label} ({points})\ncourse.check("{check.id}")'
        meta = _nbgrader(grade_id, grade=True, solution=False, locked=True, points=check.points)
        cells.append(_code(text, grade_id, meta))
    add_blocks(prose.outro)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {"kernelspec": dict(KERNEL), "language_info": {"name": "python"}}
    return notebook


def nbgrader_config(settings: Settings) -> str:
    """The course directory's ``nbgrader_config.py``."""
    return f'''"""nbgrader configuration of the course; generated by `make notebooks`."""

c = get_config()  # noqa: F821 - provided by nbgrader when it reads this file

c.CourseDirectory.course_id = "{COURSE_ID}"
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".hypothesis", ".pytest_cache"
]
# Per-cell limit: a cell still running after this many seconds is interrupted and fails.
c.Execute.timeout = {settings.timeout}
c.Execute.interrupt_on_timeout = True
# The kernel and nbgrader talk over local TCP sockets: encrypt them with CurveZMQ keys when the
# kernel supports it (ipykernel does; without it, ipykernel warns at every start).
c.KernelManager.transport_encryption = "auto"
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
# A student who deletes a test cell gets it back (edited ones are always restored).
c.OverwriteCells.add_missing_cells = True
# Hidden tests stay out of the feedback (nbgrader issues #917, #1363).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.Exchange.root = r"{settings.exchange}"
# make zip-collect: files in downloaded/<assignment>/archive/*.zip named
# <student>_<notebook>.ipynb (student ids without "_"), as most LMS downloads can be renamed to.
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[A-Za-z0-9\\-]+)_(?P<file_id>[^/]+)\\.ipynb$"
)
'''


@dataclass(frozen=True)
class Written:
    """What :func:`write_course` produced, and the parts it had to leave out."""

    notebooks: list[Path]
    skipped: list[str]


def write_course(settings: Settings = Settings(), rubric: Rubric | None = None) -> Written:
    """Write ``settings.course``: ``nbgrader_config.py`` and ``source/<assignment>/``.

    A part whose solution module does not exist yet is skipped (and reported), so the course
    can be generated while parts are being written.
    """
    rubric = rubric or load_rubric()
    groups = dict(settings.groups or default_groups(rubric))
    for name, numbers in groups.items():
        unknown = [n for n in numbers if n not in rubric.parts]
        if unknown:
            raise ValueError(f"assignment {name} names parts {unknown} that rubric.toml lacks")
    settings.course.mkdir(parents=True, exist_ok=True)
    (settings.course / "nbgrader_config.py").write_text(nbgrader_config(settings), "utf-8")
    source = settings.course / "source"
    if source.exists():
        shutil.rmtree(source)
    written: list[Path] = []
    skipped: list[str] = []
    for assignment, numbers in groups.items():
        ready = []
        for part in (rubric.parts[n] for n in numbers):
            missing = missing_files(part)
            if missing:
                skipped.append(f"part {part.number} ({part.module}): {missing} does not exist yet")
            else:
                ready.append(part)
        if not ready:
            continue
        folder = source / assignment
        _write_support(folder, ready)
        for part in ready:
            target = folder / f"{notebook_name(part)}.ipynb"
            nbformat.write(build_notebook(part, rubric), target)
            written.append(target)
    return Written(written, skipped)


def missing_files(part: Part) -> str | None:
    """The first file a part's notebook is made from that is missing, or None."""
    for relative in (
        f"solutions/{part.module}.py",
        f"tests/checks/part{part.number}_{part.module}.py",
    ):
        if not (ROOT / relative).is_file():
            return relative
    return None


def _write_support(folder: Path, parts: list[Part]) -> None:
    """The files the assignment's notebooks import when a student runs them."""
    for relative in SUPPORT_FILES:
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relative, target)
    for part in parts:
        name = f"tests/checks/part{part.number}_{part.module}.py"
        shutil.copyfile(ROOT / name, folder / name)
    # The stub of the shared argument checks: they hold no solution, and part code imports them.
    shutil.copyfile(ROOT / "assignments" / "_validate.py", folder / "_validate.py")
    rubric_text = (ROOT / "rubric.toml").read_text(encoding="utf-8")
    (folder / "rubric.toml").write_text(visible_rubric(rubric_text), encoding="utf-8")
