"""Build the student bundle: the repository a course publishes to its students.

It holds the stubs, the visible checks and what they need to run, the rubric without its
hidden checks, the datasets, a README and a Makefile whose ``make test`` scores the
student's own code. It holds no solution and no hidden check.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from .rubric import Rubric, load_rubric

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"

# The tooling a student's `make test` needs (rubric, loading, shortcut check, score table).
RUNTIME = [
    "autograder/__init__.py",
    "autograder/loader.py",
    "autograder/profiles.py",
    "autograder/report.py",
    "autograder/rubric.py",
    "autograder/runner.py",
    "autograder/shortcuts.py",
    "tests/__init__.py",
    "conftest.py",
    "tests/harness.py",
    "tests/reference.py",
    "tests/strategies.py",
    "tests/checks/__init__.py",
    "requirements.txt",
    "pyproject.toml",
]


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


def parts_table(rubric: Rubric) -> str:
    """Markdown table of the parts with their visible, hidden and bonus points."""
    rows = [
        "| # | module | what you build | visible points | hidden points | bonus |",
        "|---|---|---|---|---|---|",
    ]
    for part in rubric.parts.values():
        visible = rubric.points(part.number, include_hidden=False)
        hidden = rubric.points(part.number) - visible
        bonus = sum(c.points for c in rubric.checks_of(part.number) if c.bonus)
        rows.append(
            f"| {part.number} | `{part.module}` | {part.title} | {visible:g} | {hidden:g} "
            f"| {bonus:g} |"
        )
    return "\n".join(rows)


README_BEGIN, README_END = "<!-- parts:begin -->", "<!-- parts:end -->"


def readme_with_parts(text: str, rubric: Rubric) -> str:
    """``text`` with the table between the README's parts markers regenerated."""
    head, _, rest = text.partition(README_BEGIN)
    _, _, tail = rest.partition(README_END)
    return f"{head}{README_BEGIN}\n{parts_table(rubric)}\n{README_END}{tail}"


def build(destination: Path, rubric: Rubric | None = None) -> Path:
    """Write the bundle into ``destination`` (emptied first) and a zip beside it."""
    rubric = rubric or load_rubric()
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "assignments", destination / "assignments", ignore=ignore)
    if (ROOT / "datasets").is_dir():
        shutil.copytree(ROOT / "datasets", destination / "datasets", ignore=ignore)
    for relative in RUNTIME:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    for check_file in sorted((ROOT / "tests" / "checks").glob("part*_*.py")):
        shutil.copy2(check_file, destination / "tests" / "checks" / check_file.name)
    (destination / "rubric.toml").write_text(
        visible_rubric((ROOT / "rubric.toml").read_text(encoding="utf-8")), encoding="utf-8"
    )
    shutil.copy2(TEMPLATES / "student.mk", destination / "Makefile")
    readme = (TEMPLATES / "student-README.md").read_text(encoding="utf-8")
    (destination / "README.md").write_text(
        readme.replace("{parts_table}", parts_table(rubric)), encoding="utf-8"
    )
    (destination / ".gitignore").write_text(".venv/\n__pycache__/\n.hypothesis/\n.pytest_cache/\n")
    archive = shutil.make_archive(str(destination), "zip", destination.parent, destination.name)
    return Path(archive)
