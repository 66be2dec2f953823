"""Hypothesis strategies shared by every part's checks.

Tensors are drawn as a shape and a seed and built with a seeded generator: drawing each
entry separately would be slow, and this way hypothesis shrinks a failure to the smallest
shape, whose tensor the failure report prints in full.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from hypothesis import strategies as st

SEEDS = st.integers(min_value=0, max_value=2**16)


def dims(min_value: int = 1, max_value: int = 6) -> st.SearchStrategy[int]:
    """A tensor dimension (shrinks towards ``min_value``)."""
    return st.integers(min_value=min_value, max_value=max_value)


def batch_shapes(max_dims: int = 2, max_size: int = 3) -> st.SearchStrategy[tuple[int, ...]]:
    """Leading (batch, heads, ...) dimensions: zero to ``max_dims`` of them."""
    return st.lists(dims(1, max_size), max_size=max_dims).map(tuple)


def random_tensor(shape: tuple[int, ...], seed: int, scale: float = 1.0) -> torch.Tensor:
    """A float32 tensor of standard normals times ``scale``, the same for the same seed."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator) * scale


@st.composite
def tensors(
    draw: st.DrawFn,
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
    scale: float | st.SearchStrategy[float] = 1.0,
) -> torch.Tensor:
    """A float32 tensor of the given (or drawn) shape."""
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    if isinstance(scale, st.SearchStrategy):
        scale = draw(scale)
    return random_tensor(tuple(shape), draw(SEEDS), scale)


@st.composite
def arrays(draw: st.DrawFn, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """A float64 NumPy matrix ``(rows, cols)`` of moderate values (drawn sizes when None)."""
    n = rows if rows is not None else draw(dims(1, 6))
    d = cols if cols is not None else draw(dims(1, 5))
    return random_tensor((n, d), draw(SEEDS)).double().numpy()


@st.composite
def masks(draw: st.DrawFn, shape: tuple[int, ...], allow_empty_rows: bool = True) -> torch.Tensor:
    """A boolean mask broadcastable to ``shape`` (each dimension full size or 1).

    Unless ``allow_empty_rows``, every row (last dimension) keeps at least one True.
    """
    mask_shape = tuple(draw(st.sampled_from([size, 1])) if size > 1 else 1 for size in shape)
    generator = torch.Generator().manual_seed(draw(SEEDS))
    density = draw(st.sampled_from([0.3, 0.6, 0.9]))
    mask = torch.rand(mask_shape, generator=generator) < density
    if not allow_empty_rows:
        first = torch.zeros_like(mask)
        first[..., draw(st.integers(0, mask_shape[-1] - 1))] = True
        mask = mask | first
    return mask


@dataclass(frozen=True)
class AttentionCase:
    """Inputs of one attention call: query ``(..., L_q, d_k)``, key ``(..., L_k, d_k)``,
    value ``(..., L_k, d_v)`` and an optional boolean mask broadcastable to ``(..., L_q, L_k)``."""

    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    mask: torch.Tensor | None

    def on(self, device: str | torch.device, dtype: torch.dtype = torch.float32) -> AttentionCase:
        """The same case on ``device`` in ``dtype`` (the mask stays boolean)."""
        return AttentionCase(
            self.query.to(device, dtype),
            self.key.to(device, dtype),
            self.value.to(device, dtype),
            None if self.mask is None else self.mask.to(device),
        )

    @property
    def scores_shape(self) -> tuple[int, ...]:
        return (*self.query.shape[:-1], self.key.shape[-2])

    def without_mask(self) -> AttentionCase:
        return replace(self, mask=None)


@st.composite
def attention_cases(
    draw: st.DrawFn,
    masked: bool | None = None,
    allow_empty_rows: bool = True,
    max_batch_dims: int = 2,
    scale: float = 1.0,
) -> AttentionCase:
    """Random attention inputs; L_q, L_k, d_k, d_v drawn independently.

    ``masked``: True always draws a mask, False never, None either.
    """
    batch = draw(batch_shapes(max_batch_dims))
    lq, lk, dk, dv = draw(dims(1, 5)), draw(dims(1, 5)), draw(dims(1, 6)), draw(dims(1, 6))
    query = draw(tensors((*batch, lq, dk), scale))
    key = draw(tensors((*batch, lk, dk), scale))
    value = draw(tensors((*batch, lk, dv)))
    use_mask = draw(st.booleans()) if masked is None else masked
    mask = draw(masks((*batch, lq, lk), allow_empty_rows)) if use_mask else None
    return AttentionCase(query, key, value, mask)


@st.composite
def sequences(
    draw: st.DrawFn, max_batch: int = 3, max_len: int = 6, d_model: int | None = None
) -> torch.Tensor:
    """Inputs ``(B, T, d_model)`` of a sequence layer (``d_model`` drawn when None)."""
    width = d_model if d_model is not None else draw(dims(1, 8))
    return draw(tensors((draw(dims(1, max_batch)), draw(dims(1, max_len)), width)))


@st.composite
def token_batches(
    draw: st.DrawFn,
    vocab_size: int = 12,
    pad_id: int | st.SearchStrategy[int] = 0,
    max_batch: int = 3,
    max_len: int = 7,
    min_real: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Padded token batches: ``(tokens (B, T), lengths (B,), pad_id)``.

    Row b holds ``lengths[b] >= min_real`` real tokens (never ``pad_id``) and then padding.
    """
    pad = draw(pad_id) if isinstance(pad_id, st.SearchStrategy) else pad_id
    batch, length = draw(dims(1, max_batch)), draw(dims(max(min_real, 1), max_len))
    lengths = torch.tensor(
        [draw(st.integers(min_real, length)) for _ in range(batch)], dtype=torch.long
    )
    generator = torch.Generator().manual_seed(draw(SEEDS))
    real = torch.randint(0, vocab_size - 1, (batch, length), generator=generator)
    real = real + (real >= pad).long()  # skip pad_id: the remaining vocab_size - 1 ids
    positions = torch.arange(length)
    tokens = torch.where(positions < lengths[:, None], real, torch.full_like(real, pad))
    return tokens, lengths, pad
