"""What a check uses to compare results and to fail with a message in the student's terms.

Every value coming back from student code is untrusted: it may be the wrong type, the wrong
shape, NaN, or (in the grader) a copy made in another process. The helpers here turn each
such problem into a :class:`CheckFailure` whose message says what was expected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch

from autograder.core import profiles  # noqa: F401 - registers the hypothesis profiles

TOLERANCES = {
    torch.float64: (1e-9, 1e-7),
    torch.float32: (1e-5, 1e-4),
    torch.float16: (2e-3, 2e-2),
    torch.bfloat16: (1e-2, 5e-2),
}
"""(atol, rtol) for comparing with a reference computed in the same dtype."""


class CheckFailure(AssertionError):
    """A check failed; the message is written for the student."""


def fail(message: str) -> None:
    """Fail the check with ``message``."""
    raise CheckFailure(message)


def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailure(message)


def _shape(shape: Iterable[int]) -> str:
    return (
        "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(tuple(shape)) == 1 else "") + ")"
    )


def tensor(value: Any, what: str) -> torch.Tensor:
    """``value`` as a plain tensor (NumPy arrays are converted), or a failure naming ``what``."""
    if isinstance(value, np.ndarray) and type(value) is np.ndarray:
        if value.dtype == object:
            fail(f"{what} should be a numeric array, got an array of Python objects")
        return torch.from_numpy(np.array(value))
    if type(value) is not torch.Tensor and not isinstance(value, torch.nn.Parameter):
        fail(f"{what} should be a tensor, got {type(value).__name__}")
    return value.detach()


def differentiable(value: Any, what: str) -> torch.Tensor:
    """``value`` itself (not detached) if it is a tensor that autograd can differentiate."""
    tensor(value, what)
    if not value.requires_grad:
        fail(
            f"{what} is not connected to its inputs through autograd (was it detached, or "
            f"computed outside torch?)"
        )
    return value


def pair(value: Any, what: str) -> tuple[Any, Any]:
    """Unpack a function's ``(first, second)`` result, failing clearly when it is not a pair."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        kind = type(value).__name__
        fail(f"{what} should return a pair (output, weights), got {kind}")
    return value[0], value[1]


def expect_shape(value: Any, shape: Iterable[int], what: str) -> torch.Tensor:
    """``value`` as a tensor of exactly ``shape``."""
    result = tensor(value, what)
    expected = tuple(int(s) for s in shape)
    if tuple(result.shape) != expected:
        fail(f"{what}: shape {_shape(result.shape)}, expected {_shape(expected)}")
    return result


def expect_finite(value: Any, what: str) -> torch.Tensor:
    """``value`` as a tensor with no NaN or infinity."""
    result = tensor(value, what)
    if result.is_floating_point() or result.is_complex():
        bad = ~torch.isfinite(result)
        if bad.any():
            index = tuple(int(i) for i in bad.nonzero()[0])
            kind = "NaN" if torch.isnan(result[index]) else "an infinity"
            fail(f"{what}: {kind} at index {index} ({int(bad.sum())} non-finite entries)")
    return result


def expect_close(
    actual: Any,
    expected: Any,
    what: str,
    atol: float | None = None,
    rtol: float | None = None,
    reference: str = "the reference",
) -> torch.Tensor:
    """``actual`` has ``expected``'s shape, is finite where expected is, and is close to it.

    The failure says where the largest difference is and what was expected there.
    """
    expected_t = tensor(expected, "the expected value").to("cpu")
    result = expect_shape(actual, expected_t.shape, what).to("cpu")
    # The less precise of the two dtypes sets the tolerance: a float32 answer to a question
    # posed in float64 is still right.
    default_atol, default_rtol = max(
        TOLERANCES.get(expected_t.dtype, TOLERANCES[torch.float32]),
        TOLERANCES.get(result.dtype, TOLERANCES[torch.float32]),
    )
    atol = default_atol if atol is None else atol
    rtol = default_rtol if rtol is None else rtol
    if (result.dtype == torch.bool) != (expected_t.dtype == torch.bool):
        fail(f"{what}: dtype {result.dtype}, expected {expected_t.dtype}")
    result_f = result.double()
    expected_f = expected_t.double()
    if expected_t.numel() == 0:
        return result
    nan_where = torch.isnan(result_f) & ~torch.isnan(expected_f)
    if nan_where.any():
        index = tuple(int(i) for i in nan_where.nonzero()[0])
        fail(f"{what}: NaN at index {index}, expected {expected_f[index].item():.6g}")
    difference = (result_f - expected_f).abs()
    difference = torch.where(torch.isnan(expected_f), torch.zeros_like(difference), difference)
    same_inf = torch.isinf(expected_f) & (result_f == expected_f)
    difference = torch.where(same_inf, torch.zeros_like(difference), difference)
    allowed = atol + rtol * expected_f.abs().nan_to_num(posinf=0.0, neginf=0.0)
    excess = difference - allowed
    if (excess > 0).any():
        flat = int(torch.argmax(excess.flatten().nan_to_num(nan=float("inf"))))
        index = tuple(int(i) for i in np.unravel_index(flat, tuple(expected_t.shape)))
        count = int((excess > 0).sum())
        fail(
            f"{what}: at index {index} got {result_f[index].item():.6g}, expected "
            f"{expected_f[index].item():.6g} from {reference} ({count} of {expected_t.numel()} "
            f"entries are off by more than {atol:g} + {rtol:g} * |expected|)"
        )
    return result


def expect_equal(actual: Any, expected: Any, what: str) -> torch.Tensor:
    """Exact equality (for masks, token ids and other discrete results)."""
    expected_t = tensor(expected, "the expected value").to("cpu")
    result = expect_shape(actual, expected_t.shape, what).to("cpu")
    if result.dtype != expected_t.dtype:
        fail(f"{what}: dtype {result.dtype}, expected {expected_t.dtype}")
    wrong = result != expected_t
    if wrong.any():
        index = tuple(int(i) for i in wrong.nonzero()[0])
        fail(
            f"{what}: wrong at index {index}: got {result[index].item()}, expected "
            f"{expected_t[index].item()} ({int(wrong.sum())} of {expected_t.numel()} entries wrong)"
        )
    return result


def expect_rows_sum_to(value: Any, totals: Any, what: str, atol: float = 1e-4) -> torch.Tensor:
    """Every row (last dimension) of ``value`` sums to the matching entry of ``totals``."""
    result = expect_finite(value, what)
    sums = result.detach().to("cpu", torch.float64).sum(-1)
    totals_t = torch.as_tensor(totals).detach().to("cpu", torch.float64).expand_as(sums)
    off = (sums - totals_t).abs() > atol
    if off.any():
        index = tuple(int(i) for i in off.nonzero()[0])
        fail(
            f"rows of {what} should sum to {totals_t[index].item():g}, but row {index} sums "
            f"to {sums[index].item():.6g}"
        )
    return result


def expect_raises(
    error: type[BaseException],
    function: Callable[..., Any],
    *args: Any,
    mentions: Iterable[str] = (),
    what: str = "the call",
    **kwargs: Any,
) -> BaseException:
    """``function(*args, **kwargs)`` raises ``error`` whose message names each of ``mentions``."""
    try:
        function(*args, **kwargs)
    except error as raised:
        text = str(raised)
        missing = [m for m in mentions if m not in text]
        if missing:
            fail(
                f"{what} raised {error.__name__}({text!r}), but the message should name "
                + ", ".join(repr(m) for m in missing)
            )
        return raised
    except Exception as other:
        fail(f"{what} should raise {error.__name__}, but raised {type(other).__name__}: {other}")
    fail(f"{what} should raise {error.__name__}, but it returned normally")
    raise AssertionError("unreachable")


def load_weights(module: Any, weights: Mapping[str, torch.Tensor], what: str) -> None:
    """Load ``weights`` into the student's module by name, failing clearly on a mismatch."""
    try:
        result = module.load_state_dict(dict(weights), strict=False)
    except RuntimeError as error:
        fail(f"could not load weights into {what}: {error}")
    missing = [name for name in weights if name in tuple(getattr(result, "unexpected_keys", ()))]
    if missing:
        fail(f"{what} has no parameter named {', '.join(missing)}")


def parameter_shapes(module: Any) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the student module's parameters."""
    return {name: tuple(tensor(value, name).shape) for name, value in module.state_dict().items()}


def in_float64(module: Any, what: str) -> Any:
    """The student's ``module`` converted to float64 (``module.double()``), failing clearly.

    Two computations of the same value by the student's code (a batch and one of its rows,
    permuted inputs, padded inputs) are compared in float64: in float32 they may differ by
    rounding that depends on the BLAS, the thread count and the device, and a verdict must
    depend only on the student's code.
    """
    try:
        module.double()
    except Exception as error:
        fail(
            f"{what}.double() raised {type(error).__name__}: {error} (every module must run "
            "in float64 as in float32: the checks compare two of its results in float64)"
        )
    return module
