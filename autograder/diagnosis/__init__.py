"""Diagnosis of a failing part (which known mistake it makes) and what a class got wrong.

The probes and the one entry point, :func:`tests.probes.diagnose`, live in ``tests/probes/``
(they ship with the student runtime). Here: the table of expected outcomes
(:mod:`.table`), the grader's hook (:mod:`.grading`), the sweep of every mistake through the
sandbox (:mod:`.sweep`), the class table (:mod:`.classes`) and similar submissions
(:mod:`.similarity`, :mod:`.report`).
"""
