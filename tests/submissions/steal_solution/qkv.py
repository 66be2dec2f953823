"""A submission that tries to copy the reference solution and to overwrite the results file.

At import it looks for ``solutions/qkv.py`` and ``tests/hidden/`` where a grader usually
keeps them, and for results files to overwrite. If it can read the solution it runs it and
answers with it (full marks, if the grader let it); if not, every call says what it could
not read.
"""

import glob

SOLUTION_PATTERNS = [
    "/work/*/solutions/qkv.py",
    "/autograder/source/solutions/qkv.py",
    "/*/solutions/qkv.py",
    "/*/*/solutions/qkv.py",
]
HIDDEN_PATTERNS = ["/work/*/tests/hidden/part2_qkv.py", "/autograder/source/tests/hidden/*.py"]
RESULTS_PATTERNS = [
    "/autograder/results/results.json",
    "/tmp/pytest-of-*/pytest-*/*/*/results.json",
    "/tmp/*/results.json",
]
FORGED = '{"score": 100.0, "tests": []}\n'


def _found(patterns):
    return sorted({path for pattern in patterns for path in glob.glob(pattern)})


def _read_first(paths):
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except OSError:
            continue
    return None


for _path in _found(RESULTS_PATTERNS):
    try:
        with open(_path, "w", encoding="utf-8") as _handle:
            _handle.write(FORGED)
    except OSError:
        pass

_SOLUTION = _read_first(_found(SOLUTION_PATTERNS))
_HIDDEN = _read_first(_found(HIDDEN_PATTERNS))
# The reference imports its helpers relatively: run it as a module of this package.
_stolen: dict = {"__name__": f"{__package__}.stolen", "__package__": __package__}
if _SOLUTION is not None:
    exec(compile(_SOLUTION, "stolen", "exec"), _stolen)


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    if "scaled_dot_product_attention" not in _stolen:
        raise FileNotFoundError("could not read the reference solution to copy it")
    return _stolen["scaled_dot_product_attention"](query, key, value, mask, dropout_p)


def __getattr__(name):
    if name in _stolen:
        return _stolen[name]
    raise AttributeError(f"could not steal {name} from the reference solution")
