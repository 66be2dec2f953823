"""Commands that build the course's artefacts from the single source, and ``score``."""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.build import bundle, gradescope, readme, stubs
from autograder.core import report
from autograder.core.assemble import ImplementationError, assemble, load_implementation
from autograder.core.paths import BUILD, ROOT
from autograder.core.rubric import load_rubric
from autograder.core.runner import check_function, run_check


def _stubs(arguments: argparse.Namespace) -> int:
    written = stubs.write_stubs()
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")
    print(f"assignments/ is up to date ({len(written)} file(s) rewritten)")
    return 0


def _score(arguments: argparse.Namespace) -> int:
    """Every graded check in this process (trusted code only: nothing is isolated here)."""
    rubric = load_rubric()
    implementation = load_implementation(arguments.impl)
    passed: dict[str, bool] = {}
    for part in rubric.parts.values():
        if implementation.path_of(part.module) is None:
            continue
        try:
            module = assemble(part, implementation).module
        except ImplementationError as error:
            print(f"part {part.number}: {error}")
            module = None
        for check in rubric.checks_of(part.number, include_hidden=not arguments.visible_only):
            verdict = run_check(check_function(check, rubric), {part.module: module})
            passed[check.id] = module is not None and verdict.passed
            if arguments.verbose and not passed[check.id]:
                print(f"  {check.id}: {verdict.message.splitlines()[0]}")
    print(f"Score of {arguments.impl}:")
    for line in report.score_lines(rubric, passed):
        print(f"  {line}")
    return 0


def _student_bundle(arguments: argparse.Namespace) -> int:
    archive = bundle.build(arguments.out)
    print(f"student bundle: {arguments.out}/ and {archive}")
    print(f"  try it: cd {arguments.out} && make test")
    return 0


def _gradescope(arguments: argparse.Namespace) -> int:
    path = gradescope.build(arguments.out, parts=arguments.parts)
    print(f"Gradescope autograder: {path} (upload it as the assignment's autograder)")
    return 0


def _readme(arguments: argparse.Namespace) -> int:
    path = ROOT / "README.md"
    path.write_text(readme.with_parts_table(path.read_text(), load_rubric()))
    print("README.md: parts table regenerated from rubric.toml")
    return 0


def _figures(arguments: argparse.Namespace) -> int:
    from autograder.build import figures

    for line in figures.write_pages(draw_figures=not arguments.pages_only):
        print(line)
    return 0


def _parts(text: str) -> list[int]:
    """``2,3`` or ``2 3`` -> ``[2, 3]``."""
    return [int(n) for n in text.replace(",", " ").split()]


def register(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("stubs", help="regenerate assignments/ from solutions/").set_defaults(
        run=_stubs
    )
    score = commands.add_parser("score", help="score an implementation in this process")
    score.add_argument("impl", help="solutions, assignments, or a folder of module files")
    score.add_argument("--visible-only", action="store_true", help="leave out hidden checks")
    score.add_argument("--verbose", "-v", action="store_true", help="say why each check failed")
    score.set_defaults(run=_score)
    student = commands.add_parser("student-bundle", help="write the students' repository")
    student.add_argument("--out", type=Path, default=BUILD / "student-bundle")
    student.set_defaults(run=_student_bundle)
    zipped = commands.add_parser("gradescope", help="build the Gradescope autograder zip")
    zipped.add_argument("--out", type=Path, default=BUILD / "gradescope.zip")
    zipped.add_argument(
        "--parts", type=_parts, default=None, help="the assignment's parts, e.g. 2,3 (all)"
    )
    zipped.set_defaults(run=_gradescope)
    commands.add_parser("readme", help="regenerate README.md's parts table").set_defaults(
        run=_readme
    )
    figures = commands.add_parser("figures", help="the students' page and figure per part")
    figures.add_argument("--pages-only", action="store_true", help="keep the figures as they are")
    figures.set_defaults(run=_figures)
