"""Hypothesis profiles: ``dev`` (quick, random), ``ci`` (derandomized), ``grading``.

``grading`` is what pytest's graded checks, the notebooks, the grader and ``score`` use:
derandomized, a fixed number of examples, no example database and no deadline, so the same
submission always gets the same result and a slow machine never fails a correct one.

A ``@given`` test keeps the settings that were current when it was decorated, so loading a
profile after the check modules are imported changes nothing. :func:`configured` applies
settings (and a seed) to one check for one run, whatever was current at import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import HealthCheck, Phase, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
# No "explain" phase: its report names lines of the checks, which hidden checks must not show.
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]

GRADING = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=_QUIET,
    phases=_PHASES,
)
"""The settings every graded run uses."""

settings.register_profile(
    "dev", max_examples=20, deadline=None, suppress_health_check=_QUIET, phases=_PHASES
)
settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=_QUIET,
    phases=_PHASES,
)
settings.register_profile("grading", GRADING)


def use(profile: str) -> None:
    """Make ``profile`` the active hypothesis profile (for checks decorated after this)."""
    settings.load_profile(profile)


def sweeping(max_examples: int) -> settings:
    """Random (not derandomized) settings for a sweep that draws with many seeds."""
    return settings(GRADING, derandomize=False, max_examples=max_examples)


@contextlib.contextmanager
def configured(
    check: Callable[..., Any], chosen: settings | None = None, seed: int | None = None
) -> Iterator[None]:
    """Run ``check`` (a ``@given`` function) with ``chosen`` settings and ``seed`` inside.

    Hypothesis reads both from attributes of the decorated function when it runs; they are
    set here and restored afterwards, so other callers of the same check are unaffected.
    A function that is not a hypothesis test is left alone.
    """
    if not getattr(check, "is_hypothesis_test", False):
        yield
        return
    saved = (check._hypothesis_internal_use_settings, check._hypothesis_internal_use_seed)
    check._hypothesis_internal_use_settings = chosen or GRADING
    check._hypothesis_internal_use_seed = seed
    try:
        yield
    finally:
        check._hypothesis_internal_use_settings, check._hypothesis_internal_use_seed = saved
