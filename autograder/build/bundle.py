"""Build the student bundle: the repository a course publishes to its students.

It holds the stubs (``assignments/``), the part notebooks (``notebooks/``), the visible
checks and what they need to run, the rubric without its hidden checks, part 9's data, the
students' pages and figures (``docs/``), a README and a Makefile. ``make test`` there scores
the student's own modules with a lean environment (torch, NumPy, pytest, hypothesis, tqdm,
matplotlib); ``make lab`` adds JupyterLab for the notebook route. It holds no solution and
no hidden check.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from autograder.build.notebook import notebook_name, student_notebook
from autograder.build.readme import parts_table, visible_rubric
from autograder.build.shipping import check_files, copy_files, runtime_files
from autograder.core.paths import ROOT
from autograder.core.rubric import Rubric, load_rubric

TEMPLATES = Path(__file__).resolve().parent / "templates"
BUNDLED = ("conftest.py", "pyproject.toml")
"""Files of the repository's root that a student's ``make test`` reads."""
DATA = ("datasets", "recipes")
"""Part 9's data: the frozen evaluation sets and each task's recipe."""
LEAN = ("numpy", "hypothesis", "pytest", "tqdm", "matplotlib")
"""What the module route needs besides torch (installed on its own, as in the repository)."""
LAB = ("jupyterlab==4.6.6", "ipykernel==7.4.0", "nbgrader==0.9.6")
"""What the notebook route adds: JupyterLab, its kernel, and nbgrader's Validate button."""


def pinned(names: tuple[str, ...], requirements: str) -> list[str]:
    """The lines of ``requirements`` that pin the packages ``names`` (in that order)."""
    pins = {}
    for line in requirements.splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==", line.strip())
        if match:
            pins[match.group(1).lower()] = line.strip()
    missing = [n for n in names if n not in pins]
    if missing:
        raise ValueError(f"requirements.txt pins no version of {', '.join(missing)}")
    return [pins[n] for n in names]


def _notebooks(destination: Path, rubric: Rubric) -> None:
    """``notebooks/partN/<notebook>.ipynb`` as released, with the data their code reads."""
    for part in rubric.parts.values():
        if not (ROOT / "solutions" / f"{part.module}.py").is_file():
            continue
        folder = destination / "notebooks" / f"part{part.number}"
        folder.mkdir(parents=True)
        nbformat.write(student_notebook(part, rubric), folder / f"{notebook_name(part)}.ipynb")
        for data in part.data:
            if (ROOT / data).is_dir():
                shutil.copytree(ROOT / data, folder / data)


def build(destination: Path, rubric: Rubric | None = None) -> Path:
    """Write the bundle into ``destination`` (emptied first) and a zip beside it."""
    rubric = rubric or load_rubric()
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "assignments", destination / "assignments", ignore=ignore)
    for data in DATA:
        if (ROOT / data).is_dir():
            shutil.copytree(ROOT / data, destination / data, ignore=ignore)
    for pages in ("parts", "figures"):
        if (ROOT / "docs" / pages).is_dir():
            shutil.copytree(ROOT / "docs" / pages, destination / "docs" / pages, ignore=ignore)
    copy_files(runtime_files(), destination)
    copy_files(check_files(rubric.parts.values()), destination)
    copy_files([ROOT / name for name in BUNDLED], destination)
    _notebooks(destination, rubric)
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    (destination / "requirements.txt").write_text(
        "# The module route: make test. torch is installed on its own (see the Makefile).\n"
        + "\n".join(pinned(LEAN, requirements))
        + "\n"
    )
    (destination / "requirements-lab.txt").write_text(
        "# The notebook route: make lab adds these to the module route's environment.\n"
        + "\n".join(LAB)
        + "\n"
    )
    (destination / "rubric.toml").write_text(
        visible_rubric((ROOT / "rubric.toml").read_text(encoding="utf-8")), encoding="utf-8"
    )
    shutil.copy2(TEMPLATES / "student.mk", destination / "Makefile")
    readme = (TEMPLATES / "student-README.md").read_text(encoding="utf-8")
    bonus = [c for c in rubric.checks.values() if c.bonus]
    visible = sum(c.points for c in bonus if not c.hidden)
    hidden = sum(c.points for c in bonus if c.hidden)
    readme = readme.replace("{parts_table}", parts_table(rubric)).replace(
        "{bonus}", f"{visible:g} in the visible checks, {hidden:g} more in hidden ones"
    )
    (destination / "README.md").write_text(readme, encoding="utf-8")
    (destination / ".gitignore").write_text(
        ".venv/\n__pycache__/\n.hypothesis/\n.pytest_cache/\n.ipynb_checkpoints/\n"
        "notebooks/.modules/\nsubmission.zip\n"
    )
    archive = shutil.make_archive(str(destination), "zip", destination.parent, destination.name)
    return Path(archive)
