"""Fixed inputs of the probes, and weights chosen by parameter name.

Every input is drawn from a generator seeded by the probe's own numbers, so a probe sees the
same tensors in every run, in this process or in the grader's. Weights are chosen from each
parameter's name and shape only: any implementation that uses the documented names
(``w_q``, ``weight``, ``bias``...) gets the same weights as the reference.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import torch


def floats(seed: int, *shape: int, scale: float = 1.0) -> torch.Tensor:
    """Standard normal values times ``scale``, float64, of ``shape``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale


def array(seed: int, *shape: int, scale: float = 1.0) -> np.ndarray:
    """:func:`floats` as a NumPy array."""
    return floats(seed, *shape, scale=scale).numpy()


def tokens(seed: int, *shape: int, low: int = 1, high: int = 9) -> torch.Tensor:
    """Integer token ids in ``[low, high)`` (int64)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, shape, generator=generator)


def weight_for(name: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The weight of a parameter called ``name`` (its full dotted name) of ``shape``.

    Vectors named ``weight`` (a LayerNorm's gain) are near 1, other vectors (biases) near 0;
    matrices are scaled by their input width so activations stay of order 1.
    """
    generator = torch.Generator().manual_seed(zlib.crc32(f"{name}{shape}".encode()))
    values = torch.rand(*shape, generator=generator, dtype=torch.float64) * 2 - 1
    if len(shape) == 1:
        leaf = name.rsplit(".", 1)[-1]
        return 1.0 + 0.3 * values if leaf in ("weight", "gain", "gamma") else 0.3 * values
    return values * 1.5 / max(1, shape[-1]) ** 0.5


def set_weights(module: Any) -> Any:
    """``module`` in float64 with every parameter set by :func:`weight_for`, in eval mode."""
    module.double()
    weights = {
        name: weight_for(name, tuple(parameter.shape))
        for name, parameter in module.named_parameters()
    }
    module.load_state_dict(weights, strict=False)
    module.eval()
    return module


def dropout_facts(dropped: torch.Tensor, kept: torch.Tensor, p: float) -> tuple[bool, ...]:
    """What holds of ``dropped`` (a result with dropout ``p``) whatever the random draw.

    ``kept`` is the same result without dropout. The facts: every entry is 0 or the kept
    entry rescaled by ``1 / (1 - p)``; every entry is 0 or the kept entry unscaled; nothing
    changed at all. Facts, not values, so a probe with dropout gives the same outcome in
    every run.
    """
    dropped = dropped.detach().double()
    kept = kept.detach().double()
    if dropped.shape != kept.shape:
        return (False, False, False)
    zero = dropped.abs() <= 1e-9
    scaled = (dropped - kept / (1 - p)).abs() <= 1e-6 * (1 + kept.abs())
    unscaled = (dropped - kept).abs() <= 1e-6 * (1 + kept.abs())
    return (bool((zero | scaled).all()), bool((zero | unscaled).all()), bool(unscaled.all()))


def error_facts(call: Any, *numbers: int) -> tuple[str, bool] | Any:
    """The type of the error ``call()`` raises and whether its message names every number
    of ``numbers``; what it returns when it raises nothing."""
    try:
        return call()
    except Exception as error:
        if type(error).__module__.startswith("autograder."):
            raise
        return type(error).__name__, all(str(n) in str(error) for n in numbers)


def gradient_norms(module: Any, output: Any) -> dict[str, float | None]:
    """The norm of each parameter's gradient of a fixed weighted sum of ``output``
    (None where a parameter gets no gradient): a few numbers that show how every parameter
    takes part in the output."""
    module.zero_grad()
    weights = floats(99, *output.shape).to(output.dtype)
    (output * weights).sum().backward()
    return {
        name: None if parameter.grad is None else float(parameter.grad.double().norm())
        for name, parameter in module.named_parameters()
    }
