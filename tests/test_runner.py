"""Who a failure message blames: the student's line, or the check when none of theirs is there."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from autograder.core.runner import run_check


def _student_module(folder: Path, source: str):
    path = folder / "submission" / "student.py"
    path.parent.mkdir()
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("student", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_error_in_student_code_names_their_line(tmp_path):
    student = _student_module(tmp_path, "def area(side):\n    return side * missing\n")

    def test_area(student):
        student.area(2)

    verdict = run_check(test_area, {"student": student}, roots=("submission",))
    assert not verdict.passed
    assert verdict.message.startswith("your code raised NameError")
    assert "(student.py, line 2, in area)" in verdict.message


def test_an_error_in_the_check_itself_is_not_blamed_on_the_student(tmp_path):
    student = _student_module(tmp_path, "def area(side):\n    return side * side\n")

    def test_area(student):
        {}["a key the check forgot"]

    verdict = run_check(test_area, {"student": student}, roots=("submission",))
    assert not verdict.passed
    assert verdict.message.startswith("checking your result raised KeyError")
    assert "show this message to your instructor" in verdict.message
