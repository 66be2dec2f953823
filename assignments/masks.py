"""Part 4: masks, which say which keys each query may attend to.

Masks are boolean and True means "may attend". They broadcast against attention scores of
shape ``(B, h, T_q, T_k)``: a padding mask ``(B, 1, 1, T)`` hides padded keys from every
query, a causal mask ``(1, T, T)`` hides the future from each position.
"""

import torch

from ._validate import check_positive, check_tensor


def causal_mask(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Lower-triangular mask: position t may attend to positions 0..t.

    Args:
        size: sequence length T.
        device: where to create the mask.

    Returns:
        Boolean ``(1, T, T)``; ``[0, i, j]`` is True iff ``j <= i``.
    """
    check_positive("size", size)
    # YOUR CODE HERE
    raise NotImplementedError("causal_mask is not implemented yet")


def padding_mask(tokens: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """Hide padding tokens from every query.

    Args:
        tokens: ``(B, T)`` integer token ids.
        pad_id: the id used for padding.

    Returns:
        Boolean ``(B, 1, 1, T)``; True where ``tokens != pad_id``.
    """
    check_tensor("tokens", tokens, min_dim=2, max_dim=2)
    # YOUR CODE HERE
    raise NotImplementedError("padding_mask is not implemented yet")


def target_mask(tokens: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """Mask for decoder self-attention: no padding keys and no future keys.

    Args:
        tokens: ``(B, T)`` integer target token ids.
        pad_id: the id used for padding.

    Returns:
        Boolean ``(B, 1, T, T)``; ``[b, 0, i, j]`` is True iff ``j <= i`` and token j of
        sequence b is not padding.
    """
    check_tensor("tokens", tokens, min_dim=2, max_dim=2)
    # YOUR CODE HERE
    raise NotImplementedError("target_mask is not implemented yet")


def to_additive(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Turn a boolean mask into one that is added to the scores before the softmax.

    Args:
        mask: boolean mask of any shape, True = may attend.
        dtype: floating dtype of the result.

    Returns:
        Tensor of ``mask``'s shape and ``dtype``: 0 where allowed, the dtype's lowest finite
        value where blocked (``-inf`` would turn a fully blocked row into NaN).
    """
    check_tensor("mask", mask, min_dim=0)
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be boolean, got dtype {mask.dtype}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    # YOUR CODE HERE
    raise NotImplementedError("to_additive is not implemented yet")
