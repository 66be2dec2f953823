"""Realistic mistakes and correct variants of every part, written as edits of the reference.

One module per part, named like the part's check modules (``part2_qkv.py``), defines two
lists: ``MISTAKES`` (code a student could write that is wrong) and ``VARIANTS`` (code written
another way that is right). Each entry is an :class:`Edit` of the part's solution module.

The promises they keep, tested by ``tests/test_mistakes.py`` and swept by
``python -m autograder mutants``:

- every mistake fails at least one graded check of its part;
- every graded check is failed by at least one mistake (no check that catches nothing);
- every variant passes every graded check of its part, hidden ones included.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    """One way of writing a part, as text replacements in the part's solution module.

    Attributes:
        name: short id, unique within the part (``no_scaling``).
        replacements: ``(old, new)`` pairs; each ``old`` must occur in the solution, and its
            first occurrence is replaced, in order.
        says: what the student did, in the student's terms ("the scores are not divided by
            sqrt(d_k)").
    """

    name: str
    replacements: tuple[tuple[str, str], ...]
    says: str

    def apply(self, source: str, filename: str = "the solution") -> str:
        """``source`` with the replacements made; ``ValueError`` when one no longer applies."""
        for old, new in self.replacements:
            if old not in source:
                raise ValueError(f"{self.name}: {filename} no longer contains {old!r}")
            source = source.replace(old, new, 1)
        return source


def edit(name: str, old: str, new: str, says: str) -> Edit:
    """An :class:`Edit` with a single replacement."""
    return Edit(name, ((old, new),), says)
