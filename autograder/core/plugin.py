"""The course's pytest plugin: ``--impl``, the part module fixtures, ``device``, the score.

The root ``conftest.py`` loads it. ``--impl`` is ``solutions`` (the default where it
exists), ``assignments`` or a folder of module files. Each part's module is a fixture named
after it (``qkv``, ``multihead``, ...), assembled with its earlier parts by
:func:`autograder.core.assemble.assemble`, so a check asks for the modules it needs by name.
The run ends with the points per part, read from ``rubric.toml``, and says when a part's
failures may come from the student's own earlier part (which the grader replaces with the
reference).
"""

from __future__ import annotations

import os
import re
import traceback
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder.core import profiles
from autograder.core.assemble import (
    Assembled,
    ImplementationError,
    assemble,
    earlier_note,
    load_implementation,
    unfinished,
)
from autograder.core.paths import SOLUTIONS
from autograder.core.report import score_lines
from autograder.core.rubric import Part, load_rubric
from autograder.core.runner import explain

RUBRIC = load_rubric()
CHECK_FOLDERS = ("tests/checks/", "tests/hidden/")
DIAGNOSES: dict[int, Any] = {}
"""Part number -> the known mistake its module makes (None when none matches), once a check
of the part failed."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--impl",
        # The student bundle has no solutions/: there the student's own code is the default.
        default="solutions" if SOLUTIONS.is_dir() else "assignments",
        help="implementation under test: solutions, assignments, or a folder of module files",
    )


def pytest_configure(config: pytest.Config) -> None:
    for part in RUBRIC.parts.values():
        config.addinivalue_line("markers", f"{part.marker}: checks of part {part.number}")
    config.addinivalue_line("markers", "contract: ungraded check of given (non-student) code")
    config.addinivalue_line("markers", "nbgrader: end-to-end tests driving nbgrader")
    config.addinivalue_line(
        "markers", "browser: JupyterLab, formgrader and feedback in headless Chromium"
    )
    # The graded checks draw exactly what the grader draws, so the score printed here is the
    # graded score; HYPOTHESIS_PROFILE=dev explores other examples while writing a check.
    profiles.use(os.environ.get("HYPOTHESIS_PROFILE") or "grading")
    # The checks run many tiny tensor operations: one thread does them fastest, and a second
    # thread only waits for the other core when the machine is busy.
    torch.set_num_threads(1)
    unknown = sorted(
        {int(n) for n in re.findall(r"\bpart(\d+)\b", config.option.markexpr or "")}
        - set(RUBRIC.parts)
    )
    if unknown:
        raise pytest.UsageError(
            f"there is no part {', '.join(map(str, unknown))}: the parts are "
            f"{', '.join(map(str, sorted(RUBRIC.parts)))} (make test PART=3)"
        )
    try:
        load_implementation(config.getoption("--impl"))
    except ImplementationError as error:
        # Before any test runs: one clear line rather than an error per check.
        raise pytest.UsageError(str(error)) from None
    config.pluginmanager.register(ScoreTable(config.getoption("--impl")), "course-score-table")


def _module_fixture(part: Part):
    @pytest.fixture(scope="session", name=part.module)
    def fixture(request: pytest.FixtureRequest):
        implementation = load_implementation(request.config.getoption("--impl"))
        try:
            return assemble(part, implementation).module
        except ImplementationError as error:
            pytest.fail(str(error), pytrace=False)

    fixture.__doc__ = f"Module {part.module} (part {part.number}) of the implementation under test."
    return fixture


for _part in RUBRIC.parts.values():
    globals()[f"_fixture_{_part.module}"] = _module_fixture(_part)


def _devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


@pytest.fixture(scope="session", params=_devices())
def device(request: pytest.FixtureRequest) -> str:
    """Every device a check runs on: cpu always, cuda when there is one."""
    return request.param


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Module initialisation in a check is the same in every run."""
    torch.manual_seed(0)


def _files_in_traceback(error: BaseException) -> set[str]:
    """The file names (``qkv.py``) of every frame of ``error`` and the errors it groups."""
    names: set[str] = set()
    stack = [error]
    while stack:
        current = stack.pop()
        names.update(Path(f.filename).name for f in traceback.extract_tb(current.__traceback__))
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        if current.__cause__ is not None:
            stack.append(current.__cause__)
    return names


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing graded check reports what the grader would say, not a traceback of the check."""
    report = yield
    is_check = item.nodeid.startswith(CHECK_FOLDERS)
    if report.failed and call.excinfo is not None and is_check:
        fixtures = set(getattr(item, "fixturenames", ()))
        roots = (str(Path(str(item.config.getoption("--impl"))).name),)
        report.longrepr = explain(call.excinfo.value, fixtures, roots)
        diagnosis = _diagnosis(item)
        if diagnosis is not None:
            report.longrepr = f"{report.longrepr}\n\n{diagnosis.message}"
        report.user_properties.append(("files", sorted(_files_in_traceback(call.excinfo.value))))
    return report


def _diagnosis(item: pytest.Item) -> Any:
    """The known mistake the failing check's part makes, probed once per part in this process.

    A wrong earlier part of the student's changes what the probes see, so it hides the
    diagnosis rather than giving a wrong one.
    """
    check = RUBRIC.checks.get(item.name.split("[")[0].removeprefix("test_"))
    if check is None:
        return None
    part = RUBRIC.parts[check.part]
    if part.number not in DIAGNOSES:
        module = getattr(item, "funcargs", {}).get(part.module)
        if module is None:
            return None
        from tests.probes import diagnose

        DIAGNOSES[part.number] = diagnose(part.stem, module)
    return DIAGNOSES[part.number]


class ScoreTable:
    """Collects the outcome of every graded check and prints the points per part."""

    def __init__(self, impl: str) -> None:
        self.impl = impl
        self.results: dict[str, list[bool]] = defaultdict(list)
        self.files: dict[str, set[str]] = defaultdict(set)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        path, _, name = report.nodeid.partition("::")
        check = name.split("[")[0].removeprefix("test_")
        if not path.startswith(CHECK_FOLDERS) or check not in RUBRIC.checks:
            return
        if report.when == "call" or not report.passed:
            self.results[check].append(report.passed and report.when == "call")
        for key, value in report.user_properties:
            if key == "files":
                self.files[check].update(value)

    def _notes(self, passed: dict[str, bool]) -> list[str]:
        """Why a failing part's local score may be below its graded score."""
        implementation = load_implementation(self.impl)
        notes = []
        for part in RUBRIC.parts.values():
            failing = [c.id for c in RUBRIC.checks_of(part.number) if passed.get(c.id) is False]
            if not failing:
                continue
            try:
                assembled: Assembled = assemble(part, implementation)
            except ImplementationError:
                continue
            trouble: dict[str, str] = {}
            for name in assembled.yours():
                earlier = RUBRIC.part_of_module(name)
                ran = [c.id for c in RUBRIC.checks_of(earlier.number) if c.id in passed]
                wrong = [c for c in ran if not passed[c]]
                seen = any(f"{name}.py" in self.files[c] for c in failing)
                if wrong:
                    trouble[name] = f"fails {len(wrong)} of its {len(ran)} checks here"
                elif unfinished(implementation, name):
                    trouble[name] = "is not finished (it still raises NotImplementedError)"
                elif seen:
                    trouble[name] = "raised errors in this part's checks"
            note = earlier_note(part, RUBRIC, assembled.yours(), trouble)
            if note:
                notes.append(note)
        return notes

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.results:
            return
        passed = {check: all(outcomes) for check, outcomes in self.results.items()}
        terminalreporter.section(f"score of --impl {self.impl} (points from rubric.toml)")
        for line in score_lines(RUBRIC, passed):
            terminalreporter.write_line(line)
        for note in self._notes(passed):
            terminalreporter.write_line(f"note: {note}", yellow=True)
        for number, diagnosis in sorted(DIAGNOSES.items()):
            if diagnosis is not None:
                terminalreporter.write_line(f"part {number}: {diagnosis.message}", yellow=True)
