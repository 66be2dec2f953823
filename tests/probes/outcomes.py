"""What a probe returned, as JSON, and whether two such outcomes are the same.

Floats are kept as numbers (a mistake's output is compared within a tolerance); everything
exact (booleans, integers, strings, masks, token ids) is kept as a hash, so the file of
expected outcomes, which ships to students, never spells out an answer.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
import torch

ATOL = 1e-5
RTOL = 1e-4
SIGNIFICANT = 7
"""Digits kept of a stored float: enough for the tolerance, small enough for the file."""


def _digest(kind: str, payload: Any) -> str:
    text = json.dumps([kind, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _number(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(f"{value:.{SIGNIFICANT}g}")


def _array(values: np.ndarray) -> dict[str, Any]:
    shape = list(values.shape)
    if values.dtype == np.bool_ or np.issubdtype(values.dtype, np.integer):
        exact = values.astype(np.int64).ravel().tolist()
        kind = "bool" if values.dtype == np.bool_ else "int"
        return {"k": "exact", "shape": shape, "h": _digest(kind, [shape, exact])}
    if np.iscomplexobj(values) or values.dtype == object:
        return {"k": "other", "h": _digest("other", type(values).__name__)}
    floats = values.astype(np.float64).ravel().tolist()
    return {
        "k": "float",
        "shape": shape,
        "dt": values.dtype.name,
        "v": [_number(x) for x in floats],
    }


def _exact(node: Any) -> bool:
    kind = node.get("k")
    if kind in ("seq", "map"):
        items = node["items"] if kind == "seq" else [v for _, v in node["items"]]
        return all(_exact(item) for item in items)
    return kind != "float"


def encode(value: Any) -> Any:
    """``value`` (a tensor, an array, a number, a string, an exception, nested in tuples,
    lists and dicts) as JSON data; anything else is kept as its type's name. A nested
    value without floats is kept as one hash."""
    node = _encode(value)
    if node.get("k") in ("seq", "map") and _exact(node):
        return {"k": "exact", "shape": None, "h": _digest("nested", node)}
    return node


def _encode(value: Any, depth: int = 0) -> Any:
    """:func:`encode`, nested values kept item by item."""
    if depth > 8:
        return {"k": "deep"}
    if isinstance(value, BaseException):
        return {"k": "raises", "type": type(value).__name__}
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            return {**_array(value.float().numpy()), "dt": "bfloat16"}
        return _array(value.resolve_conj().numpy())
    if isinstance(value, np.ndarray):
        return _array(np.asarray(value))
    if value is None:
        return {"k": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"k": "exact", "shape": None, "h": _digest("bool", bool(value))}
    if isinstance(value, (int, np.integer)):
        return {"k": "exact", "shape": None, "h": _digest("int", int(value))}
    if isinstance(value, (float, np.floating)):
        return {"k": "float", "shape": None, "dt": "number", "v": [_number(float(value))]}
    if isinstance(value, str):
        return {"k": "exact", "shape": None, "h": _digest("str", value)}
    if isinstance(value, (tuple, list)):
        return {"k": "seq", "items": [_encode(item, depth + 1) for item in list(value)[:256]]}
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))[:256]
        return {"k": "map", "items": [[str(k), _encode(v, depth + 1)] for k, v in items]}
    return {"k": "other", "h": _digest("other", type(value).__name__)}


def _close(actual: float | str, expected: float | str) -> bool:
    if isinstance(actual, str) or isinstance(expected, str):
        return actual == expected
    return abs(actual - expected) <= ATOL + RTOL * abs(expected)


def same(actual: Any, expected: Any) -> bool:
    """Whether two encoded outcomes agree: same kinds and shapes, floats within
    :data:`ATOL` + :data:`RTOL`, the same NaN and infinities, the same exception type (an
    expected outcome ``{"k": "any"}`` matches anything)."""
    if not isinstance(actual, dict) or not isinstance(expected, dict):
        return actual == expected
    kind = expected.get("k")
    if kind == "any":
        # The mistake's outcome on this probe is random (it drops out in evaluation, say):
        # any outcome matches, and other probes must tell it from correct code.
        return True
    if actual.get("k") != kind:
        return False
    if kind == "float":
        values, wanted = actual["v"], expected["v"]
        return (
            actual["shape"] == expected["shape"]
            and actual.get("dt") == expected.get("dt")
            and len(values) == len(wanted)
            and all(_close(a, e) for a, e in zip(values, wanted, strict=True))
        )
    if kind == "seq":
        return len(actual["items"]) == len(expected["items"]) and all(
            same(a, e) for a, e in zip(actual["items"], expected["items"], strict=True)
        )
    if kind == "map":
        return [k for k, _ in actual["items"]] == [k for k, _ in expected["items"]] and all(
            same(a, e) for (_, a), (_, e) in zip(actual["items"], expected["items"], strict=True)
        )
    return actual == expected
