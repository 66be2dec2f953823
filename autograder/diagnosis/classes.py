"""What a class got wrong: how many students made each diagnosed mistake, per part.

Read from the grader's ``results.json`` files (``extra_data.diagnosis`` of each failed test)
or from autograded notebooks (the ``[diagnosis part N: name]`` tag ending a failing check's
message); written as a CSV and a bar chart an instructor takes to the next lecture.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.probes import expected, read_tags

Found = dict[str, set[tuple[int, str]]]
"""Student (or submission) -> the (part, mistake) pairs diagnosed in their work."""


@dataclass(frozen=True)
class Row:
    """One diagnosed mistake and the students who made it."""

    part: int
    mistake: str
    says: str
    students: tuple[str, ...]


def from_results(graded: Iterable[tuple[str, Mapping[str, Any]]]) -> Found:
    """The diagnoses in each submission's ``results.json`` data."""
    found: Found = {}
    for name, data in graded:
        seen = found.setdefault(name, set())
        for test in data.get("tests", []):
            extra = test.get("extra_data") or {}
            if isinstance(extra.get("diagnosis"), str) and isinstance(extra.get("part"), int):
                seen.add((extra["part"], extra["diagnosis"]))
    return found


def _outputs(notebook: Path) -> str:
    """Every text a notebook's cells printed or raised."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return ""
    texts = []
    for cell in cells:
        for output in cell.get("outputs", []) if isinstance(cell, dict) else []:
            text = output.get("text", "")
            texts.append("".join(text) if isinstance(text, list) else str(text))
            texts += [str(output.get("evalue", ""))] + [str(t) for t in output.get("traceback", [])]
    return "\n".join(texts)


def from_notebooks(autograded: Path) -> Found:
    """The diagnoses in nbgrader's autograded notebooks (``autograded/<student>/...``)."""
    found: Found = {}
    for student in sorted(p for p in autograded.iterdir() if p.is_dir()):
        seen = found.setdefault(student.name, set())
        for notebook in sorted(student.rglob("*.ipynb")):
            seen.update(read_tags(_outputs(notebook)))
    return found


def rows(found: Found) -> list[Row]:
    """One row per diagnosed mistake: by part, the most frequent first."""
    students: dict[tuple[int, str], list[str]] = {}
    for name, pairs in found.items():
        for pair in pairs:
            students.setdefault(pair, []).append(name)
    says = {
        (entry["part"], mistake): details["says"]
        for entry in expected().values()
        for mistake, details in entry.get("mistakes", {}).items()
    }
    table = [
        Row(part, mistake, says.get((part, mistake), ""), tuple(sorted(names)))
        for (part, mistake), names in students.items()
    ]
    return sorted(table, key=lambda r: (r.part, -len(r.students), r.mistake))


def lines(table: list[Row], total: int) -> list[str]:
    """The table as text, for the end of ``batch`` and of the grades export."""
    if not table:
        return [f"diagnosed mistakes: none among {total} submissions"]
    found = [f"diagnosed mistakes ({total} submissions):"]
    found += [f"  part {r.part}  {len(r.students):>4}  {r.mistake}: {r.says}" for r in table]
    return found


def write(table: list[Row], csv_path: Path, total: int) -> tuple[Path, Path]:
    """Write the table as CSV and as a bar chart (a PNG beside it)."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["part", "mistake", "students", "of", "says", "who"])
        for r in table:
            writer.writerow(
                [r.part, r.mistake, len(r.students), total, r.says, " ".join(r.students)]
            )
    png = csv_path.with_suffix(".png")
    _plot(table, png, total)
    return csv_path, png


def _plot(table: list[Row], path: Path, total: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"part {r.part}: {r.mistake}" for r in table] or ["(no diagnosed mistake)"]
    counts = [len(r.students) for r in table] or [0]
    figure, axes = plt.subplots(figsize=(9, 1.2 + 0.35 * len(labels)))
    colours = [f"C{r.part % 10}" for r in table] or ["C0"]
    axes.barh(range(len(labels)), counts, color=colours)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(f"students (of {total})")
    axes.set_title("Diagnosed mistakes: how many students made each")
    axes.xaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
