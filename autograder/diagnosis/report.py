"""The similarity report: one self-contained HTML page a person reads side by side.

A table of the most similar pairs (flagged ones first), then, for each flagged pair, every
module they share: the two students' code in two columns, the shared code highlighted.
No script, no stylesheet or font from elsewhere: the page opens offline.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from copydetect.utils import highlight_overlap

from autograder.diagnosis.similarity import MIN_SHARED, THRESHOLD, Pair, Shared

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table.pairs { border-collapse: collapse; }
table.pairs td, table.pairs th { border: 1px solid #ccc; padding: 0.3em 0.6em; }
tr.flagged { background: #fde2e2; }
.side { display: flex; gap: 1em; }
.side > div { flex: 1; min-width: 0; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.8em; }
mark { background: #ffd54f; }
"""


def _highlighted(code: str, slices: np.ndarray) -> str:
    if slices.size == 0:
        return html.escape(code)
    text, _ = highlight_overlap(
        code, np.asarray(slices, dtype=int), "<mark>", "</mark>", escape_html=True
    )
    return text


def _module(shared: Shared, first: str, second: str) -> str:
    columns = []
    for side, (name, fingerprint) in enumerate(((first, shared.first), (second, shared.second))):
        columns.append(
            f"<div><h4>{html.escape(name)}: {html.escape(shared.module)}.py "
            f"({shared.chars[side]:.0f} characters shared)</h4>"
            f"<pre>{_highlighted(fingerprint.raw_code, shared.slices[side])}</pre></div>"
        )
    return f'<div class="side">{"".join(columns)}</div>'


def render(pairs: list[Pair], submissions: int, limit: int = 30) -> str:
    """The report's HTML for ``pairs`` (most similar first)."""
    flagged = [p for p in pairs if p.flagged]
    rows = []
    for pair in pairs[:limit]:
        first, second = pair.scores
        rows.append(
            f'<tr class="{"flagged" if pair.flagged else ""}">'
            f"<td>{html.escape(pair.first.name)}</td><td>{html.escape(pair.second.name)}</td>"
            f"<td>{first:.0%}</td><td>{second:.0%}</td>"
            f"<td>{min(pair.chars(0), pair.chars(1)):.0f}</td>"
            f"<td>{'yes' if pair.flagged else ''}</td></tr>"
        )
    sections = []
    for pair in flagged:
        a, b = html.escape(pair.first.name), html.escape(pair.second.name)
        body = "".join(_module(s, pair.first.name, pair.second.name) for s in pair.shared)
        sections.append(f'<h2 id="{a}-{b}">{a} and {b}: {pair.score:.0%}</h2>{body}')
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Similar submissions</title>"
        f"<style>{STYLE}</style></head><body><h1>Similar submissions</h1>"
        f"<p>{submissions} submissions, {len(pairs)} pairs compared, {len(flagged)} flagged: "
        f"at least {THRESHOLD:.0%} of one student's own code (the starter code excluded, names "
        f"and layout ignored) is in the other's, and they share at least {MIN_SHARED} "
        "characters. A flag asks a person to read the code: similar code can have honest "
        "causes (short parts, the same textbook).</p>"
        "<table class='pairs'><tr><th>first</th><th>second</th><th>of first's code</th>"
        "<th>of second's code</th><th>shared characters</th><th>flagged</th></tr>"
        f"{''.join(rows)}</table>{''.join(sections)}</body></html>\n"
    )


def write(pairs: list[Pair], submissions: int, path: Path) -> Path:
    """Write the report to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(pairs, submissions), encoding="utf-8")
    return path
