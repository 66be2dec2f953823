"""Probes of part 2 (qkv): scaled dot-product attention and single-head self-attention."""

import torch

from tests.probes import Probes
from tests.probes.inputs import dropout_facts, floats, set_weights

PROBES = Probes()


def _mask(seed: int, *shape: int) -> torch.Tensor:
    mask = floats(seed, *shape) > -0.3
    mask[..., 0] = True  # every query keeps a key
    return mask


@PROBES.add
def attention_of_a_batch(m):
    return m.scaled_dot_product_attention(
        floats(1, 2, 3, 4), floats(2, 2, 5, 4), floats(3, 2, 5, 6)
    )


@PROBES.add
def attention_with_heads(m):
    return m.scaled_dot_product_attention(
        floats(4, 2, 2, 3, 4), floats(5, 2, 2, 3, 4), floats(6, 2, 2, 3, 4)
    )


@PROBES.add
def attention_without_a_batch(m):
    return m.scaled_dot_product_attention(floats(7, 4, 3), floats(8, 4, 3), floats(9, 4, 3))


@PROBES.add
def attention_with_a_mask(m):
    q, k, v = floats(10, 2, 3, 4), floats(11, 2, 5, 4), floats(12, 2, 5, 2)
    return m.scaled_dot_product_attention(q, k, v, _mask(13, 2, 3, 5))


@PROBES.add
def attention_with_a_broadcast_padding_mask(m):
    q, k, v = floats(14, 2, 3, 4), floats(15, 2, 5, 4), floats(16, 2, 5, 4)
    mask = torch.tensor([[[True, True, True, False, False]], [[True, True, True, True, True]]])
    return m.scaled_dot_product_attention(q, k, v, mask)


@PROBES.add
def attention_with_a_fully_masked_query(m):
    q, k, v = floats(17, 1, 3, 4), floats(18, 1, 4, 4), floats(19, 1, 4, 4)
    mask = _mask(20, 1, 3, 4)
    mask[0, 1] = False
    return m.scaled_dot_product_attention(q, k, v, mask)


def _dropout(m, q, k, v):
    p = 0.5
    kept_out, kept_weights = m.scaled_dot_product_attention(q, k, v)
    out, weights = m.scaled_dot_product_attention(q, k, v, dropout_p=p)
    mixed = kept_weights.detach() / (1 - p) @ v
    return (
        dropout_facts(out, kept_out, p),
        dropout_facts(weights, kept_weights, p),
        dropout_facts(out, mixed * (1 - p), p),
        bool(torch.allclose(out.detach().sum(-1), torch.ones(out.shape[:-1], dtype=out.dtype))),
    )


@PROBES.add
def dropout_seen_through_identity_values(m):
    q, k = floats(21, 2, 6, 4), floats(22, 2, 6, 4)
    return _dropout(m, q, k, torch.eye(6, dtype=torch.float64).expand(2, 6, 6))


@PROBES.add
def dropout_on_values(m):
    q, k, v = floats(23, 2, 6, 4), floats(24, 2, 6, 4), floats(25, 2, 6, 3)
    p = 0.5
    out, weights = m.scaled_dot_product_attention(q, k, v, dropout_p=p)
    kept_out, kept_weights = m.scaled_dot_product_attention(q, k, v)
    # The output dropped after the product: each entry is 0 or twice the kept output's.
    return dropout_facts(out, kept_out, p), dropout_facts(weights, kept_weights, p)


@PROBES.add
def mismatched_widths_are_refused(m):
    return m.scaled_dot_product_attention(
        floats(26, 2, 3, 4), floats(27, 2, 3, 5), floats(28, 2, 3, 4)
    )


@PROBES.add
def self_attention(m):
    layer = set_weights(m.SelfAttention(4))
    return layer(floats(29, 2, 3, 4))


@PROBES.add
def self_attention_with_a_mask(m):
    layer = set_weights(m.SelfAttention(4))
    return layer(floats(30, 2, 4, 4), _mask(31, 2, 4, 4))


@PROBES.add
def self_attention_with_a_causal_mask(m):
    layer = set_weights(m.SelfAttention(6))
    return layer(floats(32, 1, 5, 6), torch.ones(5, 5, dtype=torch.bool).tril())
