"""Argument checks shared by the parts: clear ValueErrors that name the argument and shapes."""

import torch


def check_tensor(name: str, value: object, min_dim: int = 1, max_dim: int | None = None) -> None:
    """Raise ``ValueError`` unless ``value`` is a tensor with ``min_dim <= ndim <= max_dim``."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dim() < min_dim or (max_dim is not None and value.dim() > max_dim):
        wanted = f"{min_dim}" if max_dim == min_dim else f"at least {min_dim}"
        if max_dim is not None and max_dim != min_dim:
            wanted = f"{min_dim} to {max_dim}"
        raise ValueError(f"{name} must have {wanted} dimensions, got shape {tuple(value.shape)}")


def check_mask(mask: object, scores_shape: torch.Size) -> None:
    """Raise ``ValueError`` unless ``mask`` is boolean and broadcasts to ``scores_shape``."""
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"mask must be a boolean torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be boolean (True = may attend), got dtype {mask.dtype}")
    try:
        shape = torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        shape = None
    if shape != scores_shape:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} cannot broadcast to the attention scores "
            f"of shape {tuple(scores_shape)}"
        )


def check_positive(name: str, value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_probability(name: str, value: object) -> None:
    """Raise ``ValueError`` unless ``0 <= value <= 1``."""
    if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
