"""Any input to the grader, however malformed, is read for what it holds and never crashes it.

Hypothesis generates notebooks (JSON of any shape, broken JSON, deep nesting), zips (odd,
long, escaping, duplicate and non-UTF-8 names, encrypted flags, links, every compression,
corrupted bytes) and folders (links, odd names, binary files) and hands each to
:func:`autograder.grader.submission.prepare`. It must return the module files it could read
and say what was wrong with the rest; nothing may land outside its scratch folder.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from autograder.core.rubric import load_rubric
from autograder.grader.grade import grade
from autograder.grader.submission import MAX_PROBLEMS, SubmissionError, prepare

RUBRIC = load_rubric()
MODULES = sorted(p.module for p in RUBRIC.parts.values())
FUZZ = settings(
    max_examples=700,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
headers = st.builds(
    lambda module, index, count: f"# {module}.py [{index}/{count}]\n",
    st.sampled_from([*MODULES, "os", "evil name", ""]),
    st.integers(-1, 3),
    st.integers(0, 3),
)
sources = st.one_of(
    st.text(max_size=40),
    st.builds(lambda h, body: h + body, headers, st.text(max_size=40)),
    st.lists(st.one_of(st.text(max_size=10), json_values), max_size=4),
    json_values,
)
cells = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"cell_type": st.sampled_from(["code", "markdown", 3, None]), "source": sources}
    ),
)
notebook_bytes = st.one_of(
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.builds(
        lambda c, extra: json.dumps({"cells": c, **extra}).encode(),
        st.lists(cells, max_size=6),
        st.dictionaries(st.text(max_size=5), json_values, max_size=2),
    ),
    st.binary(max_size=200),
    st.integers(1000, 200_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1000, 200_000).map(lambda depth: b'{"cells": ' + b"[" * depth),
)
names = st.one_of(
    st.sampled_from(
        [
            "qkv.py",
            "masks.py",
            "part2_qkv.ipynb",
            "work/qkv.py",
            "../../qkv.py",
            "/etc/qkv.py",
            "C:\\qkv.py",
            "a/../../b.py",
            "dir/",
            "",
            ".",
            "x" * 300 + ".py",
            "\u00e9t\u00e9/qkv.py",
            "nul\0byte.py",
        ]
    ),
    st.text(min_size=1, max_size=30),
)


def _inside(root: Path, scratch: Path) -> None:
    for folder, _, files in os.walk(scratch):
        for name in files:
            path = Path(folder) / name
            assert path.resolve().is_relative_to(scratch.resolve())


def _prepared(submission: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        try:
            prepared = prepare(submission, Path(scratch), RUBRIC)
        except SubmissionError:
            return
        assert len(prepared.problems) <= MAX_PROBLEMS + 1
        assert all(len(p) < 600 for p in prepared.problems)
        for path in prepared.folder.iterdir():
            assert path.suffix == ".py" and path.stem in MODULES
        _inside(Path(scratch), Path(scratch))


@FUZZ
@given(notebooks=st.lists(notebook_bytes, min_size=1, max_size=4))
def test_any_folder_of_notebooks_is_read_for_what_it_holds(tmp_path_factory, notebooks):
    folder = tmp_path_factory.mktemp("notebooks")
    for index, data in enumerate(notebooks):
        (folder / f"part{index}_nb.ipynb").write_bytes(data)
    _prepared(folder)


@st.composite
def zips(draw: st.DrawFn) -> bytes:
    """A zip file's bytes: odd members, flags and compressions, sometimes corrupted."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "s.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for _ in range(draw(st.integers(0, 5))):
                info = zipfile.ZipInfo(draw(names) or "x")
                info.compress_type = draw(
                    st.sampled_from(
                        [
                            zipfile.ZIP_STORED,
                            zipfile.ZIP_DEFLATED,
                            zipfile.ZIP_BZIP2,
                            zipfile.ZIP_LZMA,
                        ]
                    )
                )
                if draw(st.booleans()):
                    info.flag_bits |= 0x1  # claims to be encrypted
                if draw(st.booleans()):
                    info.external_attr = (0o120777 if draw(st.booleans()) else 0o100644) << 16
                body = draw(st.one_of(st.binary(max_size=200), notebook_bytes))
                try:
                    archive.writestr(info, body)
                except (ValueError, UnicodeEncodeError):
                    continue
        data = bytearray(path.read_bytes())
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


# A member with an empty name, found by CI: ZipInfo.is_dir() raised IndexError on it.
EMPTY_NAME_ZIP = bytes.fromhex(
    "504b03041400000000000000210000000000000000000000000000000000504b0102140314000000"
    "000000002100000000000000000000000000000000000000000000000000800100000000504b0506"
    "00000000010001002e0000001e0000000000"
)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@FUZZ
@given(data=zips())
@example(data=EMPTY_NAME_ZIP)
def test_any_zip_is_read_for_what_it_holds(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("zip") / "submission.zip"
    path.write_bytes(data)
    _prepared(path)


@FUZZ
@given(
    entries=st.lists(
        st.tuples(
            st.lists(st.binary(min_size=1, max_size=12), min_size=1, max_size=3),
            st.sampled_from(["file", "link-out", "link-loop", "dir"]),
            st.binary(max_size=100),
        ),
        max_size=6,
    )
)
def test_any_folder_is_read_for_what_it_holds(tmp_path_factory, entries):
    folder = tmp_path_factory.mktemp("folder")
    for parts, kind, body in entries:
        names = [p.replace(b"/", b"_").replace(b"\0", b"_") or b"_" for p in parts]
        names = [b"_" + n if n in (b".", b"..") else n for n in names]
        path = os.path.join(os.fsencode(folder), *names)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if kind == "file":
                with open(path, "wb") as handle:
                    handle.write(body)
            elif kind == "dir":
                os.makedirs(path, exist_ok=True)
            else:
                os.symlink(b"/etc/passwd" if kind == "link-out" else path, path)
        except OSError:
            continue
    _prepared(folder)


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 100_000,
        json.dumps({"cells": [1, "two", None, {"cell_type": "code"}]}).encode(),
        json.dumps({"cells": {"not": "a list"}}).encode(),
        json.dumps([{"cells": []}]).encode(),
        "\ufeff{}".encode(),
        b"\xff\xfe not utf-8",
    ],
)
def test_a_malformed_notebook_still_gives_results(tmp_path, content):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "part2_qkv.ipynb").write_bytes(content)
    report = grade(folder, parts=[2])
    assert report.score == 0
    assert report.problems, "what was wrong is said"
    assert all(r.message for p in report.parts for r in p.results)
