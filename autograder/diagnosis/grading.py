"""The grader's hook: diagnose a failing part on the student's module in the sandbox."""

from __future__ import annotations

import time

from autograder.core.rubric import Part
from autograder.grader.sandbox import Sandbox
from tests.probes import Diagnosis, diagnose

MIN_LEFT_S = 5.0
"""Seconds of the part's budget a diagnosis needs left to be tried at all."""


def diagnose_in_sandbox(box: Sandbox, part: Part, deadline: float) -> Diagnosis | None:
    """The known mistake ``part``'s module in ``box`` makes, probed through the sandbox's
    proxies (the verdict on each probe is computed here, never in the student's process).

    None when no single mistake matches, when too little of the part's time is left
    (``deadline``, ``time.monotonic()``), or when the student's process fails.
    """
    left = deadline - time.monotonic()
    if left < MIN_LEFT_S:
        return None
    try:
        box.reset(budget_s=left)
        module = box.module(part.module)
    except Exception:
        return None
    return diagnose(part.stem, module)
