"""Part 5: where a token is - positional encodings.

Attention itself ignores order: permute the tokens and the outputs permute with them. So
each position gets a vector added to its token embedding. The sinusoidal encoding of the
paper uses, for the feature pair (2i, 2i+1), a sine and a cosine of frequency
``1 / 10000^(2i/d_model)``: wavelengths grow geometrically from 2*pi to 10000*2*pi, and the
encoding at position pos+k is a fixed rotation of the one at pos, so relative offsets are
easy to read off. A learned embedding (one trained vector per position) is the simpler
alternative.

Deep dive (bonus): rotary embeddings (RoPE) rotate queries and keys instead of adding to
the input, so that q . k depends only on the offset between positions; T5-style relative
position biases add one learned number per head and (clipped) offset to the scores.

Shapes: ``x`` is ``(B, T, d_model)``; encodings are ``(max_len, d_model)``.
"""

import math

import torch
from torch import nn

from ._validate import check_positive, check_probability, check_tensor


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """The sinusoidal position encodings of positions ``0..max_len-1``.

    ``PE[pos, 2i] = sin(pos / 10000^(2i/d_model))`` and
    ``PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model))``; an odd ``d_model`` ends with a sine.

    Args:
        max_len: number of positions.
        d_model: features per position (even or odd).

    Returns:
        float32 ``(max_len, d_model)``, every value in [-1, 1].
    """
    check_positive("max_len", max_len)
    check_positive("d_model", d_model)
    # HINT: exp(-log(10000) * 2i / d_model) is 1 / 10000^(2i/d_model), computed stably.
    # YOUR CODE HERE
    raise NotImplementedError("sinusoidal_encoding is not implemented yet")


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal encoding to its input, then applies dropout.

    The table is a buffer named ``pe`` of shape ``(max_len, d_model)``: saved with the
    model, moved by ``.to(device)``, never trained.

    Shapes: ``x`` ``(B, T, d_model)`` with ``T <= max_len`` -> ``(B, T, d_model)``.
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0) -> None:
        super().__init__()
        check_positive("d_model", d_model)
        check_positive("max_len", max_len)
        check_probability("dropout", dropout)
        self.d_model, self.max_len = d_model, max_len
        self.dropout = nn.Dropout(dropout)
        # YOUR CODE HERE
        raise NotImplementedError("PositionalEncoding.__init__ is not implemented yet")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``dropout(x + pe[:T])`` for ``x`` of shape ``(B, T, d_model)``."""
        check_tensor("x", x, min_dim=3, max_dim=3)
        if x.shape[1] > self.max_len:
            raise ValueError(
                f"x has {x.shape[1]} positions (shape {tuple(x.shape)}), more than "
                f"max_len={self.max_len}"
            )
        if x.shape[2] != self.d_model:
            raise ValueError(f"x must have d_model={self.d_model} features, got {tuple(x.shape)}")
        # YOUR CODE HERE
        raise NotImplementedError("PositionalEncoding.forward is not implemented yet")


class LearnedPositionalEmbedding(nn.Module):
    """Adds a trained vector per position: ``embedding`` is ``nn.Embedding(max_len, d_model)``.

    Shapes: ``x`` ``(B, T, d_model)`` with ``T <= max_len`` -> ``(B, T, d_model)``.
    """

    def __init__(self, d_model: int, max_len: int, dropout: float = 0.0) -> None:
        super().__init__()
        check_positive("d_model", d_model)
        check_positive("max_len", max_len)
        check_probability("dropout", dropout)
        self.d_model, self.max_len = d_model, max_len
        self.dropout = nn.Dropout(dropout)
        # YOUR CODE HERE
        raise NotImplementedError("LearnedPositionalEmbedding.__init__ is not implemented yet")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``dropout(x + embedding(0..T-1))`` for ``x`` of shape ``(B, T, d_model)``."""
        check_tensor("x", x, min_dim=3, max_dim=3)
        if x.shape[1] > self.max_len:
            raise ValueError(
                f"x has {x.shape[1]} positions (shape {tuple(x.shape)}), more than "
                f"max_len={self.max_len}"
            )
        # YOUR CODE HERE
        raise NotImplementedError("LearnedPositionalEmbedding.forward is not implemented yet")


def apply_rotary(
    x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0
) -> torch.Tensor:
    """Rotary position embedding (RoPE): rotate feature pairs by position-dependent angles.

    The pair ``(x[..., 2i], x[..., 2i+1])`` at position p is rotated by the angle
    ``p * base^(-2i/d)``. Rotations keep norms, and the dot product of a rotated query at
    position m and a rotated key at position n depends only on ``m - n``.

    Args:
        x: ``(..., T, d)`` with even ``d``.
        positions: ``(T,)`` positions (default ``0..T-1``).
        base: the wavelength base.

    Returns:
        Tensor of the shape and dtype of ``x``.
    """
    check_tensor("x", x, min_dim=2)
    if x.shape[-1] % 2:
        raise ValueError(f"the last dimension of x must be even for RoPE, got {tuple(x.shape)}")
    if positions is not None and tuple(positions.shape) != (x.shape[-2],):
        raise ValueError(
            f"positions must have shape ({x.shape[-2]},) to match x {tuple(x.shape)}, "
            f"got {tuple(positions.shape)}"
        )
    # HINT: with c = cos(angle), s = sin(angle) per pair, (a, b) becomes (a*c - b*s, a*s + b*c).
    # YOUR CODE HERE
    raise NotImplementedError("apply_rotary is not implemented yet")


class RelativePositionBias(nn.Module):
    """T5-style relative position bias: one learned scalar per head and clipped offset.

    The offset ``key_position - query_position`` is clipped to
    ``[-max_distance, max_distance]``; ``bias`` is ``nn.Embedding(2 * max_distance + 1,
    num_heads)``, row ``offset + max_distance`` holding the heads' biases.

    Shapes: ``forward(query_len, key_len)`` -> ``(1, num_heads, query_len, key_len)``, to be
    added to the attention scores.
    """

    def __init__(self, num_heads: int, max_distance: int) -> None:
        super().__init__()
        check_positive("num_heads", num_heads)
        check_positive("max_distance", max_distance)
        self.num_heads, self.max_distance = num_heads, max_distance
        # YOUR CODE HERE
        raise NotImplementedError("RelativePositionBias.__init__ is not implemented yet")

    def forward(self, query_len: int, key_len: int) -> torch.Tensor:
        """The bias for every (head, query, key), ``(1, num_heads, query_len, key_len)``."""
        check_positive("query_len", query_len)
        check_positive("key_len", key_len)
        # HINT: offsets[q, k] = k - q, clamped, then shifted by max_distance to index rows.
        # YOUR CODE HERE
        raise NotImplementedError("RelativePositionBias.forward is not implemented yet")
