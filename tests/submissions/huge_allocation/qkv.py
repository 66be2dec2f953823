"""A submission that allocates far more memory than allowed."""

import torch


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    hog = torch.ones(64 * 2**30, dtype=torch.uint8)  # 64 GiB
    return hog, hog


def python_hog():
    return bytearray(64 * 2**30)


def grow():
    """Keep 64 MiB blocks until memory runs out."""
    kept = []
    while True:
        kept.append(torch.empty(64 * 2**20, dtype=torch.uint8))
