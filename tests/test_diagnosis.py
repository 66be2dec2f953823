"""The diagnosis names the known mistake a part's code makes, and nothing else.

The mistakes are the catalogue of ``tests/mistakes/``; ``tests/probes/expected.json`` holds
their outcomes on the probes (``make diagnoses`` writes it). Every mistake is diagnosed as
itself, in this process (``make test``, the notebooks) and through the grader; the reference,
every correct variant and the stubs get no diagnosis.
"""

import json
import shutil
from pathlib import Path

import pytest

from autograder.core.assemble import assemble, load_implementation
from autograder.core.paths import ASSIGNMENTS, ROOT, SOLUTIONS
from autograder.core.rubric import load_rubric
from autograder.diagnosis import table
from autograder.grader import grade, results
from autograder.sweeps import implementations, mutants
from tests.probes import Diagnosis, diagnose, probes_of, read_tags
from tests.probes.outcomes import encode, same

# The mistakes overflow and divide by zero on purpose: their warnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")

RUBRIC = load_rubric()
STALE = "tests/probes/expected.json is stale; run `make diagnoses` and commit it:\n"


def _fresh(number: int) -> None:
    stale = [line for line in table.stale_parts(RUBRIC) if line.startswith(f"part {number}")]
    assert not stale, STALE + "\n".join(stale)


def test_expected_outcomes_are_current():
    stale = table.stale_parts(RUBRIC)
    assert not stale, STALE + "\n".join(stale)


@pytest.mark.parametrize("number", list(RUBRIC.parts), ids=lambda n: f"part{n}")
def test_every_mistake_is_diagnosed_as_itself_and_correct_code_never(number, tmp_path):
    _fresh(number)
    part = RUBRIC.parts[number]
    assert probes_of(part.stem), f"part {number} has no probes in tests/probes/{part.stem}.py"
    wrong = []
    for mutant in mutants.catalogue(part):
        folder = implementations.reference_with(tmp_path / mutant.name, part, mutant.source)
        module = assemble(part, load_implementation(folder), reference=True).module
        found = diagnose(part.stem, module)
        said = found.name if found else None
        if said != (None if mutant.correct else mutant.name):
            wrong.append(f"{mutant.label}: diagnosed as {said}")
    for where in (SOLUTIONS, ASSIGNMENTS):
        module = assemble(part, load_implementation(where), reference=True).module
        found = diagnose(part.stem, module)
        if found is not None:
            wrong.append(f"{where.name}/{part.module}.py is diagnosed as {found.name}")
    assert not wrong, "\n".join(wrong) + "\n(`make diagnoses` says which probe is missing)"


def test_a_stub_costs_one_probe():
    part = RUBRIC.parts[2]
    calls = []

    class Stub:
        def __getattr__(self, name):
            calls.append(name)
            raise NotImplementedError(name)

    assert diagnose(part.stem, Stub()) is None
    assert len(calls) == 1


def test_outcomes_compare_within_the_tolerance_and_by_kind():
    import torch

    value = torch.tensor([1.0, 2.0, float("nan")])
    assert same(encode(value + 1e-7), encode(value))
    assert not same(encode(value + 1e-3), encode(value))
    assert not same(encode(value.float()), encode(value.double()))
    assert not same(encode(torch.tensor([True, False])), encode(torch.tensor([1, 0])))
    assert not same(encode(ValueError("a")), encode(TypeError("a")))
    assert same(encode(ValueError("a")), encode(ValueError("other words")))
    # Exact answers are never stored in the clear.
    assert "True" not in json.dumps(encode(torch.tensor([True, False])))
    assert "secret" not in json.dumps(encode(["secret", 3]))


def test_the_message_ends_with_a_tag_that_tools_read_back():
    diagnosis = Diagnosis(2, "no_scaling", "the scores are not divided by sqrt(d_k)", 12)
    text = f"some output\nFAILED: a check: {diagnosis.message}\nmore"
    assert read_tags(text) == [(2, "no_scaling")]
    assert diagnosis.message.startswith("Diagnosis: ")


def _with_mistake(tmp_path: Path, number: int, name: str) -> Path:
    part = RUBRIC.parts[number]
    mutant = next(m for m in mutants.catalogue(part) if m.name == name)
    folder = tmp_path / name
    shutil.copytree(ROOT / "assignments", folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / f"{part.module}.py").write_text(mutant.source, encoding="utf-8")
    return folder


def test_the_grader_diagnoses_a_failing_part_in_results_json(tmp_path):
    _fresh(2)
    folder = _with_mistake(tmp_path, 2, "softmax_over_the_queries")
    shutil.copy2(SOLUTIONS / "masks.py", folder / "masks.py")
    data = results.gradescope(grade.grade(folder, parts=[2, 4]))
    tests = data["tests"]
    assert all("check" in t["extra_data"] and "part" in t["extra_data"] for t in tests)
    failed = [t for t in tests if t["status"] == "failed"]
    assert failed and all(t["extra_data"]["part"] == 2 for t in failed)
    for test in failed:
        assert test["extra_data"]["diagnosis"] == "softmax_over_the_queries"
        assert test["output"].startswith("Diagnosis: ")
        assert "over the queries (dim -2)" in test["output"]
    assert not any("diagnosis" in t["extra_data"] for t in tests if t["status"] == "passed")


def test_make_test_adds_the_diagnosis_to_a_failing_check(tmp_path):
    import subprocess
    import sys

    folder = _with_mistake(tmp_path, 4, "causal_mask_without_the_diagonal")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "part4",
            "--impl",
            str(folder),
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/checks/part4_masks.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout[-2000:]
    assert read_tags(run.stdout) and set(read_tags(run.stdout)) == {
        (4, "causal_mask_without_the_diagonal")
    }
    assert "part 4: Diagnosis:" in run.stdout


def test_a_notebook_check_that_fails_ends_with_the_diagnosis(tmp_path, capsys):
    from autograder.core import notebook as notebook_runtime

    part = RUBRIC.parts[4]
    mutant = next(m for m in mutants.catalogue(part) if m.name == "padding_mask_inverted")
    namespace: dict = {}
    exec(mutant.source.replace("from ._validate", "from solutions._validate"), namespace)
    course = notebook_runtime.NotebookPart(
        number=4,
        module=part.module,
        builds_on=(),
        forbidden=part.forbidden,
        folder=tmp_path,
        root=None,
        grading=False,
        _namespace=namespace,
    )
    for check in RUBRIC.checks_of(4, include_hidden=False):
        course.check(check.id)
    printed = capsys.readouterr().err
    assert "FAILED" in printed
    assert set(read_tags(printed)) == {(4, "padding_mask_inverted")}
