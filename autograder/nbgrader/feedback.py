"""The feedback students read: equations that render offline.

nbconvert's HTML asks MathJax, from a CDN, to typeset ``$...$``: offline the student sees
raw LaTeX. :class:`MathToMathML` turns every equation of the markdown cells into MathML
before the page is written, which browsers draw themselves; the course's template
(``templates/course_feedback``) loads no script at all and names each check in the
contents list.
"""

from __future__ import annotations

import re

from latex2mathml.converter import convert
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$")
CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)


def to_mathml(text: str) -> str:
    """``text`` (markdown) with ``$$...$$`` and ``$...$`` as MathML; code spans untouched."""

    def convert_math(markdown: str) -> str:
        def replace(match: re.Match[str], display: str) -> str:
            try:
                return convert(match.group(1).strip(), display=display)
            except Exception:
                return match.group(0)

        markdown = DISPLAY.sub(lambda m: replace(m, "block"), markdown)
        return INLINE.sub(lambda m: replace(m, "inline"), markdown)

    pieces = CODE.split(text)
    return "".join(p if CODE.fullmatch(p) else convert_math(p) for p in pieces)


class MathToMathML(Preprocessor):
    """Rewrite the equations of markdown cells as MathML (for pages read offline)."""

    # nbconvert runs only the preprocessors that are enabled, and nbgrader registers the
    # configured ones without enabling them.
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = to_mathml(cell.source)
        return cell, resources
