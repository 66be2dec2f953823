"""Hypothesis profiles: ``dev`` (quick, random), ``ci`` (derandomized), ``grading``.

``grading`` is what pytest's graded checks, the notebooks, the grader and ``score`` use:
derandomized, a fixed number of examples, no example database and no deadline, so the same
submission always gets the same result and a slow machine never fails a correct one.

A ``@given`` test keeps the settings that were current when it was decorated, so loading a
profile after the check modules are imported changes nothing. :func:`configured` applies
settings (and a seed) to one check for one run, whatever was current at import.

Importing this module also stops hypothesis from mixing constants found in loaded local
modules into its draws (see :func:`_draw_no_local_constants`): otherwise the examples of a
derandomized check depend on which files happen to be imported, which differs between pytest,
the notebooks and the grader, and between two students' code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants


def _draw_no_local_constants() -> None:
    """Make hypothesis' default provider see no constants from local modules.

    Hypothesis (6.170, pinned in requirements.txt) collects every int, float and string literal
    of each imported module outside site-packages and the standard library, and with
    probability 0.05 per choice draws one of them instead of a random value. The student's own
    module is such a module (as are the notebook's cells and the grader's files), so the same
    check drew different examples under pytest, in a notebook and in the grader, and a
    student's literals could steer which examples a check tries. With the pool empty the draws
    depend only on the check and the seed; hypothesis' built-in constants stay in use.
    ``tests/test_fairness.py`` proves the draws no longer depend on what is loaded.
    """
    empty = Constants()
    providers._get_local_constants = lambda: empty
    # Pools computed before this call would still hold local constants.
    providers.CONSTANTS_CACHE.cache.clear()


_draw_no_local_constants()

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
