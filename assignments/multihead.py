"""Part 3: multi-head attention.

Instead of one attention over ``d_model`` features, ``h`` heads each attend over their own
block of ``d_k = d_model / h`` features, so different heads can follow different relations.
The heads' outputs are concatenated and mixed by an output projection ``W^O``.

Shapes: ``(B, T, d_model)`` -> split -> ``(B, h, T, d_k)`` -> attention -> merge ->
``(B, T, d_model)``. Head i holds features ``i*d_k`` to ``(i+1)*d_k - 1``.

Not allowed here: ``torch.nn.MultiheadAttention``,
``torch.nn.functional.multi_head_attention_forward``,
``torch.nn.functional.scaled_dot_product_attention``.
"""

import torch
from torch import nn

from ._validate import check_positive, check_probability, check_tensor
from .qkv import scaled_dot_product_attention


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Cut the feature dimension into ``num_heads`` blocks and make heads a dimension.

    Args:
        x: ``(B, T, d_model)`` with ``d_model`` divisible by ``num_heads``.
        num_heads: h.

    Returns:
        ``(B, h, T, d_model // h)``; ``out[:, i]`` holds features ``i*d_k:(i+1)*d_k``.
    """
    check_tensor("x", x, min_dim=3, max_dim=3)
    check_positive("num_heads", num_heads)
    if x.shape[-1] % num_heads:
        raise ValueError(
            f"the last dimension of x {tuple(x.shape)} is not divisible by num_heads={num_heads}"
        )
    # YOUR CODE HERE
    raise NotImplementedError("split_heads is not implemented yet")


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """Undo :func:`split_heads`: concatenate the heads' features.

    Args:
        x: ``(B, h, T, d_k)``.

    Returns:
        ``(B, T, h * d_k)``.
    """
    check_tensor("x", x, min_dim=4, max_dim=4)
    # YOUR CODE HERE
    raise NotImplementedError("merge_heads is not implemented yet")


class MultiHeadAttention(nn.Module):
    """Multi-head attention with projections ``w_q``, ``w_k``, ``w_v``, ``w_o``.

    Each is ``nn.Linear(d_model, d_model)``. After every forward call,
    ``self.attention_weights`` holds the weights, ``(B, h, T_q, T_k)``.

    Shapes: query ``(B, T_q, d_model)``, key and value ``(B, T_k, d_model)``, mask boolean
    broadcastable to ``(B, h, T_q, T_k)`` (True = may attend) -> output ``(B, T_q, d_model)``.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        check_positive("d_model", d_model)
        check_positive("num_heads", num_heads)
        check_probability("dropout", dropout)
        # YOUR CODE HERE
        raise NotImplementedError("MultiHeadAttention.__init__ is not implemented yet")
        self.d_model = d_model
        self.num_heads = num_heads
        self.dropout = dropout
        self.attention_weights: torch.Tensor | None = None

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend from ``query`` positions to ``key``/``value`` positions in every head.

        Args:
            query: ``(B, T_q, d_model)``.
            key: ``(B, T_k, d_model)``.
            value: ``(B, T_k, d_model)``.
            mask: boolean, broadcastable to ``(B, h, T_q, T_k)``; True = may attend.

        Returns:
            ``(B, T_q, d_model)``.
        """
        for name, tensor in (("query", query), ("key", key), ("value", value)):
            check_tensor(name, tensor, min_dim=3, max_dim=3)
            if tensor.shape[-1] != self.d_model:
                raise ValueError(
                    f"{name} must have d_model={self.d_model} features, "
                    f"got shape {tuple(tensor.shape)}"
                )
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(
                f"key {tuple(key.shape)} and value {tuple(value.shape)} must have the same "
                f"batch size and length"
            )
        # YOUR CODE HERE
        raise NotImplementedError("MultiHeadAttention.forward is not implemented yet")
