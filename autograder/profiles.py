"""Hypothesis profiles: ``dev`` (quick, random), ``ci`` (derandomized), ``grading``.

``grading`` is what notebooks, the grader and the student's score use: derandomized, a fixed
number of examples, no example database and no deadline, so the same submission always
gets the same result and a slow machine never fails a correct one.
"""

from hypothesis import HealthCheck, Phase, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
# No "explain" phase: its report names lines of the checks, which hidden checks must not show.
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]

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
settings.register_profile(
    "grading",
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=_QUIET,
    phases=_PHASES,
)


def use(profile: str) -> None:
    """Make ``profile`` the active hypothesis profile."""
    settings.load_profile(profile)
