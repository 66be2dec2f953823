"""The nbgrader course directory: its configuration, nbgrader's API on it, the gradebook.

Every step of the workflow (:mod:`.release`, :mod:`.exchange`, :mod:`.autograde`,
:mod:`.grades`, :mod:`.crosscheck`) is a function of the course directory that
:mod:`autograder.build.nbgrader_course` writes (``build/course`` by default).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from autograder.core.paths import ROOT

SCHEDULE = "schedule.json"
"""In the course directory: each assignment's due date, applied by the release step."""
HIDDEN_CALL = re.compile(r'notebook\.hidden_check\("(?P<id>\w+)"\)')
VISIBLE_CALL = re.compile(r'notebook\.check\("(?P<id>\w+)"\)')


class CourseError(Exception):
    """A step cannot run; the message says what to do first."""


# -- the course directory ---------------------------------------------------------------


def require_course(course_dir: Path) -> Path:
    """``course`` if it is a generated course directory; otherwise say how to make one."""
    if not (course_dir / "nbgrader_config.py").is_file():
        raise CourseError(
            f"{course_dir} is not a course directory (no nbgrader_config.py): run `make notebooks` "
            f"first"
        )
    return course_dir.resolve()


def scripts_on_path() -> None:
    """nbgrader runs the ``alembic`` and ``jupyter`` scripts of its environment by name."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def gradebook(course_dir: Path):
    """nbgrader's ``Gradebook`` of ``course``; a CourseError when nothing made one yet."""
    from nbgrader.api import Gradebook

    database = course_dir / "gradebook.db"
    if not database.is_file():
        raise CourseError(f"{course_dir} has no gradebook yet: run `make release` first")
    scripts_on_path()
    return Gradebook(f"sqlite:///{database}")


def api(course_dir: Path, **overrides: Any):
    """nbgrader's API on ``course``, configured by its ``nbgrader_config.py``."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    scripts_on_path()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
    config.CourseDirectory.root = str(course_dir)
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        config[section][name] = value
    return NbGraderAPI(config=config)


def exchange_root(course_dir: Path) -> Path:
    """The exchange the course's configuration names, made if missing.

    nbgrader refuses an exchange that does not exist ("The exchange directory does not
    exist"); every user must be able to write into it, with the sticky bit set.
    """
    root = Path(api(course_dir).config.Exchange.root)
    if not root.is_dir():
        root.mkdir(parents=True)
        root.chmod(0o1777)
    return root


def assignments(course_dir: Path, stage: str = "source") -> list[str]:
    """The assignments of ``course`` that have a folder in ``stage`` (source, release...)."""
    folder = course_dir / stage
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def grading_environment() -> dict[str, str]:
    """Where notebooks find the course's reference modules and hidden checks when graded."""
    return {"COURSE_ROOT": str(ROOT)}


def install_kernel(runtime: Path = ROOT) -> Path:
    """Install the ``course`` kernel: this Python, with the course's runtime on its path.

    The notebooks import ``autograder.core`` and the visible checks from ``runtime`` (this
    repository for the instructor, the student bundle's folder for a student): the released
    assignments hold only notebooks and their data.
    """
    import json

    from ipykernel.kernelspec import install

    folder = Path(
        install(kernel_name="course", display_name="Python 3 (course)", prefix=sys.prefix)
    )
    spec = json.loads((folder / "kernel.json").read_text())
    spec["env"] = {"PYTHONPATH": str(runtime)}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return folder
