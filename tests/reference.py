"""Trusted reference computations the checks compare against, built on torch's own code."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """torch's scaled dot-product attention and its weights, with our conventions.

    The weights come from attending over the identity matrix. Rows whose keys are all masked
    are zero (torch gives NaN there).
    """
    batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    query, key = query.expand(*batch, *query.shape[-2:]), key.expand(*batch, *key.shape[-2:])
    value = value.expand(*batch, *value.shape[-2:])
    eye = torch.eye(key.shape[-2], dtype=query.dtype, device=query.device)
    eye = eye.expand(*batch, *eye.shape)
    if mask is not None:
        mask = mask.expand(*batch, query.shape[-2], key.shape[-2])
    output = F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
    weights = F.scaled_dot_product_attention(query, key, eye, attn_mask=mask)
    if mask is not None:
        empty = ~mask.any(-1, keepdim=True)
        output = output.masked_fill(empty, 0.0)
        weights = weights.masked_fill(empty, 0.0)
    return output, weights


def empty_rows(mask: torch.Tensor | None, scores_shape: tuple[int, ...]) -> torch.Tensor:
    """Boolean ``scores_shape[:-1] + (1,)``: True where a query may attend to no key."""
    if mask is None:
        return torch.zeros((*scores_shape[:-1], 1), dtype=torch.bool)
    return ~mask.expand(scores_shape).any(-1, keepdim=True)


def expected_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """The paper's formula in float64: sin on even columns, cos on odd ones."""
    position = torch.arange(max_len, dtype=torch.float64)[:, None]
    pair = torch.arange(d_model, dtype=torch.float64)[None, :] // 2
    angle = position / 10000 ** (2 * pair / d_model)
    even = torch.arange(d_model)[None, :] % 2 == 0
    return torch.where(even, torch.sin(angle), torch.cos(angle))
