"""Pairs of submissions whose student-written code is unusually similar.

The fingerprinting is copydetect's (pinned in requirements.txt): each part module is
tokenized with names replaced (variables ``V``, functions ``F``, classes ``O``, strings
``S``) and comments and spaces dropped, so renaming and reformatting change nothing; its
25-character chunks are hashed and winnowed as MOSS does (window 4), so reordering functions
changes nothing either. The starter code is excluded: every chunk of the stub module (the
given code, the docstrings, the hints) is removed from a submission's fingerprints before
comparing. Only the chunk hash is ours: a fixed BLAKE2 hash instead of Python's per-process
``hash``, so the same class always gets the same scores.

A pair is flagged when at least :data:`THRESHOLD` of one student's own code (over every part
they wrote) is found in the other's, and they share at least :data:`MIN_SHARED` characters
of filtered code.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from copydetect.detector import compare_files
from copydetect.utils import filter_code, get_token_coverage, winnow

from autograder.core.paths import ASSIGNMENTS
from autograder.core.rubric import Rubric, load_rubric
from autograder.grader.submission import SubmissionError, prepare

K = 25
"""Characters of filtered code per fingerprinted chunk (copydetect's noise threshold)."""
WINDOW = 4
"""Winnowing window: any shared run of K + WINDOW - 1 characters is always found."""
THRESHOLD = 0.6
MIN_SHARED = 150


def _chunk_hashes(text: str) -> np.ndarray:
    """A fixed 63-bit hash of every K-character chunk of ``text``."""
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(text[i : i + K].encode(), digest_size=8).digest()) >> 1
            for i in range(len(text) - K + 1)
        ],
        dtype=np.int64,
    )


@dataclass
class Fingerprint:
    """One module's winnowed fingerprints, in the shape copydetect's comparison reads."""

    filename: str
    raw_code: str
    filtered_code: str
    offsets: np.ndarray
    hashes: set[int]
    hash_idx: dict[int, list[int]]
    token_coverage: float
    k: int = K


@cache
def starter_hashes(module: str) -> frozenset[int]:
    """Every chunk hash of the stub module (the code every student starts from)."""
    path = ASSIGNMENTS / f"{module}.py"
    if not path.is_file():
        return frozenset()
    filtered, _ = filter_code(path.read_text(encoding="utf-8"), path.name)
    return frozenset(_chunk_hashes(filtered).tolist())


def fingerprint(code: str, module: str) -> Fingerprint:
    """The fingerprints of a student's ``module`` source, the starter code's removed."""
    filtered, offsets = filter_code(code, f"{module}.py")
    chunks = _chunk_hashes(filtered)
    if len(chunks) == 0:
        selected, index = chunks, np.array([], dtype=int)
    else:
        selected, index = winnow(chunks, WINDOW, remove_duplicates=False)
    starter = starter_hashes(module)
    by_hash: dict[int, list[int]] = {}
    for value, position in zip(selected.tolist(), index.tolist(), strict=True):
        if value not in starter:
            by_hash.setdefault(value, []).append(position)
    coverage = float(get_token_coverage(by_hash, K, len(filtered)))
    return Fingerprint(f"{module}.py", code, filtered, offsets, set(by_hash), by_hash, coverage)


@dataclass
class Student:
    """A submission's own code, module by module."""

    name: str
    modules: dict[str, Fingerprint] = field(default_factory=dict)

    @property
    def own(self) -> float:
        """Characters of filtered code the student wrote (outside the starter code)."""
        return sum(f.token_coverage for f in self.modules.values())


def load(submission: Path, rubric: Rubric) -> Student:
    """The part modules of one submission (a folder, a zip or notebooks)."""
    student = Student(submission.name)
    with tempfile.TemporaryDirectory(prefix="similarity-") as scratch:
        try:
            prepared = prepare(submission, Path(scratch), rubric)
        except (SubmissionError, OSError):
            return student
        for part in rubric.parts.values():
            path = prepared.folder / f"{part.module}.py"
            if path.is_file():
                code = path.read_text(encoding="utf-8", errors="replace")
                found = fingerprint(code, part.module)
                if found.token_coverage:
                    student.modules[part.module] = found
    return student


@dataclass
class Shared:
    """What two students share in one module: characters and where (raw code slices)."""

    module: str
    first: Fingerprint
    second: Fingerprint
    chars: tuple[float, float]
    slices: tuple[np.ndarray, np.ndarray]


@dataclass
class Pair:
    """Two submissions and the code they share."""

    first: Student
    second: Student
    shared: list[Shared]

    def chars(self, side: int) -> float:
        return sum(s.chars[side] for s in self.shared)

    @property
    def scores(self) -> tuple[float, float]:
        """The share of each student's own code found in the other's."""
        own = (self.first.own, self.second.own)
        return tuple(self.chars(i) / own[i] if own[i] else 0.0 for i in (0, 1))  # type: ignore[return-value]

    @property
    def score(self) -> float:
        return max(self.scores)

    @property
    def flagged(self) -> bool:
        return self.score >= THRESHOLD and min(self.chars(0), self.chars(1)) >= MIN_SHARED


def compare(first: Student, second: Student) -> Pair:
    """The code two students share, module by module."""
    shared = []
    for module in sorted(set(first.modules) & set(second.modules)):
        a, b = first.modules[module], second.modules[module]
        _, similarity, slices = compare_files(a, b)
        if similarity[0] or similarity[1]:
            chars = (similarity[0] * a.token_coverage, similarity[1] * b.token_coverage)
            shared.append(Shared(module, a, b, chars, slices))
    return Pair(first, second, shared)


def find(
    submissions: Iterable[Path], rubric: Rubric | None = None
) -> tuple[list[Student], list[Pair]]:
    """Every submission's fingerprints, and every pair compared (most similar first)."""
    rubric = rubric or load_rubric()
    students = [load(s, rubric) for s in submissions]
    pairs = [
        compare(a, b)
        for i, a in enumerate(students)
        for b in students[i + 1 :]
        if a.modules and b.modules
    ]
    return students, sorted(pairs, key=lambda p: -p.score)
