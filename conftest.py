"""pytest plugin of the course: ``--impl``, the part module fixtures, ``device``, the score.

``--impl`` is ``solutions`` (the default where it exists), ``assignments`` or a folder of
module files.
Each part's module is a fixture named after it (``qkv``, ``multihead``, ...), so a check
asks for the modules it needs by name. The run ends with the points per part, read from
``rubric.toml``.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path

import pytest
import torch

from autograder import profiles
from autograder.loader import Implementation, ImplementationError, load_implementation
from autograder.report import score_lines
from autograder.rubric import load_rubric
from autograder.runner import explain

RUBRIC = load_rubric()
ROOT = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--impl",
        # The student bundle has no solutions/: there the student's own code is the default.
        default="solutions" if (ROOT / "solutions").is_dir() else "assignments",
        help="implementation under test: solutions, assignments, or a folder of module files",
    )


def pytest_configure(config: pytest.Config) -> None:
    for number in range(1, 10):
        config.addinivalue_line("markers", f"part{number}: checks of part {number}")
    config.addinivalue_line("markers", "contract: ungraded check of given (non-student) code")
    config.addinivalue_line("markers", "nbgrader: end-to-end tests driving nbgrader")
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


@pytest.fixture(scope="session")
def implementation(request: pytest.FixtureRequest) -> Implementation:
    """The implementation named by ``--impl``."""
    return load_implementation(request.config.getoption("--impl"))


def _module_fixture(number: int):
    part = RUBRIC.parts[number]

    @pytest.fixture(scope="session", name=part.module)
    def fixture(implementation: Implementation):
        try:
            return implementation.graded_module(part)
        except ImplementationError as error:
            pytest.fail(str(error), pytrace=False)

    fixture.__doc__ = f"Module {part.module} (part {number}) of the implementation under test."
    return fixture


for _number in RUBRIC.parts:
    globals()[f"_fixture_{RUBRIC.parts[_number].module}"] = _module_fixture(_number)


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing graded check reports what the grader would say, not a traceback of the check."""
    report = yield
    is_check = item.nodeid.startswith(("tests/checks/", "tests/hidden/"))
    if report.failed and call.excinfo is not None and is_check:
        fixtures = set(getattr(item, "fixturenames", ()))
        roots = (str(Path(str(item.config.getoption("--impl"))).name),)
        report.longrepr = explain(call.excinfo.value, fixtures, roots)
    return report


class ScoreTable:
    """Collects the outcome of every graded check and prints the points per part."""

    def __init__(self, impl: str) -> None:
        self.impl = impl
        self.results: dict[str, list[bool]] = defaultdict(list)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        path, _, name = report.nodeid.partition("::")
        check = name.split("[")[0].removeprefix("test_")
        if not path.startswith(("tests/checks/", "tests/hidden/")) or check not in RUBRIC.checks:
            return
        if report.when == "call" or not report.passed:
            self.results[check].append(report.passed and report.when == "call")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.results:
            return
        passed = {check: all(outcomes) for check, outcomes in self.results.items()}
        terminalreporter.section(f"score of --impl {self.impl} (points from rubric.toml)")
        for line in score_lines(RUBRIC, passed):
            terminalreporter.write_line(line)
