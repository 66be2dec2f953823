"""What a person sees, in headless Chromium: JupyterLab, the formgrader, the feedback page.

A course of parts 1 and 2 is built the way an instructor builds it (``python -m autograder
nbgrader``: part 1 due 2027-01-15, release, a roster of three students, publish). Then:

- the student's JupyterLab, with the course's student configuration, on a folder that holds
  the published notebooks: part 1 filled in with the reference code, part 2 with its first
  function left as released. Run All through the menu; every check cell runs and says
  whether it passed, and the last cell adds up the points; the Validate button; the
  Assignment List finds the course and its assignments in the exchange;
- the instructor's JupyterLab on the course directory: the formgrader lists the assignments
  with their due dates and the students by name;
- the feedback page of an autograded submission, opened from disk with the network off:
  equations drawn, every check named, no hidden check's code.

Every server listens on 127.0.0.1 only, with a token and Jupyter folders of its own; the
screenshots of each step are written to build/browser/ for a person to look at. Chromium
and its driver come from the distribution (``apt-get install chromium chromium-driver``;
``.ci/run`` installs them when they are missing).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from autograder.core.paths import BUILD, ROOT
from autograder.core.rubric import load_rubric

pytestmark = pytest.mark.browser

RUBRIC = load_rubric()
SHOTS = BUILD / "browser"
DUE = "2027-01-15"
ROSTER = "id,first_name,last_name\nada,Ada,Lovelace\ngrace,Grace,Hopper\nalan,Alan,Turing\n"
NAMES = ("Hopper, Grace", "Lovelace, Ada", "Turing, Alan")
SERVER_START_S = 120
RUN_ALL_S = 300
STALLED_S = 20
"""An idle kernel with unrun cells for this long: Run All has stopped."""


def _visible_total(part: int) -> float:
    """The points the total cell counts: the visible checks, bonus ones aside."""
    return sum(c.points for c in RUBRIC.checks_of(part, include_hidden=False) if not c.bonus)


def _cli(*arguments: str, course: Path) -> str:
    """``python -m autograder nbgrader --course COURSE ARGUMENTS``; its output."""
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "nbgrader", "--course", str(course), *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"nbgrader {arguments[0]} failed:\n{result.stdout}{result.stderr}"
    )
    return result.stdout


def _solutions(notebook: Path) -> dict[str, str]:
    """grade_id -> source of the solution cells of ``notebook``, in order."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in nbformat.read(notebook, as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def _fill(notebook: Path, source: Path, keep: int = 0) -> None:
    """The reference code in ``notebook``'s solution cells, the first ``keep`` left as released."""
    solutions = _solutions(source)
    filled = nbformat.read(notebook, as_version=4)
    for grade_id, code in list(solutions.items())[keep:]:
        for cell in filled.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                cell.source = code
    nbformat.write(filled, notebook)


@dataclass(frozen=True)
class Course:
    root: Path
    course: Path
    student: Path
    """The student's folder: the published assignments, one folder each."""

    def notebook(self, assignment: str) -> Path:
        """The student's notebook of ``assignment``."""
        return next((self.student / assignment).glob("*.ipynb"))

    def source(self, assignment: str) -> Path:
        """The instructor's notebook of ``assignment``, with the reference code."""
        return next((self.course / "source" / assignment).glob("*.ipynb"))


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    root = tmp_path_factory.mktemp("browser")
    course, exchange = root / "course", root / "exchange"
    _cli(
        "notebooks",
        "--exchange",
        str(exchange),
        "--assignment",
        f"part1=1@{DUE}",
        "--assignment",
        "part2=2",
        course=course,
    )
    _cli("release", course=course)
    (root / "students.csv").write_text(ROSTER, encoding="utf-8")
    _cli("students", str(root / "students.csv"), course=course)
    _cli("publish", course=course)
    student = root / "student"
    for assignment in ("part1", "part2"):
        shutil.copytree(exchange / "attention" / "outbound" / assignment, student / assignment)
    made = Course(root, course, student)
    _fill(made.notebook("part1"), made.source("part1"))
    _fill(made.notebook("part2"), made.source("part2"), keep=1)
    # Only this run's screenshots.
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return made


# -- processes ------------------------------------------------------------------------------


def _pids_mentioning(text: str) -> list[int]:
    """The processes whose command line mentions ``text`` (this test's temporary paths)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(int(entry.name))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A JupyterLab on 127.0.0.1 with a token."""

    url: str
    token: str
    process: subprocess.Popen
    home: Path
    """Its private Jupyter folders (data, runtime, settings): kernels mention it."""

    def page(self, path: str) -> str:
        joiner = "&" if "?" in path else "?"
        return f"{self.url}{path}{joiner}token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernel_state(self, notebook: str) -> str | None:
        """The execution state of the kernel of ``notebook`` (a path under the root)."""
        for session in self.api("/api/sessions"):
            if session["path"] == notebook and session.get("kernel"):
                return session["kernel"]["execution_state"]
        return None

    def stop(self) -> None:
        try:
            self.api("/api/shutdown", method="POST")
            self.process.wait(timeout=20)
        except Exception:
            pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # Kernels run in sessions of their own; their connection files are under home.
        _kill(_pids_mentioning(str(self.home)))


def _lab_settings(folder: Path) -> None:
    """Every cell in the page (no windowing), and no news or update prompts."""
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for name, value in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")


def start_lab(home: Path, root_dir: Path, config_dir: Path, **env: str) -> Server:
    """JupyterLab on ``root_dir``: Jupyter folders under ``home``, config in ``config_dir``."""
    data = home / "data"
    kernels = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "course"
    shutil.copytree(kernels, data / "kernels" / "course")
    _lab_settings(home / "settings")
    port, token = _free_port(), os.urandom(16).hex()
    environment = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(data),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
        "MPLCONFIGDIR": str(home / "matplotlib"),
        **env,
    }
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root_dir}",
            # CI containers run as root; harmless elsewhere.
            "--ServerApp.allow_root=True",
        ],
        cwd=root_dir,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(f"http://127.0.0.1:{port}", token, process, home)
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            server.api("/api/status")
            return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    log_text = (home / "server.log").read_text(errors="replace")[-3000:]
    raise AssertionError(f"JupyterLab did not start on {root_dir}:\n{log_text}")


@pytest.fixture(scope="module")
def student_lab(course: Course) -> Iterator[Server]:
    home = course.root / "student-jupyter"
    # The course's student configuration, where it was generated (it finds the exchange
    # relative to itself).
    server = start_lab(home, course.student, course.course / "student")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def instructor_lab(course: Course) -> Iterator[Server]:
    home = course.root / "instructor-jupyter"
    config = home / "config"
    config.mkdir(parents=True)
    server = start_lab(home, course.course, config)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(course: Course) -> Iterator[Any]:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver_path, (
        "the browser tests need Chromium and its driver: apt-get install chromium "
        "chromium-driver (.ci/run installs them)"
    )
    profile = course.root / "chromium-profile"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-extensions",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    # Every request the pages make, to prove the feedback page asks for nothing remote.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    # Leaving a notebook with unsaved outputs asks "leave the page?": yes.
    options.unhandled_prompt_behavior = "accept"
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    yield driver
    try:
        driver.quit()
    finally:
        _kill(_pids_mentioning(str(profile)))


# -- the page -------------------------------------------------------------------------------


def _wait(what: str, condition: Callable[[], Any], timeout: float, driver, shot: str) -> Any:
    """Poll ``condition`` until it is truthy; a screenshot and a failure after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (WebDriverException, OSError):
            # The page is still being built, or the server is busy: try again.
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            driver.save_screenshot(str(SHOTS / f"{shot}-timeout.png"))
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.5)


PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
"""The notebook in view."""
CELLS_JS = """
return Array.from(document.querySelectorAll(arguments[0] + ' .jp-CodeCell'))
  .map(cell => ({
    prompt: (cell.querySelector('.jp-InputArea-prompt') || {}).innerText || '',
    source: (cell.querySelector('.cm-content') || {}).innerText || '',
    output: (cell.querySelector('.jp-OutputArea') || {}).innerText || '',
    images: cell.querySelectorAll('.jp-OutputArea img').length,
  }));
"""


def _cells(driver) -> list[dict[str, Any]]:
    return driver.execute_script(CELLS_JS, PANEL)


def _open_notebook(driver, lab: Server, path: str, shot: str) -> None:
    """Open ``path`` in JupyterLab and wait until its kernel is idle."""
    # ?reset: a fresh workspace, without the notebooks an earlier test left open.
    driver.get(lab.page(f"/lab/tree/{path}?reset"))
    _wait(
        f"{path} to open",
        lambda: driver.find_elements(By.CSS_SELECTOR, f"{PANEL} .jp-CodeCell"),
        SERVER_START_S,
        driver,
        shot,
    )
    _wait(f"the kernel of {path}", lambda: lab.kernel_state(path) == "idle", 120, driver, shot)


MENU = "//*[contains(@class, 'lm-{kind}-item')][.//div[text()='{label}']]"
"""A menu bar item or menu item by its label."""


def _run_all(driver, lab: Server, path: str, shot: str) -> list[dict[str, str]]:
    """Run > Run All Cells, as a person does; the cells once every one has run."""
    driver.find_element(By.XPATH, MENU.format(kind="MenuBar", label="Run")).click()
    _wait(
        "the Run menu",
        lambda: driver.find_element(By.XPATH, MENU.format(kind="Menu", label="Run All Cells")),
        10,
        driver,
        shot,
    ).click()

    stalled_since: list[float] = []

    def finished() -> list[dict[str, str]] | None:
        cells = _cells(driver)
        prompts = [c["prompt"].strip() for c in cells]
        idle = lab.kernel_state(path) == "idle"
        if cells and idle and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
            return cells
        # An idle kernel with cells left unrun for a while: Run All stopped.
        if idle and "[*]:" not in prompts:
            stalled_since.append(time.monotonic())
            if stalled_since[-1] - stalled_since[0] > STALLED_S:
                driver.save_screenshot(str(SHOTS / f"{shot}-stopped.png"))
                ran = [i for i, p in enumerate(prompts) if p != "[ ]:"]
                last = cells[ran[-1]] if ran else {"source": "(none ran)", "output": ""}
                raise AssertionError(
                    f"Run All stopped after {len(ran)} of {len(cells)} code cells, at:\n"
                    f"{last['source']}\n{last['output']}"
                )
        else:
            stalled_since.clear()
        return None

    return _wait(f"Run All in {path}", finished, RUN_ALL_S, driver, shot)


def _scroll_to(driver, text: str, where: str = ".cm-content") -> None:
    """Scroll the first code cell with ``text`` in ``where`` (its source) to the top."""
    driver.execute_script(
        """
        for (const cell of document.querySelectorAll(arguments[1] + ' .jp-CodeCell')) {
          const part = cell.querySelector(arguments[2]);
          if (part && part.innerText.includes(arguments[0])) {
            cell.scrollIntoView({block: 'start'}); return;
          }
        }
        """,
        text,
        PANEL,
        where,
    )
    time.sleep(0.5)


def _check_cells(cells: list[dict[str, str]]) -> list[dict[str, str]]:
    return [c for c in cells if "notebook.check(" in c["source"]]


def _total_cell(cells: list[dict[str, str]]) -> dict[str, str]:
    (total,) = [c for c in cells if "notebook.summary()" in c["source"]]
    return total


# -- the student ----------------------------------------------------------------------------


def test_run_all_with_the_reference_code_gives_full_points(browser, student_lab, course) -> None:
    path = f"part1/{course.notebook('part1').name}"
    _open_notebook(browser, student_lab, path, "part1")
    browser.save_screenshot(str(SHOTS / "part1-opened.png"))
    cells = _run_all(browser, student_lab, path, "part1")
    _scroll_to(browser, "plt.show()")
    browser.save_screenshot(str(SHOTS / "part1-example.png"))
    _scroll_to(browser, "notebook.check(")
    browser.save_screenshot(str(SHOTS / "part1-checks.png"))
    _scroll_to(browser, "notebook.summary()")
    browser.save_screenshot(str(SHOTS / "part1-total.png"))

    for cell in cells:
        if "plt.show()" in cell["source"]:
            assert cell["images"] == 1, f"no figure under\n{cell['source']}\n{cell['output']}"
    checks = _check_cells(cells)
    assert len(checks) == len(RUBRIC.checks_of(1, include_hidden=False))
    for check in checks:
        assert "passed" in check["output"], f"{check['source']}\n{check['output']}"
        assert "FAILED" not in check["output"]
    total = _total_cell(cells)["output"]
    points = f"{_visible_total(1):g}"
    assert f"Total: {points} / {points} points" in total, total
    assert total.count("Total:") == 1, f"the total is shown more than once:\n{total}"


def test_run_all_goes_on_past_an_unwritten_function(browser, student_lab, course) -> None:
    notebook = course.notebook("part2")
    path = f"part2/{notebook.name}"
    # The function of the solution cell left as released.
    first = next(iter(_solutions(course.source("part2")).values()))
    missing = re.search(r"^def (\w+)", first, re.MULTILINE).group(1)
    _open_notebook(browser, student_lab, path, "part2")
    cells = _run_all(browser, student_lab, path, "part2")
    # The worked example fails first, and says why.
    _scroll_to(browser, "NotImplementedError", where=".jp-OutputArea")
    browser.save_screenshot(str(SHOTS / "part2-example.png"))
    _scroll_to(browser, "notebook.check(")
    browser.save_screenshot(str(SHOTS / "part2-checks.png"))
    _scroll_to(browser, "notebook.summary()")
    browser.save_screenshot(str(SHOTS / "part2-total.png"))

    checks = _check_cells(cells)
    assert len(checks) == len(RUBRIC.checks_of(2, include_hidden=False))
    for check in checks:
        assert "FAILED" in check["output"], f"{check['source']}\n{check['output']}"
        assert f"{missing} is not implemented yet" in check["output"], check["output"]
    total = _total_cell(cells)["output"]
    assert f"Total: 0 / {_visible_total(2):g} points" in total, total


def test_validate_button_says_the_notebook_passes(browser, student_lab, course) -> None:
    path = f"part1/{course.notebook('part1').name}"
    _open_notebook(browser, student_lab, path, "validate")
    browser.find_element(By.CSS_SELECTOR, f"{PANEL} .validate-button").click()
    dialog = _wait(
        "the validation's result",
        lambda: browser.find_element(By.CSS_SELECTOR, ".jp-Dialog .validation-success"),
        RUN_ALL_S,
        browser,
        "validate",
    )
    browser.save_screenshot(str(SHOTS / "validate.png"))
    assert "Success! Your notebook passes all the tests." in dialog.text


def test_assignment_list_finds_the_course_and_its_assignments(browser, student_lab) -> None:
    browser.get(student_lab.page("/lab?reset"))
    _wait(
        "the Nbgrader menu",
        lambda: browser.find_element(By.XPATH, MENU.format(kind="MenuBar", label="Nbgrader")),
        SERVER_START_S,
        browser,
        "assignment-list",
    ).click()
    _wait(
        "the Nbgrader menu's items",
        lambda: browser.find_element(By.XPATH, MENU.format(kind="Menu", label="Assignment List")),
        10,
        browser,
        "assignment-list",
    ).click()

    def listed() -> str | None:
        text = browser.find_element(By.CSS_SELECTOR, ".jp-MainAreaWidget:not(.lm-mod-hidden)").text
        return text if "Downloaded assignments" in text and "part2" in text else None

    text = _wait("the Assignment List", listed, 60, browser, "assignment-list")
    browser.save_screenshot(str(SHOTS / "assignment-list.png"))
    assert "Error" not in text and "does not exist" not in text, text
    assert re.search(r"for course:\s*attention\n", text), text
    downloaded = text.split("Downloaded assignments")[1].split("Submitted assignments")[0]
    assert re.findall(r"^part\d$", downloaded, re.MULTILINE) == ["part1", "part2"], downloaded


# -- the instructor -------------------------------------------------------------------------


def test_formgrader_shows_the_assignments_and_the_students(browser, instructor_lab) -> None:
    browser.get(instructor_lab.page("/formgrader"))
    rows = _wait(
        "the formgrader's assignments",
        lambda: [
            r.text
            for r in browser.find_elements(By.CSS_SELECTOR, "tbody tr")
            if r.text.startswith("part")
        ],
        SERVER_START_S,
        browser,
        "formgrader",
    )
    browser.save_screenshot(str(SHOTS / "formgrader-assignments.png"))
    by_name = {row.split()[0]: row for row in rows}
    assert set(by_name) == {"part1", "part2"}, rows
    assert DUE in by_name["part1"], by_name["part1"]
    for row in by_name.values():
        assert "released" in row, row

    browser.get(instructor_lab.page("/formgrader/manage_students"))
    names = _wait(
        "the formgrader's students",
        lambda: [
            r.text
            for r in browser.find_elements(By.CSS_SELECTOR, "tbody tr")
            if r.text and "Loading" not in r.text
        ],
        SERVER_START_S,
        browser,
        "students",
    )
    browser.save_screenshot(str(SHOTS / "formgrader-students.png"))
    assert [n for n in NAMES if any(row.startswith(n) for row in names)] == list(NAMES), names
    # Rows are "Lovelace, Ada ada ...": the roster's names and ids (no email: nbgrader says None).
    assert not any(row.startswith("None") for row in names), names
    assert sorted(row.split()[2] for row in names) == ["ada", "alan", "grace"], names


# -- the feedback ---------------------------------------------------------------------------


def _requests(driver) -> list[str]:
    """The URLs the page asked for since the last call (Chromium's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_feedback_page_offline_names_checks_and_draws_equations(browser, course) -> None:
    submitted = course.course / "submitted" / "ada" / "part1"
    shutil.copytree(course.student / "part1", submitted, ignore=shutil.ignore_patterns(".*"))
    _cli("autograde", "part1", course=course.course)
    _cli("feedback", "part1", course=course.course)
    (page,) = (course.course / "feedback" / "ada" / "part1").glob("*.html")
    html = page.read_text(encoding="utf-8")

    _requests(browser)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
    )
    try:
        browser.get(page.as_uri())
        _wait(
            "the feedback page",
            lambda: browser.find_elements(By.ID, "toc"),
            30,
            browser,
            "feedback",
        )
        browser.save_screenshot(str(SHOTS / "feedback-top.png"))
        equations = browser.find_elements(By.TAG_NAME, "math")
        assert equations, "the feedback page has no MathML equations"
        first_check = browser.find_element(By.CSS_SELECTOR, "#toc a").get_attribute("href")
        browser.get(first_check)
        browser.save_screenshot(str(SHOTS / "feedback-checks.png"))
        for equation in equations:
            assert equation.is_displayed(), equation.get_attribute("outerHTML")[:200]
            assert equation.size["width"] > 0 and equation.size["height"] > 0
        remote = [u for u in _requests(browser) if not u.startswith(("file:", "data:"))]
        assert remote == [], f"the feedback page asks the network for {remote}"
        contents = browser.find_element(By.ID, "toc").text
    finally:
        browser.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )

    assert "Test cell" not in contents, contents
    hidden = 0
    for check in RUBRIC.checks_of(1):
        if check.hidden:
            hidden += 1
            assert f"Hidden check {hidden}" in contents, contents
            assert check.id not in html, f"the feedback shows hidden check {check.id}"
        else:
            assert check.description in contents, (check.description, contents)
    assert "hidden_check(" not in html
