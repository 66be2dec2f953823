"""Part 6: the layers of the Transformer.

Layer normalisation rescales each position's features to zero mean and unit variance (then
applies a learned gain and bias); the position-wise feed-forward network expands every
position to ``d_ff`` features and back; a Pre-LN residual connection computes
``x + dropout(sublayer(norm(x)))``, which keeps an unnormalised path from input to output
and trains stably without warm-up tricks. An encoder layer is self-attention then
feed-forward; a decoder layer is masked self-attention, cross-attention to the encoder's
output (the memory), then feed-forward - each wrapped in its own residual connection.

Names (the checks load weights by them):
    EncoderLayer: ``self_attn``, ``feed_forward``, ``sublayer1``, ``sublayer2``
    DecoderLayer: ``self_attn``, ``cross_attn``, ``feed_forward``, ``sublayer1..3``
    FeedForward: ``linear1`` (d_model -> d_ff), ``linear2`` (d_ff -> d_model)
    SublayerConnection: ``norm`` (a LayerNorm)

Shapes: ``x`` ``(B, T, d_model)``; ``memory`` ``(B, S, d_model)``.

Not allowed here: ``torch.nn.LayerNorm``, ``torch.nn.functional.layer_norm``,
``torch.nn.TransformerEncoderLayer``, ``torch.nn.TransformerDecoderLayer``,
``torch.nn.MultiheadAttention``, nor their relatives (group norm, ``torch.nn.Transformer``;
``rubric.toml`` lists them all).
"""

from collections.abc import Callable

import torch
from torch import nn

from ._validate import check_positive, check_probability, check_tensor
from .multihead import MultiHeadAttention

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


class LayerNorm(nn.Module):
    """Normalise the last dimension: ``weight * (x - mean) / sqrt(var + eps) + bias``.

    ``var`` is the biased variance (divided by d_model), and ``eps`` sits inside the square
    root, as in torch: a row of equal values gives ``bias``, not NaN.

    Shapes: ``(..., d_model)`` -> ``(..., d_model)``.
    """

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        check_positive("d_model", d_model)
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        self.d_model, self.eps = d_model, eps
        # YOUR CODE HERE
        raise NotImplementedError("LayerNorm.__init__ is not implemented yet")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise each row of ``x`` ``(..., d_model)``; the result has the same shape."""
        check_tensor("x", x, min_dim=1)
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x must end with d_model={self.d_model}, got {tuple(x.shape)}")
        # HINT: the variance is the mean squared deviation (no n - 1), and eps goes inside sqrt.
        # YOUR CODE HERE
        raise NotImplementedError("LayerNorm.forward is not implemented yet")


class FeedForward(nn.Module):
    """Position-wise feed-forward: ``linear2(dropout(activation(linear1(x))))``.

    Shapes: ``(B, T, d_model)`` -> ``(B, T, d_model)``, each position on its own.
    """

    def __init__(
        self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "gelu"
    ) -> None:
        super().__init__()
        check_positive("d_model", d_model)
        check_positive("d_ff", d_ff)
        check_probability("dropout", dropout)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)
        # YOUR CODE HERE
        raise NotImplementedError("FeedForward.__init__ is not implemented yet")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, d_model)`` -> ``(B, T, d_ff)`` -> ``(B, T, d_model)``, position by position."""
        # YOUR CODE HERE
        raise NotImplementedError("FeedForward.forward is not implemented yet")


class SublayerConnection(nn.Module):
    """Pre-LN residual connection: ``x + dropout(sublayer(norm(x)))``.

    Shapes: ``x`` ``(B, T, d_model)``; ``sublayer`` maps ``(B, T, d_model)`` to the same.
    """

    def __init__(self, d_model: int, dropout: float = 0.0, eps: float = 1e-5) -> None:
        super().__init__()
        check_probability("dropout", dropout)
        self.norm = LayerNorm(d_model, eps)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, sublayer: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """``x`` ``(B, T, d_model)`` plus the sublayer's output on the normalised ``x``."""
        # HINT: normalise first, add the untouched x back last.
        # YOUR CODE HERE
        raise NotImplementedError("SublayerConnection.forward is not implemented yet")


class EncoderLayer(nn.Module):
    """Self-attention, then feed-forward, each in a Pre-LN residual connection.

    Submodules (the checks load weights by these names): ``self_attn`` (a
    ``MultiHeadAttention``), ``feed_forward`` (a ``FeedForward``), ``sublayer1`` (around the
    attention) and ``sublayer2`` (around the feed-forward), each a ``SublayerConnection``.

    Shapes: ``x`` ``(B, T, d_model)``, ``mask`` broadcastable to ``(B, h, T, T)`` (True =
    may attend) -> ``(B, T, d_model)``.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        activation: str = "gelu",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        # YOUR CODE HERE
        raise NotImplementedError("EncoderLayer.__init__ is not implemented yet")

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(B, T, d_model)`` attends to itself (``mask``: ``(B, h, T, T)``) -> same."""
        check_tensor("x", x, min_dim=3, max_dim=3)
        # YOUR CODE HERE
        raise NotImplementedError("EncoderLayer.forward is not implemented yet")


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention to the memory, feed-forward; each Pre-LN.

    Submodules (the checks load weights by these names): ``self_attn`` and ``cross_attn``
    (``MultiHeadAttention``), ``feed_forward`` (a ``FeedForward``), and ``sublayer1``,
    ``sublayer2``, ``sublayer3`` (``SublayerConnection``, in that order around them).

    Shapes: ``x`` ``(B, T, d_model)``, ``memory`` ``(B, S, d_model)``, ``src_mask``
    broadcastable to ``(B, h, T, S)``, ``tgt_mask`` to ``(B, h, T, T)`` ->
    ``(B, T, d_model)``.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        activation: str = "gelu",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        # YOUR CODE HERE
        raise NotImplementedError("DecoderLayer.__init__ is not implemented yet")

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        tgt_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x`` ``(B, T, d_model)`` attends to itself (``tgt_mask``), then to ``memory``
        ``(B, S, d_model)`` (``src_mask``) -> ``(B, T, d_model)``."""
        check_tensor("x", x, min_dim=3, max_dim=3)
        check_tensor("memory", memory, min_dim=3, max_dim=3)
        # HINT: in cross-attention the queries come from x, the keys and values from memory.
        # YOUR CODE HERE
        raise NotImplementedError("DecoderLayer.forward is not implemented yet")
