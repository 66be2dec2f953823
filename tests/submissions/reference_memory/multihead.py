"""Part 3 that makes the grader's reference of part 2 compute a 6 GB score matrix.

Its inputs are small (a sequence of 40,000 one-dimensional vectors), so the bound on what a
shim call may send lets them through; the scores are 40,000 x 40,000 floats.
"""

import torch
from torch import nn

from .qkv import scaled_dot_product_attention


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()

    def forward(self, query, key, value, mask=None):
        long = torch.ones(1, 1, 40_000, 1)
        output, _ = scaled_dot_product_attention(long, long, long)
        return output


def attack():
    long = torch.ones(1, 1, 40_000, 1)
    return scaled_dot_product_attention(long, long, long)[0].shape
