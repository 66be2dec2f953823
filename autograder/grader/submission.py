"""Turn what a student handed in into a folder of module files, without trusting it.

A submission is a folder of module files (``qkv.py``, ...), a zip of them, a folder (or a
zip) of the part notebooks, or a single module or notebook. Whatever it holds, however
malformed, :func:`prepare` returns the module files it could read and a list of what was
wrong with the rest:

- zip members with an absolute path, a ``..``, a link, a name too long for the disk, an
  encryption, a compression that cannot be read, an oversized body, a name seen before or
  beyond the file count are left out, each with its reason; the rest is unpacked;
- a folder is read the same way: links and special files are left out;
- notebooks whose JSON is malformed, of an unexpected shape or nested without end are
  reported and the other notebooks still read.

No file lands outside the scratch folder, and the total size and count are bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.core.notebook import module_in_notebook
from autograder.core.paths import ASSIGNMENTS
from autograder.core.rubric import Rubric

MAX_MEMBER_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 50 * 1024 * 1024
MAX_FILES = 2000
MAX_NAME_BYTES = 200
"""The longest file name component kept (file systems refuse more than 255 bytes)."""
MAX_PROBLEMS = 50
SPEEDRUN = "speedrun.toml"
"""The part 9 speedrun's recipe (:mod:`autograder.grader.speedrun`): kept beside the modules."""
GIVEN = tuple(sorted(p.stem for p in ASSIGNMENTS.glob("*.py") if not p.stem.startswith("__")))
"""The course's modules (parts and given ones) whose imports a notebook writes plainly."""


class SubmissionError(Exception):
    """The submission cannot be read at all (every part then scores zero)."""


def _shown(name: str) -> str:
    """A file name from the submission, safe to print: short, and its odd characters escaped."""
    text = repr(name)[1:-1]
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass
class Prepared:
    """A submission as module files in ``folder``, and what was wrong with the input."""

    folder: Path
    problems: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("... and more problems, not listed")


@dataclass
class _Tally:
    files: int = 0
    bytes: int = 0
    names: set[str] = field(default_factory=set)

    def admit(self, name: str, size: int, prepared: Prepared) -> bool:
        """Whether one more file of ``size`` bytes called ``name`` may be kept."""
        shown = _shown(name)
        if name in self.names:
            prepared.note(f"{shown} appears twice: the first copy is kept")
        elif size > MAX_MEMBER_BYTES:
            prepared.note(f"{shown} is larger than {MAX_MEMBER_BYTES} bytes: left out")
        elif self.files >= MAX_FILES:
            prepared.note(f"{shown}: the submission holds more than {MAX_FILES} files")
        elif self.bytes + size > MAX_TOTAL_BYTES:
            prepared.note(f"{shown}: the submission is larger than {MAX_TOTAL_BYTES} bytes")
        else:
            self.files += 1
            self.bytes += size
            self.names.add(name)
            return True
        return False


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The path components of ``name`` if it stays inside its folder and fits on disk."""
    path = PurePosixPath(name.replace("\\", "/"))
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if path.is_absolute() or ".." in parts or ":" in name or "\0" in name or not parts:
        return None
    if any(len(p.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for p in parts):
        return None
    return parts


def unpack_zip(archive_path: Path, destination: Path, prepared: Prepared) -> None:
    """Unpack every member of ``archive_path`` that may be, noting why the others were not."""
    tally = _Tally()
    try:
        archive = zipfile.ZipFile(archive_path)
    except Exception as error:
        reason = f"{type(error).__name__}: {str(error)[:200]}"
        raise SubmissionError(
            f"{_shown(archive_path.name)} is not a readable zip ({reason})"
        ) from None
    with archive:
        for info in archive.infolist():
            shown = _shown(info.filename)
            # ZipInfo.is_dir() indexes the name's last character: an empty name breaks it.
            if info.filename.endswith("/"):
                continue
            parts = _safe_parts(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                prepared.note(f"the zip holds a symbolic link ({shown}): left out")
            elif parts is None:
                prepared.note(f"{shown} escapes its folder or cannot be a file name: left out")
            elif info.flag_bits & 0x1:
                prepared.note(f"{shown} is encrypted: left out")
            elif tally.admit("/".join(parts), info.file_size, prepared):
                target = destination.joinpath(*parts)
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as source, target.open("wb") as sink:
                        # Never more than the size the header announced, whatever the data.
                        sink.write(source.read(min(info.file_size, MAX_MEMBER_BYTES)))
                except Exception as error:
                    prepared.note(f"{shown} cannot be unpacked ({type(error).__name__}): left out")
                    target.unlink(missing_ok=True)


def copy_folder(source: Path, destination: Path, prepared: Prepared) -> None:
    """Copy the regular files of ``source`` (no links, no special files) into ``destination``."""
    tally = _Tally()
    for folder, folders, files in os.walk(source, followlinks=False):
        folders.sort()
        for name in sorted(files):
            path = Path(folder) / name
            relative = os.fsdecode(path.relative_to(source))
            try:
                info = path.lstat()
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                prepared.note(f"{_shown(relative)} is not a regular file (a link?): left out")
                continue
            parts = _safe_parts(relative)
            if parts is None or not tally.admit(relative, info.st_size, prepared):
                continue
            target = destination.joinpath(*parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target, follow_symlinks=False)
            except OSError as error:
                prepared.note(f"{_shown(relative)} cannot be read ({error.strerror}): left out")


def _module_folder(root: Path, modules: set[str]) -> Path:
    """The folder (root or one level down, as zips often wrap files) holding the modules."""
    candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())]
    return max(candidates, key=lambda folder: sum((folder / f"{m}.py").is_file() for m in modules))


def prepare(submission: Path, scratch: Path, rubric: Rubric) -> Prepared:
    """Copy ``submission`` into ``scratch`` as a flat folder of the part modules."""
    modules = {part.module for part in rubric.parts.values()}
    destination = scratch / "submission"
    destination.mkdir(parents=True)
    raw = scratch / "raw"
    raw.mkdir()
    prepared = Prepared(destination)
    if submission.is_file() and submission.suffix == ".zip":
        unpack_zip(submission, raw, prepared)
    elif submission.is_file() and submission.suffix in (".py", ".ipynb"):
        if _Tally().admit(submission.name, submission.stat().st_size, prepared):
            shutil.copyfile(submission, raw / submission.name)
    elif submission.is_dir():
        copy_folder(submission, raw, prepared)
    else:
        raise SubmissionError(
            f"{_shown(submission.name)} is not a folder, a .zip, a module or a notebook"
        )
    source = _module_folder(raw, modules)
    notebooks = sorted(p for p in raw.rglob("*.ipynb") if p.is_file())
    if not any((source / f"{m}.py").is_file() for m in modules) and notebooks:
        _from_notebooks(notebooks, destination, prepared, modules)
    else:
        for module in sorted(modules):
            path = source / f"{module}.py"
            if path.is_file():
                shutil.copyfile(path, destination / path.name)
    for folder in (source, raw):
        if (folder / SPEEDRUN).is_file():
            shutil.copyfile(folder / SPEEDRUN, destination / SPEEDRUN)
            break
    if not any(destination.iterdir()):
        prepared.note(
            "no part module was found (expected files such as qkv.py, or the part notebooks)"
        )
    return prepared


def _from_notebooks(
    notebooks: list[Path], destination: Path, prepared: Prepared, modules: set[str]
) -> None:
    """Write the module of every readable part notebook; note the unreadable ones."""
    for path in notebooks:
        shown = _shown(path.name)
        try:
            notebook = json.loads(path.read_bytes())
        except (ValueError, RecursionError, OSError) as error:
            reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            prepared.note(f"{shown} is not a valid notebook (not JSON: {reason})")
            continue
        try:
            extracted = module_in_notebook(notebook, modules, GIVEN)
        except ValueError as error:
            prepared.note(f"{shown}: {str(error)[:300]}")
            continue
        except (RecursionError, TypeError, AttributeError) as error:
            prepared.note(f"{shown} has an unexpected shape ({type(error).__name__})")
            continue
        if extracted is None:
            continue
        module, code = extracted
        target = destination / f"{module}.py"
        if target.exists():
            prepared.note(f"{shown} holds {module}.py again: the first notebook's is kept")
            continue
        target.write_text(code, encoding="utf-8", errors="surrogateescape")
