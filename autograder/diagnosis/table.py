"""``tests/probes/expected.json``: what every known mistake gives on every probe of its part.

The mistakes are the catalogue of ``tests/mistakes/`` (the one place they live). For each
part, the reference, every mistake and every correct variant run the part's probes in this
process; only the mistakes' outcomes are stored. The build also says what would make a
diagnosis unsound: a mistake that gives the reference's outcomes on every probe (nothing
tells it from correct code), two mistakes that no probe tells apart, and a correct variant
whose outcomes differ from the reference's (the probe depends on how the code is written).

Each part's entry carries a fingerprint of everything its outcomes depend on (the solution
module, the catalogue, the probes), so a stale file is found without running anything.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.core.assemble import assemble, load_implementation
from autograder.core.paths import ROOT, SOLUTIONS
from autograder.core.rubric import Part, Rubric, load_rubric
from autograder.sweeps import implementations, mutants
from tests.probes import EXPECTED, Probe, outcome, probes_of
from tests.probes.outcomes import same

PROBE_FILES = ("__init__.py", "outcomes.py", "inputs.py")


def fingerprint(part: Part) -> str:
    """A hash of what the part's stored outcomes depend on."""
    digest = hashlib.sha256()
    files = [
        SOLUTIONS / f"{part.module}.py",
        ROOT / "tests" / "mistakes" / f"{part.stem}.py",
        ROOT / "tests" / "probes" / f"{part.stem}.py",
        *(ROOT / "tests" / "probes" / name for name in PROBE_FILES),
    ]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()[:20]


def run_probes(module: Any, probes: list[Probe]) -> dict[str, Any]:
    """Every probe's encoded outcome on ``module``."""
    return {probe.name: outcome(probe, module) for probe in probes}


def reproducible(module: Any, probes: list[Probe], outcomes: dict[str, Any]) -> dict[str, Any]:
    """``outcomes`` with those that change with the random seed replaced by "any".

    A mistake that draws random numbers where the reference does not (dropout in evaluation)
    gives another outcome in the grader's worker, whose random state is its own.
    """
    again = {probe.name: outcome(probe, module, seed=1) for probe in probes}
    return {
        name: value if same(again[name], value) else {"k": "any"}
        for name, value in outcomes.items()
    }


def agree(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Whether two modules' outcomes are the same on every probe."""
    return all(same(first[name], second.get(name)) for name in first)


def differing(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """The probes on which two modules' outcomes differ."""
    return [name for name in first if not same(first[name], second.get(name))]


@dataclass
class PartTable:
    """One part's entry of ``expected.json`` and what keeps its diagnoses from being sound."""

    part: Part
    entry: dict[str, Any]
    problems: list[str] = field(default_factory=list)


def build_part(part: Part, workdir: Path) -> PartTable:
    """Run the part's probes on the reference, its mistakes and its variants."""
    probes = probes_of(part.stem)
    entry: dict[str, Any] = {
        "part": part.number,
        "fingerprint": fingerprint(part),
        "probes": [p.name for p in probes],
        "mistakes": {},
    }
    table = PartTable(part, entry)
    catalogue = mutants.catalogue(part)
    if not probes:
        if any(not m.correct for m in catalogue):
            table.problems.append(f"part {part.number} has mistakes but no probes in tests/probes/")
        return table
    reference = run_probes(assemble(part, load_implementation(SOLUTIONS)).module, probes)
    stored: dict[str, dict[str, Any]] = {}
    for mutant in catalogue:
        folder = implementations.reference_with(workdir / mutant.name, part, mutant.source)
        module = assemble(part, load_implementation(folder), reference=True).module
        outcomes = run_probes(module, probes)
        if mutant.correct:
            off = differing(reference, outcomes)
            if off:
                table.problems.append(
                    f"part {part.number} variant {mutant.name} (correct code) differs from the "
                    f"reference on probe(s) {', '.join(off)}: make the probe test behaviour only"
                )
            continue
        outcomes = reproducible(module, probes, outcomes)
        if agree(reference, outcomes):
            table.problems.append(
                f"part {part.number} mistake {mutant.name} gives the reference's outcome on "
                f"every probe: add a probe to tests/probes/{part.stem}.py that shows it"
            )
            continue
        twins = [name for name, seen in stored.items() if agree(seen, outcomes)]
        if twins:
            table.problems.append(
                f"part {part.number} mistakes {mutant.name} and {', '.join(twins)} give the same "
                f"outcome on every probe: add a probe to tests/probes/{part.stem}.py that tells "
                f"them apart (or drop one if they are the same mistake)"
            )
        stored[mutant.name] = outcomes
        entry["mistakes"][mutant.name] = {"says": mutant.says, "outcomes": outcomes}
    return table


def build(parts: Iterable[int] | None = None, rubric: Rubric | None = None) -> list[PartTable]:
    """The tables of ``parts`` (every part when None)."""
    rubric = rubric or load_rubric()
    tables = []
    with tempfile.TemporaryDirectory(prefix="diagnoses-") as scratch:
        for number in parts or rubric.parts:
            part = rubric.parts[number]
            workdir = Path(scratch) / part.stem
            workdir.mkdir()
            tables.append(build_part(part, workdir))
    return tables


def stored() -> dict[str, Any]:
    """``expected.json`` as it is on disk (empty when missing)."""
    if not EXPECTED.is_file():
        return {}
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


def write(tables: list[PartTable], path: Path = EXPECTED) -> Path:
    """Merge ``tables`` into ``path`` (the other parts' entries are kept)."""
    data = stored() if path == EXPECTED else {}
    for table in tables:
        data[table.part.stem] = table.entry
    ordered = dict(sorted(data.items(), key=lambda kv: int(kv[0][4:].split("_")[0])))
    path.write_text(json.dumps(ordered, separators=(",", ":"), sort_keys=False) + "\n")
    return path


def stale_parts(rubric: Rubric | None = None) -> list[str]:
    """Why ``expected.json`` is out of date, one line per part (empty when it is current)."""
    rubric = rubric or load_rubric()
    data = stored()
    found = []
    for part in rubric.parts.values():
        entry = data.get(part.stem)
        if entry is None:
            found.append(f"part {part.number} has no entry in {EXPECTED.relative_to(ROOT)}")
        elif entry.get("fingerprint") != fingerprint(part):
            found.append(
                f"part {part.number}: its solution, mistakes or probes changed since "
                f"{EXPECTED.relative_to(ROOT)} was written"
            )
    return found
