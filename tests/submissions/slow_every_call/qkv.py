"""A submission whose every call takes just under the per-call limit (2 s in the tests)."""

import time

import torch


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    time.sleep(1.8)
    scores = query @ key.transpose(-2, -1) / query.shape[-1] ** 0.5
    weights = torch.softmax(scores, dim=-1)
    return weights @ value, weights
