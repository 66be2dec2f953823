"""Where things are in the course repository (and in the student bundle, laid out alike)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository: the folder that holds ``rubric.toml``."""
RUBRIC = ROOT / "rubric.toml"
SOLUTIONS = ROOT / "solutions"
"""The reference implementation (absent from the student bundle)."""
ASSIGNMENTS = ROOT / "assignments"
"""The stubs generated from ``solutions/``."""
DATASETS = ROOT / "datasets"
BUILD = ROOT / "build"
"""Everything the tools write: the nbgrader course, the bundle, results, figures' scratch."""
