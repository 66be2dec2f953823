"""Part 9 (tasks): realistic mistakes and correct variants."""

MISTAKES = []

VARIANTS = []
