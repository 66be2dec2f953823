"""Build the student bundle: the repository a course publishes to its students.

It holds the stubs, the visible checks and what they need to run, the rubric without its
hidden checks, the datasets and recipes, a README and a Makefile whose ``make test`` scores the
student's own code. It holds no solution and no hidden check.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from autograder.build.readme import parts_table, visible_rubric
from autograder.build.shipping import check_files, copy_files, runtime_files
from autograder.core.rubric import Rubric, load_rubric
from autograder.core.paths import ROOT

TEMPLATES = Path(__file__).resolve().parent / "templates"
BUNDLED = ("conftest.py", "requirements.txt", "pyproject.toml")
DATA = ("datasets", "recipes")
"""Part 9's data: the frozen evaluation sets and each task's recipe."""
"""Files of the repository's root that a student's ``make test`` reads."""



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
    copy_files(runtime_files(), destination)
    copy_files(check_files(rubric.parts.values()), destination)
    copy_files([ROOT / name for name in BUNDLED], destination)
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
