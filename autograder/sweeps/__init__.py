"""Sweeps: every graded check run against families of implementations.

- :mod:`.mutants`: the realistic mistakes and correct variants of ``tests/mistakes/``;
  every mistake is caught, every check catches a mistake, every variant gets full marks.
- :mod:`.trivial`: code that does nothing useful (zeros, ones, the input, random values,
  always raising, ``None``) scores 0 on every part.
- :mod:`.fairness`: correct code gets every point under many random seeds, thread counts,
  devices and both routes (in this process and through the isolated grader).
"""
