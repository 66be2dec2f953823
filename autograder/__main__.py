"""Command line of the course's tooling: ``python -m autograder COMMAND``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import bundle, profiles, report, stubcheck, stubs
from .loader import ImplementationError, load_implementation
from .rubric import load_rubric
from .runner import check_function, run_check


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _stubs(arguments: argparse.Namespace) -> int:
    written = stubs.write_stubs()
    for path in written:
        print(f"wrote {path.relative_to(stubs.ROOT)}")
    print(f"assignments/ is up to date ({len(written)} file(s) rewritten)")
    return 0


def _check_stubs(arguments: argparse.Namespace) -> int:
    problems = stubs.stale_files()
    if problems:
        print("assignments/ is out of sync with solutions/:")
        for problem in problems:
            print(f"  {problem}")
        print("Run `make stubs` to regenerate it, then commit assignments/.")
        return 1
    print("assignments/ matches solutions/")
    bad = 0
    count = 0
    for result in stubcheck.verify():
        count += 1
        if not result.on_solution.passed:
            bad += 1
            print(f"FAILS ON THE SOLUTION  {result.check.id}: {result.on_solution.message}")
        if result.on_stub.passed:
            bad += 1
            print(f"PASSES ON THE STUB     {result.check.id}: it gives points for nothing")
    print(f"{count} graded checks: {count - bad} fail on the stubs and pass on the solution")
    return _vacuity(arguments) or (1 if bad else 0)


def _vacuity(arguments: argparse.Namespace) -> int:
    """Every trivial family of every part must score 0 (in this process)."""
    from .sweeps import trivial

    generous = 0
    outcomes = 0
    for outcome in trivial.sweep(getattr(arguments, "parts", None)):
        outcomes += 1
        for check in outcome.passed:
            generous += 1
            print(
                f"PASSES ON TRIVIAL CODE part {outcome.part.number} {check} "
                f"({outcome.family}: {trivial.FAMILIES[outcome.family]})"
            )
    print(
        f"{outcomes} trivial implementations ({len(trivial.FAMILIES)} families per part): "
        f"{generous} check verdicts give them points"
    )
    return 1 if generous else 0


def _mutants(arguments: argparse.Namespace) -> int:
    """The mistakes each check catches; uncaught mistakes, idle checks, failing variants."""
    from .sweeps import mutants

    rubric = load_rubric()
    found: list[str] = []
    for number in arguments.parts or rubric.parts:
        part = rubric.parts[number]
        outcomes = list(mutants.sweep([number], rubric))
        print(
            f"part {number} ({part.module}): {len(outcomes)} mutants; mistakes failing each check"
        )
        print("\n".join(mutants.matrix_lines(outcomes, part, rubric)))
        found += mutants.problems(outcomes, part, rubric)
    for problem in found:
        print(f"PROBLEM {problem}")
    print(f"{len(found)} problems")
    return 1 if found else 0


def _fairness(arguments: argparse.Namespace) -> int:
    """Correct code must pass every check under every seed, thread count, device and route."""
    from .sweeps import fairness

    seeds = range(arguments.first_seed, arguments.first_seed + arguments.seeds)
    isolated = range(arguments.first_seed, arguments.first_seed + arguments.isolated_seeds)

    def progress(trial: fairness.Trial) -> None:
        if arguments.verbose:
            print(f"  {trial}", flush=True)

    results = fairness.sweep(
        seeds,
        examples=arguments.examples,
        threads=arguments.threads,
        routes=arguments.routes,
        isolated_seeds=isolated,
        parts=arguments.parts,
        progress=progress,
    )
    total = fairness.tally(results)
    assert total.failures is not None
    for failure in total.failures:
        print(failure)
    print(
        f"{total.runs} check runs ({arguments.seeds} seeds x {arguments.examples} examples in "
        f"this process, {arguments.isolated_seeds} through the isolated grader; threads "
        f"{', '.join(map(str, arguments.threads))}; devices {', '.join(fairness.devices())}): "
        f"{len(total.failures)} false failures"
    )
    return 1 if total.failures else 0


def _score(arguments: argparse.Namespace) -> int:
    """Run every graded check in this process (trusted code only: no isolation here)."""
    profiles.use("grading")
    rubric = load_rubric()
    implementation = load_implementation(arguments.impl)
    passed: dict[str, bool] = {}
    for part in rubric.parts.values():
        if implementation.path_of(part.module) is None:
            continue
        try:
            module = implementation.graded_module(part)
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


def _grade(arguments: argparse.Namespace) -> int:
    from . import grade, results
    from .sandbox import Limits

    if not arguments.submission.exists():
        return _usage_error(
            f"{arguments.submission} does not exist: give a submission folder, a .zip file or "
            "a folder of notebooks"
        )
    out = arguments.out.resolve()
    limits = Limits(wall_s=arguments.wall_s, cpu_s=arguments.cpu_s, memory_mb=arguments.memory_mb)
    report = grade.grade(
        arguments.submission,
        parts=arguments.parts,
        limits=limits,
        isolate=not arguments.no_isolation,
        hide=(out.parent,),
        budget_s=arguments.part_budget_s,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results.gradescope(report), indent=2) + "\n", encoding="utf-8")
    print(f"{arguments.submission}: {report.score:g} points in {report.seconds:.1f} s -> {out}")
    for part in report.parts:
        available = sum(r.check.points for r in part.results if not r.check.bonus)
        print(f"  part {part.part.number} {part.part.module:<18} {part.score:>5g} / {available:g}")
    return 0


def _batch(arguments: argparse.Namespace) -> int:
    from . import batch

    if not arguments.submissions.is_dir():
        return _usage_error(
            f"{arguments.submissions} is not a folder: give the folder that holds one "
            "submission folder or .zip file per student"
        )
    graded = batch.run_batch(
        arguments.submissions, arguments.out, jobs=arguments.jobs, parts=arguments.parts
    )
    print("\n".join(batch.summary(graded, load_rubric())))
    print(f"points per part: {arguments.out}")
    return 0


def _gradescope(arguments: argparse.Namespace) -> int:
    from . import gradescope

    path = gradescope.build(arguments.out)
    print(f"Gradescope autograder: {path} (upload it as the assignment's autograder)")
    return 0


def _readme(arguments: argparse.Namespace) -> int:
    readme = stubs.ROOT / "README.md"
    readme.write_text(bundle.readme_with_parts(readme.read_text(), load_rubric()))
    print("README.md: parts table regenerated from rubric.toml")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("stubs", help="regenerate assignments/ from solutions/").set_defaults(
        run=_stubs
    )
    commands.add_parser(
        "check-stubs", help="fail when assignments/ differs from what solutions/ generates"
    ).set_defaults(run=_check_stubs)
    vacuity = commands.add_parser(
        "vacuity", help="trivial implementations (zeros, identity, ...) must score 0"
    )
    vacuity.add_argument("--parts", type=int, nargs="+", help="part numbers (default: all)")
    vacuity.set_defaults(run=_vacuity)
    mutated = commands.add_parser(
        "mutants", help="which mistakes each check catches (tests/mistakes/)"
    )
    mutated.add_argument("--parts", type=int, nargs="+", help="part numbers (default: all)")
    mutated.set_defaults(run=_mutants)
    fair = commands.add_parser(
        "fairness", help="correct code passes under many seeds, threads, devices and routes"
    )
    fair.add_argument("--seeds", type=int, default=100, help="random seeds in this process")
    fair.add_argument("--first-seed", type=int, default=0)
    fair.add_argument("--examples", type=int, default=10, help="examples per check and seed")
    fair.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    fair.add_argument(
        "--routes",
        nargs="+",
        choices=("in-process", "isolated"),
        default=["in-process", "isolated"],
    )
    fair.add_argument(
        "--isolated-seeds", type=int, default=3, help="seeds through the isolated grader"
    )
    fair.add_argument("--parts", type=int, nargs="+", help="part numbers (default: all)")
    fair.add_argument("--verbose", "-v", action="store_true", help="print each trial")
    fair.set_defaults(run=_fairness)
    score = commands.add_parser("score", help="score an implementation in this process")
    score.add_argument("impl", help="solutions, assignments, or a folder of module files")
    score.add_argument("--visible-only", action="store_true", help="leave out hidden checks")
    score.add_argument("--verbose", "-v", action="store_true", help="say why each check failed")
    score.set_defaults(run=_score)
    grade = commands.add_parser("grade", help="grade a submission in a sandbox -> results.json")
    grade.add_argument("submission", type=Path, help="a folder, a zip or a folder of notebooks")
    grade.add_argument("--out", type=Path, default=Path("results.json"))
    grade.add_argument("--parts", type=int, nargs="+", help="part numbers (default: all)")
    grade.add_argument(
        "--no-isolation", action="store_true", help="no namespace or unprivileged user"
    )
    grade.add_argument("--wall-s", type=float, default=30.0, help="seconds per call (30)")
    grade.add_argument("--cpu-s", type=int, default=600, help="CPU seconds per part (600)")
    grade.add_argument("--memory-mb", type=int, default=4096, help="memory per part (4096)")
    grade.add_argument(
        "--part-budget-s", type=float, default=900.0, help="wall seconds per part in all (900)"
    )
    grade.set_defaults(run=_grade)
    many = commands.add_parser("batch", help="grade a folder of submissions in parallel")
    many.add_argument("submissions", type=Path, help="a folder of submission folders or zips")
    many.add_argument("--out", type=Path, default=Path("grades.csv"))
    many.add_argument("--jobs", type=int, default=1, help="submissions graded at once")
    many.add_argument("--parts", type=int, nargs="+", help="part numbers (default: all)")
    many.set_defaults(run=_batch)
    zipped = commands.add_parser("gradescope", help="build the Gradescope autograder zip")
    zipped.add_argument("--out", type=Path, default=stubs.ROOT / "build" / "gradescope.zip")
    zipped.set_defaults(run=_gradescope)
    commands.add_parser("readme", help="regenerate README.md's parts table").set_defaults(
        run=_readme
    )
    student = commands.add_parser("student-bundle", help="write the students' repository")
    student.add_argument("--out", type=Path, default=stubs.ROOT / "build" / "student-bundle")
    student.set_defaults(run=_student_bundle)
    arguments = parser.parse_args(argv)
    try:
        return arguments.run(arguments)
    except ImplementationError as error:
        return _usage_error(str(error))


if __name__ == "__main__":
    sys.exit(main())
