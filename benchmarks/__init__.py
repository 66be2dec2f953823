"""Benchmark scripts (not part of make test)."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commit() -> str:
    """The short hash of the commit measured, or "unknown" outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def publish(report: str, name: str) -> None:
    """Print ``report`` and keep it in ``runs/<name>.md``."""
    print("\n" + report)
    out = ROOT / "runs" / f"{name}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n", encoding="utf-8")
    print(f"\nwritten to {out.relative_to(ROOT)}")
