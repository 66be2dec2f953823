"""The generated nbgrader notebooks and their runtime, without a kernel (fast).

The end-to-end run through nbgrader is ``tests/test_nbgrader_e2e.py``.
"""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import nbformat
import pytest
import torch
from nbgrader.nbgraderformat import MetadataValidator

from autograder.build import cells as notebook_cells
from autograder.build import nbgrader_course as notebooks
from autograder.build.stubs import find_regions
from autograder.core import notebook as notebook_runtime
from autograder.core.assemble import plan
from autograder.core.rubric import load_rubric
from autograder.nbgrader import autograde, crosscheck, release
from autograder.nbgrader.course_dir import CourseError

RUBRIC = load_rubric()
ROOT = Path(__file__).resolve().parent.parent
READY = [p for p in RUBRIC.parts.values() if notebooks.missing_files(p) is None]
MODULES = {p.module for p in RUBRIC.parts.values()}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> notebooks.Written:
    root = tmp_path_factory.mktemp("generated")
    settings = notebooks.Settings(course_dir=root / "course", exchange=root / "exchange")
    return notebooks.write_course(settings)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def test_every_ready_part_gets_a_notebook_and_the_rest_are_reported(course) -> None:
    names = {path.stem for path in course.notebooks}
    assert names == {notebooks.notebook_name(part) for part in READY}
    missing = [p for p in RUBRIC.parts.values() if p not in READY]
    assert len(course.skipped) == len(missing)
    for part in missing:
        assert any(f"part {part.number} " in line for line in course.skipped)


@pytest.mark.parametrize("part", READY, ids=lambda p: f"part{p.number}")
def test_notebook_follows_the_module_and_the_rubric(course, part) -> None:
    path = next(p for p in course.notebooks if p.stem == notebooks.notebook_name(part))
    notebook = nbformat.read(path, as_version=4)
    MetadataValidator().validate_nb(notebook)
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    solution = "\n".join(c.source for c in cells if _meta(c).get("solution"))
    module_text = (ROOT / "solutions" / f"{part.module}.py").read_text(encoding="utf-8")
    # Every marked region of the module is in a solution cell, and nowhere else.
    assert len(find_regions(solution)) == len(find_regions(module_text))
    assert not any("### BEGIN SOLUTION" in c.source for c in cells if not _meta(c).get("solution"))
    # No relative import survives: a notebook is not a package.
    assert "from ." not in "".join(c.source for c in cells)
    # One test cell per check, worth the rubric's points; hidden ones inside hidden regions.
    tests = [c for c in cells if _meta(c).get("grade")]
    assert len(tests) == len(RUBRIC.checks_of(part.number))
    for cell, check in zip(tests, RUBRIC.checks_of(part.number), strict=True):
        assert _meta(cell)["locked"] and _meta(cell)["points"] == check.points
        assert f'"{check.id}"' in cell.source
        assert ("### BEGIN HIDDEN TESTS" in cell.source) == check.hidden
        if check.hidden:
            assert check.id not in _meta(cell)["grade_id"]
    # nbgrader has no automatic extra credit: bonus checks count in the maximum score.
    every = sum(c.points for c in RUBRIC.checks_of(part.number))
    assert sum(_meta(c)["points"] for c in tests) == pytest.approx(every)
    assert notebook.metadata.kernelspec.name == "course"


def test_an_assignment_holds_its_notebooks_and_data_only(course) -> None:
    """The runtime comes from the course kernel's path; only notebooks and data ship."""
    for path in course.notebooks:
        folder = path.parent
        part = next(p for p in RUBRIC.parts.values() if p.stem == path.stem)
        shipped = {p.name for p in folder.iterdir()}
        assert shipped == {path.name, *part.data}, shipped
        assert not list(folder.rglob("*.py"))


def test_split_module_keeps_every_line_in_order() -> None:
    source = (ROOT / "solutions" / "qkv.py").read_text(encoding="utf-8")
    cells = notebook_cells.split_module(source)
    assert "\n".join(c.source for c in cells).split() == source.split()
    assert [c.solution for c in cells] == [False, True, True]


def test_hints_move_above_the_region() -> None:
    source = (
        "def f():\n    ### BEGIN SOLUTION\n    ### HINT: think\n    return 1\n"
        "    ### END SOLUTION\n"
    )
    moved = notebook_cells.hints_outside_regions(source)
    assert moved.index("# HINT: think") < moved.index("### BEGIN SOLUTION")
    assert "### HINT" not in moved


def test_assignment_groups_are_configurable(tmp_path: Path) -> None:
    groups, due = notebooks.parse_groups(["week1=1,2@2027-01-15T17:00", "week2=4"])
    assert groups == {"week1": (1, 2), "week2": (4,)}
    assert due == {"week1": "2027-01-15 17:00:00"}
    settings = notebooks.Settings(course_dir=tmp_path / "c", groups=groups, due=due)
    written = notebooks.write_course(settings)
    assert {p.parent.name for p in written.notebooks} == {"week1", "week2"}
    assert json.loads((tmp_path / "c" / "schedule.json").read_text()) == due
    for spec in ("week 1", "week1=1,x", "week1=1@someday"):
        with pytest.raises(ValueError, match=r"NAME=PARTS|due date"):
            notebooks.parse_groups([spec])


def test_the_exchange_is_found_relative_to_the_config(tmp_path: Path) -> None:
    """A course directory copied elsewhere points at the exchange beside it, not the old one."""
    settings = notebooks.Settings(
        course_dir=tmp_path / "a" / "course", exchange=tmp_path / "a" / "x"
    )
    notebooks.write_course(settings)
    copy = tmp_path / "b" / "course"
    shutil.copytree(tmp_path / "a" / "course", copy)
    for config in (copy / "nbgrader_config.py", copy / "student" / "nbgrader_config.py"):
        assert str(tmp_path / "a") not in config.read_text()
    from autograder.nbgrader.course_dir import api

    assert Path(api(copy).config.Exchange.root) == tmp_path / "b" / "x"


def _course(tmp_path: Path, namespace: dict, *, grading: bool) -> notebook_runtime.NotebookPart:
    part = RUBRIC.parts[3]
    return notebook_runtime.NotebookPart(
        number=3,
        module=part.module,
        builds_on=part.depends,
        forbidden=part.forbidden,
        folder=tmp_path,
        root=ROOT if grading else None,
        grading=grading,
        earlier=plan(part.depends, False, grading),
        raising=grading,
        _namespace=namespace,
    )


def test_a_failed_check_lets_run_all_go_on_and_the_total_adds_up(tmp_path, monkeypatch, capsys):
    _isolate_plain_modules(monkeypatch)
    (tmp_path / ".modules").mkdir()
    (tmp_path / ".modules" / "qkv.py").write_text(
        (ROOT / "solutions" / "qkv.py").read_text().replace("from ._validate", "from _validate")
    )
    (tmp_path / "part3").mkdir()
    namespace = {"split_heads": lambda x, n: x}
    course = _course(tmp_path / "part3", namespace, grading=False)
    course.install_earlier_parts()
    course.check("split_merge_round_trip")
    assert "FAILED" in capsys.readouterr().err
    total = course.summary()
    assert "FAILED   0 / " in total and "not run" in total
    assert "Total: 0 / 13 points in the visible checks." in total
    assert "builds on your qkv.py" in total


def test_runtime_saves_the_latest_run_of_each_module_cell(tmp_path: Path) -> None:
    history = [
        "# multihead.py [2/2]\nX = 1",
        "# multihead.py [1/2]\nimport torch",
        "print('not part of the module')",
        "# multihead.py [2/2]\nX = 2",
    ]
    course = _course(tmp_path / "part3", {"In": history}, grading=False)
    saved = course.save().read_text(encoding="utf-8")
    assert course.save() == tmp_path / ".modules" / "multihead.py"
    assert not (tmp_path / "part3" / "multihead.py").exists(), "nothing beside the notebook"
    assert saved.index("import torch") < saved.index("X = 2")
    assert "X = 1" not in saved and "not part" not in saved


def _isolate_plain_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runtime installs ``qkv`` and ``_validate`` as top-level modules; undo that after."""
    for name in ("qkv", "_validate"):
        monkeypatch.setitem(sys.modules, name, None)


def test_grading_uses_the_reference_of_earlier_parts(tmp_path: Path, monkeypatch) -> None:
    _isolate_plain_modules(monkeypatch)
    _course(tmp_path, {}, grading=True).install_earlier_parts()
    import solutions.qkv

    assert sys.modules["qkv"] is solutions.qkv


def test_students_get_their_own_earlier_parts(tmp_path: Path, monkeypatch) -> None:
    _isolate_plain_modules(monkeypatch)
    (tmp_path / ".modules").mkdir()
    (tmp_path / "part3").mkdir()
    (tmp_path / ".modules" / "qkv.py").write_text("WHO = 'student'\n", encoding="utf-8")
    course = _course(tmp_path / "part3", {}, grading=False)
    course.install_earlier_parts()
    assert sys.modules["qkv"].WHO == "student"
    (tmp_path / ".modules" / "qkv.py").unlink()
    with pytest.raises(notebook_runtime.NotebookSetupError, match="Run that notebook first"):
        course.install_earlier_parts()


def test_hidden_check_failure_shows_only_its_message(tmp_path: Path, monkeypatch) -> None:
    _isolate_plain_modules(monkeypatch)
    course = _course(tmp_path, {"MultiHeadAttention": torch.nn.Identity}, grading=True)
    course.install_earlier_parts()
    with pytest.raises(notebook_runtime.HiddenCheckFailed) as caught:
        course.hidden_check("multihead_single_head_is_self_attention")
    rendered = "\n".join(caught.value._render_traceback_())
    assert rendered.startswith("HiddenCheckFailed: ")
    assert "def test_" not in rendered and "tests/hidden" not in rendered


def test_forbidden_shortcut_fails_every_check(tmp_path: Path) -> None:
    history = ["# multihead.py [1/1]\nfrom torch.nn import MultiheadAttention\n"]
    course = _course(tmp_path, {"In": history}, grading=True)
    course._namespace.update(module=types.ModuleType("x"))
    with pytest.raises(notebook_runtime.CheckFailed, match="shortcut"):
        course.check("split_merge_round_trip")


def test_crosscheck_lists_checks_scored_higher_by_nbgrader() -> None:
    ours = {("part1", "s"): {"a": 1.0, "b": 2.0, "c": 1.0}}
    theirs = {("part1", "s"): {"a": 1.0, "b": 0.0}}
    found = crosscheck.compare(ours, theirs)
    assert [(d.check, d.nbgrader, d.isolated) for d in found] == [("b", 2.0, 0.0), ("c", 1.0, 0.0)]
    results = {
        "tests": [
            {"name": "a (1 point)", "score": 1, "extra_data": {"check": "a"}},
            {"name": "b", "score": 0, "extra_data": {"check": "b"}},
            {"name": "part 1 · c: no id as data", "score": 1},
        ]
    }
    assert crosscheck.isolated_scores(results) == {"a": 1.0, "b": 0.0}


def test_reasons_for_ungradable_submissions() -> None:
    assert "JSON" in autograde.reason_of("nbformat.reader.NotJSONError: Notebook does not")
    assert "kernel died" in autograde.reason_of("nbclient.exceptions.DeadKernelError: Kernel died")
    assert autograde.reason_of("") == "nbgrader failed without saying why"
    locked = autograde.reason_of("sqlite3.OperationalError: database is locked")
    assert autograde.BUSY in locked


def test_steps_say_what_to_run_first(tmp_path: Path) -> None:
    with pytest.raises(CourseError, match="make notebooks"):
        release.release(tmp_path)


@pytest.mark.parametrize("part", READY, ids=lambda p: f"part{p.number}")
def test_extract_module_gives_the_module_back(course, part) -> None:
    path = next(p for p in course.notebooks if p.stem == notebooks.notebook_name(part))
    module, code = notebook_runtime.module_in_notebook(nbformat.read(path, as_version=4), MODULES)
    assert module == part.module
    compile(code, f"{module}.py", "exec")
    original = (ROOT / "solutions" / f"{part.module}.py").read_text(encoding="utf-8")
    assert len(find_regions(code)) == len(find_regions(original))
    for dependency in part.depends:
        assert f"from .{dependency} import" in code
    if "from ._validate import" in original:
        assert "from ._validate import" in code


def test_extract_module_refuses_mixed_or_unknown_modules() -> None:
    cell = {"cell_type": "code", "source": "# qkv.py [1/1]\nx = 1"}
    other = {"cell_type": "code", "source": "# masks.py [1/1]\ny = 1"}
    assert notebook_runtime.module_in_notebook({"cells": []}, MODULES) is None
    with pytest.raises(ValueError, match="several modules"):
        notebook_runtime.module_in_notebook({"cells": [cell, other]}, MODULES)
    stray = {"cell_type": "code", "source": "# os.py [1/1]\n"}
    with pytest.raises(ValueError, match="not a course module"):
        notebook_runtime.module_in_notebook({"cells": [stray]}, MODULES)


def test_importing_the_course_reference_fails_every_check(tmp_path: Path) -> None:
    history = ["# multihead.py [1/1]\nfrom solutions.multihead import split_heads\n"]
    course = _course(tmp_path, {"In": history}, grading=True)
    with pytest.raises(notebook_runtime.CheckFailed, match="the course's own code"):
        course.check("split_merge_round_trip")
