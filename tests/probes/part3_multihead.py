"""Probes of part 3 (multihead): splitting and merging heads, multi-head attention."""

import torch

from tests.probes import Probes
from tests.probes.inputs import dropout_facts, error_facts, floats, set_weights

PROBES = Probes()


def _attention(m, d_model=8, heads=2, dropout=0.0):
    return set_weights(m.MultiHeadAttention(d_model, heads, dropout))


@PROBES.add
def split_into_two_heads(m):
    return m.split_heads(floats(1, 2, 3, 8), 2)


@PROBES.add
def split_into_four_heads(m):
    return m.split_heads(floats(2, 1, 2, 8), 4)


@PROBES.add
def merge_two_heads(m):
    return m.merge_heads(floats(3, 2, 2, 3, 4))


@PROBES.add
def self_attention(m):
    layer = _attention(m)
    x = floats(4, 2, 3, 8)
    return layer(x, x, x), layer.attention_weights


@PROBES.add
def cross_attention(m):
    layer = _attention(m)
    return layer(
        floats(5, 2, 3, 8), floats(6, 2, 5, 8), floats(7, 2, 5, 8)
    ), layer.attention_weights


@PROBES.add
def four_heads(m):
    layer = _attention(m, 8, 4)
    x = floats(8, 1, 4, 8)
    return layer(x, floats(9, 1, 4, 8), floats(10, 1, 4, 8))


@PROBES.add
def masked_attention(m):
    layer = _attention(m)
    mask = floats(11, 2, 1, 3, 5) > 0
    mask[..., 0] = True
    return layer(floats(12, 2, 3, 8), floats(13, 2, 5, 8), floats(14, 2, 5, 8), mask)


@PROBES.add
def padding_mask_of_b_1_1_t(m):
    layer = _attention(m)
    mask = torch.tensor([True, True, False, False, True]).reshape(1, 1, 1, 5).repeat(2, 1, 1, 1)
    x = floats(15, 2, 5, 8)
    return layer(x, x, x, mask), layer.attention_weights


@PROBES.add
def dropout_in_training_and_in_eval(m):
    p = 0.5
    layer = _attention(m, dropout=p)
    plain = _attention(m)
    q, k, v = floats(16, 2, 6, 8), floats(17, 2, 6, 8), floats(18, 2, 6, 8)
    expected = plain(q, k, v).detach()
    evaluated = layer(q, k, v).detach()
    layer.train()
    trained = layer(q, k, v).detach()
    weights = layer.attention_weights
    return (
        bool(torch.allclose(evaluated, expected)),
        bool(torch.allclose(trained, expected)),
        dropout_facts(weights, plain.attention_weights, p) if weights is not None else None,
    )


@PROBES.add
def d_model_not_divisible(m):
    return error_facts(lambda: m.MultiHeadAttention(6, 4), 6, 4)


@PROBES.add
def d_model_not_divisible_but_larger(m):
    return error_facts(lambda: m.MultiHeadAttention(10, 3), 10, 3)


@PROBES.add
def one_head(m):
    layer = _attention(m, 4, 1)
    x = floats(19, 2, 3, 4)
    return layer(x, x, x)
