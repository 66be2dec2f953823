"""Turn what a student handed in into a folder of module files, without trusting it.

A submission is a folder of module files (``qkv.py``, ...), a zip of them, or a folder of
the part notebooks. Zips are unpacked member by member: a member with an absolute path, a
``..``, a link or an oversized body is left out (and reported), so no file lands outside the
scratch folder and the rest of the work is still graded. Notebooks
become module files through the notebook generator's extractor.
"""

from __future__ import annotations

import json
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.core.notebook import module_in_notebook
from autograder.core.rubric import Rubric

MAX_MEMBER_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 50 * 1024 * 1024


class SubmissionError(Exception):
    """The submission cannot be read at all (every part then scores zero)."""


@dataclass
class Prepared:
    """A submission as module files in ``folder``, and what was wrong with the input."""

    folder: Path
    problems: list[str] = field(default_factory=list)


def _safe_members(
    archive: zipfile.ZipFile,
) -> tuple[list[tuple[zipfile.ZipInfo, PurePosixPath]], list[str]]:
    """The members that may be unpacked, and why each of the others was left out."""
    members, problems = [], []
    total = 0
    for info in archive.infolist():
        name = PurePosixPath(info.filename)
        if info.is_dir():
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            problems.append(f"the zip holds a symbolic link ({info.filename}): left out")
        elif name.is_absolute() or ".." in name.parts or ":" in info.filename:
            problems.append(f"{info.filename} escapes its folder in the zip: left out")
        elif info.file_size > MAX_MEMBER_BYTES:
            problems.append(f"{info.filename} is larger than {MAX_MEMBER_BYTES} bytes: left out")
        elif total + info.file_size > MAX_TOTAL_BYTES:
            problems.append(f"{info.filename}: the zip unpacks to over {MAX_TOTAL_BYTES} bytes")
        else:
            total += info.file_size
            members.append((info, name))
    return members, problems


def unpack_zip(archive_path: Path, destination: Path) -> list[str]:
    """Unpack ``archive_path`` into ``destination``; returns what was left out and why."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            members, problems = _safe_members(archive)
            for info, name in members:
                target = destination.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, MAX_MEMBER_BYTES)
    except zipfile.BadZipFile as error:
        raise SubmissionError(f"{archive_path.name} is not a valid zip file: {error}") from None
    return problems


def _module_folder(root: Path, modules: set[str]) -> Path:
    """The folder (root or one level down, as zips often wrap files) holding the modules."""
    candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
    best = max(candidates, key=lambda folder: sum((folder / f"{m}.py").is_file() for m in modules))
    return best


def prepare(submission: Path, scratch: Path, rubric: Rubric) -> Prepared:
    """Copy ``submission`` into ``scratch`` as a flat folder of the part modules."""
    modules = {part.module for part in rubric.parts.values()}
    destination = scratch / "submission"
    destination.mkdir(parents=True)
    raw = scratch / "raw"
    raw.mkdir()
    left_out: list[str] = []
    if submission.is_file() and submission.suffix == ".zip":
        left_out = unpack_zip(submission, raw)
    elif submission.is_dir():
        for path in submission.rglob("*"):
            if path.is_symlink() or not path.is_file():
                continue
            target = raw / path.relative_to(submission)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    else:
        raise SubmissionError(f"{submission} is neither a folder nor a .zip file")
    prepared = Prepared(destination, left_out)
    source = _module_folder(raw, modules)
    notebooks = sorted(raw.rglob("*.ipynb"))
    if not any((source / f"{m}.py").is_file() for m in modules) and notebooks:
        _from_notebooks(notebooks, destination, prepared, rubric)
    else:
        for module in sorted(modules):
            path = source / f"{module}.py"
            if path.is_file():
                shutil.copyfile(path, destination / path.name)
    if not any(destination.iterdir()):
        prepared.problems.append(
            "no part module was found (expected files such as qkv.py, or the part notebooks)"
        )
    return prepared


def _from_notebooks(
    notebooks: list[Path], destination: Path, prepared: Prepared, rubric: Rubric
) -> None:
    """Write the module of every readable part notebook; note the unreadable ones."""
    for path in notebooks:
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            prepared.problems.append(f"{path.name} is not a valid notebook (not JSON: {error})")
            continue
        try:
            extracted = module_in_notebook(notebook, {p.module for p in rubric.parts.values()})
        except ValueError as error:
            prepared.problems.append(f"{path.name}: {error}")
            continue
        if extracted is not None:
            module, code = extracted
            (destination / f"{module}.py").write_text(code, encoding="utf-8")
