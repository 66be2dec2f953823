"""The stub generator, and the promise that assignments/ is what solutions/ generates."""

import ast
import textwrap

import pytest

from autograder.build import stubs
from autograder.core.assemble import assemble, load_implementation
from autograder.core.rubric import load_rubric
from autograder.core.runner import check_function, run_check

RUBRIC = load_rubric()


def stub(source: str) -> str:
    return stubs.make_stub(textwrap.dedent(source))


def test_function_region_becomes_raise_and_keeps_signature_docstring_and_imports():
    result = stub('''
        import math


        def area(r: float) -> float:
            """Area of a circle of radius r."""
            ### BEGIN SOLUTION
            return math.pi * r * r
            ### END SOLUTION
    ''')
    assert "import math" in result
    assert "def area(r: float) -> float:" in result
    assert '"""Area of a circle of radius r."""' in result
    assert "math.pi" not in result
    assert '    raise NotImplementedError("area is not implemented yet")' in result
    ast.parse(result)


def test_method_and_nested_block_regions_name_the_method():
    result = stub("""
        class Layer:
            def forward(self, x):
                if x:
                    ### BEGIN SOLUTION
                    return x + 1
                    ### END SOLUTION
                return 0
    """)
    assert '            raise NotImplementedError("Layer.forward is not implemented yet")' in result
    assert "x + 1" not in result
    ast.parse(result)


def test_class_body_region_becomes_pass_so_the_module_still_imports():
    result = stub("""
        class Config:
            ### BEGIN SOLUTION
            size = 3
            ### END SOLUTION
    """)
    assert "size = 3" not in result
    namespace: dict = {}
    exec(compile(result, "<stub>", "exec"), namespace)
    assert "Config" in namespace


def test_hints_are_kept_as_comments():
    result = stub("""
        def f():
            ### BEGIN SOLUTION
            ### HINT: subtract the maximum first
            return 1
            ### END SOLUTION
    """)
    assert "    # HINT: subtract the maximum first" in result
    assert "return 1" not in result


def test_source_without_markers_is_copied_verbatim():
    source = "x = 1\n"
    assert stubs.make_stub(source) == source


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", 2, "never closed"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", 3, "without a BEGIN"),
        (
            "def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return 1\n"
            "    ### END SOLUTION\n",
            3,
            "cannot nest",
        ),
        ("def f():\n    return 1  ### BEGIN SOLUTION\n", 2, "alone on its line"),
    ],
)
def test_unbalanced_markers_are_rejected_with_the_line(source, line, words):
    with pytest.raises(stubs.MarkerError, match=rf"mod.py:{line}: .*{words}"):
        stubs.make_stub(source, "mod.py")


def test_a_region_that_cuts_a_statement_is_rejected():
    source = "def f():\n    x = (\n    ### BEGIN SOLUTION\n    1)\n    ### END SOLUTION\n"
    with pytest.raises(stubs.MarkerError, match="does not parse"):
        stubs.make_stub(source, "mod.py")


def test_assignments_are_in_sync_with_solutions():
    problems = stubs.stale_files()
    assert not problems, "run `make stubs`: " + "; ".join(problems)


def test_every_solution_module_of_a_part_has_a_marked_region():
    for part in RUBRIC.parts.values():
        path = stubs.SOLUTIONS / f"{part.module}.py"
        if path.exists():
            assert stubs.find_regions(path.read_text()), f"{path} has no solution region"


STUBS = load_implementation("assignments")


@pytest.mark.parametrize(
    "check",
    [c for c in RUBRIC.checks.values() if STUBS.path_of(RUBRIC.parts[c.part].module) is not None],
    ids=lambda c: c.id,
)
def test_every_graded_check_fails_on_the_stubs(check):
    part = RUBRIC.parts[check.part]
    module = assemble(part, STUBS).module
    verdict = run_check(check_function(check), {part.module: module})
    assert not verdict.passed, (
        f"{check.id} passes on the untouched stub: it gives points for nothing"
    )
