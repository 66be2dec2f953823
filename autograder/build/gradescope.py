"""``make gradescope``: the autograder zip Gradescope builds its grading image from.

The zip holds ``setup.sh`` (installs Python 3.11 and the pinned packages), ``run_autograder``
(grades ``/autograder/submission`` into ``/autograder/results/results.json``) and, under
``source/``, what grading needs: the tooling, the reference, the checks (hidden ones
included), the stubs, the rubric, the datasets and the recipes. One container grades one submission, so
a course grades thousands in parallel.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from autograder.core.paths import ROOT
from autograder.core.rubric import load_rubric

TEMPLATES = Path(__file__).resolve().parent / "templates"
SOURCE = ("autograder", "solutions", "assignments", "tests", "datasets", "recipes")
FILES = ("rubric.toml", "requirements.txt", "pyproject.toml")
LEFT_OUT = ("__pycache__", "*.pyc", "submissions", "test_*.py", "templates")
TORCH_VERSION = "2.13.0"


def build(out: Path, parts: Iterable[int] | None = None) -> Path:
    """Write the autograder zip to ``out`` and return its path.

    Args:
        out: the zip to write.
        parts: the parts of the assignment this autograder grades (all parts when None);
            the others are neither graded nor reported missing.
    """
    rubric = load_rubric()
    chosen = sorted(set(parts or rubric.parts))
    unknown = [n for n in chosen if n not in rubric.parts]
    if unknown:
        raise ValueError(f"no part {unknown} in rubric.toml (parts: {sorted(rubric.parts)})")
    with tempfile.TemporaryDirectory() as scratch:
        staging = Path(scratch) / "autograder"
        source = staging / "source"
        for folder in SOURCE:
            if (ROOT / folder).is_dir():
                shutil.copytree(
                    ROOT / folder, source / folder, ignore=shutil.ignore_patterns(*LEFT_OUT)
                )
        for name in FILES:
            shutil.copy2(ROOT / name, source / name)
        setup = (TEMPLATES / "gradescope_setup.sh").read_text().replace("__TORCH__", TORCH_VERSION)
        (staging / "setup.sh").write_text(setup)
        run = (TEMPLATES / "run_autograder").read_text()
        (staging / "run_autograder").write_text(run.replace("__PARTS__", " ".join(map(str, chosen))))
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(staging.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo.from_file(path, path.relative_to(staging))
                    executable = path.name in ("setup.sh", "run_autograder")
                    mode = 0o755 if executable else 0o644
                    info.external_attr = (stat.S_IFREG | mode) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, path.read_bytes())
    return out
