"""The rubric and the checks agree: each graded check exists, each check is graded or a contract."""

import importlib
import inspect
from pathlib import Path

import pytest

from autograder.core.rubric import load_rubric, parse_rubric
from autograder.core.runner import check_function, check_module_name

RUBRIC = load_rubric()
TESTS = Path(__file__).parent


def test_every_rubric_check_has_its_function():
    for check in RUBRIC.checks.values():
        if not (TESTS.parent / "solutions" / f"{RUBRIC.parts[check.part].module}.py").exists():
            continue
        check_function(check)


def check_modules():
    for folder in ("checks", "hidden"):
        for path in sorted((TESTS / folder).glob("part*_*.py")):
            yield folder, importlib.import_module(f"tests.{folder}.{path.stem}")


@pytest.mark.parametrize(
    ("folder", "module"), list(check_modules()), ids=lambda v: getattr(v, "__name__", v)
)
def test_every_check_function_is_graded_or_a_contract(folder, module):
    number = int(module.__name__.rsplit(".", 1)[1].split("_")[0].removeprefix("part"))
    part = RUBRIC.parts[number]
    assert module.__name__.endswith(f"part{number}_{part.module}")
    declared = getattr(module, "pytestmark", [])
    marks = [m.name for m in (declared if isinstance(declared, list) else [declared])]
    assert part.marker in marks, f"{module.__name__} lacks pytestmark = pytest.mark.{part.marker}"
    for name, function in inspect.getmembers(module, inspect.isfunction):
        if not name.startswith("test_") or function.__module__ != module.__name__:
            continue
        check = RUBRIC.checks.get(name.removeprefix("test_"))
        contract = any(m.name == "contract" for m in getattr(function, "pytestmark", []))
        if check is None:
            assert contract, (
                f"{module.__name__}.{name} is neither in rubric.toml nor a contract test"
            )
            continue
        assert check.part == number, f"{check.id} is listed under part {check.part}"
        assert check_module_name(check) == module.__name__, (
            f"{check.id} is {check.visibility} in rubric.toml but lives in tests/{folder}/"
        )


def test_rubric_rejects_inconsistent_entries():
    part = '[[parts]]\nnumber = 1\nmodule = "m"\ntitle = "t"\n'
    check = (
        '[[checks]]\nid = "a"\npart = {part}\npoints = {points}\n'
        'visibility = "{vis}"\ndescription = "d"\n'
    )
    with pytest.raises(ValueError, match="unknown part 2"):
        parse_rubric(part + check.format(part=2, points=1, vis="visible"))
    with pytest.raises(ValueError, match="visibility"):
        parse_rubric(part + check.format(part=1, points=1, vis="secret"))
    with pytest.raises(ValueError, match="more than 0"):
        parse_rubric(part + check.format(part=1, points=0, vis="visible"))
    with pytest.raises(ValueError, match="listed twice"):
        parse_rubric(part + 2 * check.format(part=1, points=1, vis="visible"))


def test_parts_have_points_and_known_dependencies():
    modules = {p.module for p in RUBRIC.parts.values()}
    for part in RUBRIC.parts.values():
        assert set(part.depends) <= modules, f"part {part.number} depends on an unknown module"
        assert RUBRIC.points(part.number) > 0 or not RUBRIC.checks_of(part.number)


def test_readme_parts_table_matches_the_rubric():
    from autograder.build.readme import with_parts_table

    readme = (TESTS.parent / "README.md").read_text()
    assert readme == with_parts_table(readme, RUBRIC), "run `make readme`"
