"""A submission that monkeypatches torch, numpy and builtins in its own process."""

import builtins

import numpy as np
import torch

torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
np.allclose = lambda *args, **kwargs: True
builtins.abs = lambda value: 0
builtins.all = lambda values: True
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    return torch.zeros_like(query), torch.zeros(query.shape[:-1] + key.shape[-2:-1])


def patched():
    return torch.allclose(torch.zeros(1), torch.ones(1))
