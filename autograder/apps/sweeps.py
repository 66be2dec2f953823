"""Commands that sweep every graded check over families of implementations."""

from __future__ import annotations

import argparse

from autograder.build import stubs
from autograder.core.rubric import load_rubric
from autograder.sweeps import fairness, mutants, trivial
from autograder.sweeps import stubs as stub_sweep


def _check_stubs(arguments: argparse.Namespace) -> int:
    """Fresh stubs; every check fails on them and on trivial code, passes on the reference."""
    problems = stubs.stale_files()
    if problems:
        print("assignments/ is out of sync with solutions/:")
        for problem in problems:
            print(f"  {problem}")
        print("Run `make stubs` to regenerate it, then commit assignments/.")
        return 1
    print("assignments/ matches solutions/")
    bad = count = 0
    for result in stub_sweep.verify(arguments.parts):
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
    """Every trivial family of every part scores 0 (in this process)."""
    generous = outcomes = 0
    for outcome in trivial.sweep(arguments.parts):
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
    rubric = load_rubric()
    found: list[str] = []
    for number in arguments.parts or rubric.parts:
        part = rubric.parts[number]
        outcomes = list(mutants.sweep([number], rubric))
        print(f"part {number} ({part.module}): {len(outcomes)} mutants; mistakes per check")
        print("\n".join(mutants.matrix_lines(outcomes, part, rubric)))
        found += mutants.problems(outcomes, part, rubric)
    for problem in found:
        print(f"PROBLEM {problem}")
    print(f"{len(found)} problems")
    return 1 if found else 0


def _fairness(arguments: argparse.Namespace) -> int:
    """Correct code passes every check under every seed, thread count, device and route."""
    first = arguments.first_seed

    def progress(trial: fairness.Trial) -> None:
        if arguments.verbose:
            print(f"  {trial}", flush=True)

    results = fairness.sweep(
        range(first, first + arguments.seeds),
        examples=arguments.examples,
        threads=arguments.threads,
        routes=arguments.routes,
        isolated_seeds=range(first, first + arguments.isolated_seeds),
        parts=arguments.parts,
        progress=progress,
        on=arguments.devices,
    )
    # Printed as they come, so a sweep cut short (a time limit) still says what it saw.
    total = fairness.Tally()
    current: tuple[int, str] | None = None

    def finished(key: tuple[int, str] | None) -> None:
        if key is not None:
            print(
                f"  part {key[0]} on {key[1]} done: so far {total.runs} check runs, "
                f"{len(total.failures)} false failures",
                flush=True,
            )

    for trial, verdicts in results:
        key = (trial.part.number, trial.implementation)
        if key != current:
            finished(current)
            current = key
        step = fairness.tally([(trial, verdicts)])
        for failure in step.failures:
            print(failure, flush=True)
        total.runs += step.runs
        total.failures += step.failures
    finished(current)
    on = ", ".join(arguments.devices or fairness.devices())
    print(
        f"{total.runs} check runs ({arguments.seeds} seeds x {arguments.examples} examples in "
        f"this process, {arguments.isolated_seeds} seeds through the isolated grader; threads "
        f"{', '.join(map(str, arguments.threads))}; devices {on}): "
        f"{len(total.failures)} false failures"
    )
    return 1 if total.failures else 0


def register(commands: argparse._SubParsersAction) -> None:
    for name, run, text in (
        ("check-stubs", _check_stubs, "every check fails on the stubs and on trivial code"),
        ("vacuity", _vacuity, "trivial implementations (zeros, identity, ...) must score 0"),
        ("mutants", _mutants, "which mistakes each check catches (tests/mistakes/)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--parts", type=int, nargs="+", help="part numbers (default: all)")
        command.set_defaults(run=run)
    fair = commands.add_parser(
        "fairness", help="correct code passes under many seeds, threads, devices and routes"
    )
    fair.add_argument("--seeds", type=int, default=100, help="random seeds in this process")
    fair.add_argument("--first-seed", type=int, default=0)
    fair.add_argument("--examples", type=int, default=10, help="examples per check and seed")
    fair.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    fair.add_argument("--routes", nargs="+", choices=fairness.ROUTES, default=list(fairness.ROUTES))
    fair.add_argument(
        "--isolated-seeds", type=int, default=3, help="seeds through the isolated grader"
    )
    fair.add_argument("--parts", type=int, nargs="+", help="part numbers (default: all)")
    fair.add_argument(
        "--devices", nargs="+", choices=["cpu", "cuda"], help="devices (default: every one present)"
    )
    fair.add_argument("--verbose", "-v", action="store_true", help="print each trial")
    fair.set_defaults(run=_fairness)
