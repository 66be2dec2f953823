"""Points per part from check outcomes: the score table pytest and the tools print."""

from __future__ import annotations

from collections.abc import Mapping

from autograder.core.rubric import Rubric


def score_lines(rubric: Rubric, passed: Mapping[str, bool]) -> list[str]:
    """One line per part with at least one check in ``passed``, then the total.

    Args:
        rubric: the course rubric.
        passed: check id -> whether it passed, for the checks that ran.
    """
    lines = []
    total_earned = total_available = 0.0
    for part in rubric.parts.values():
        checks = [c for c in rubric.checks_of(part.number) if c.id in passed]
        if not checks:
            continue
        earned = sum(c.points for c in checks if passed[c.id] and not c.bonus)
        available = sum(c.points for c in checks if not c.bonus)
        bonus = [c for c in checks if c.bonus]
        extra = ""
        if bonus:
            got = sum(c.points for c in bonus if passed[c.id])
            extra = f"  (+{got:g}/{sum(c.points for c in bonus):g} bonus)"
        count = sum(passed[c.id] for c in checks)
        lines.append(
            f"part {part.number} {part.module:<18} {earned:>5g} / {available:<5g} "
            f"({count}/{len(checks)} checks passed){extra}"
        )
        total_earned += earned
        total_available += available
    lines.append(f"{'total':<25} {total_earned:>5g} / {total_available:<5g}")
    return lines
