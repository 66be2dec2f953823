"""Probes of part 5 (positional): sinusoidal encodings, learned positions, RoPE, relative bias.

Each documented behaviour has a probe of its own: the table's values (even and odd widths,
far positions), the encoding as an added buffer, learned vectors per position, dropout in
training only, refusing too long inputs, RoPE's rotation (default and given positions, another
base, any leading dimensions) and its refusals, and the relative bias's clipped offsets.
"""

import torch

from tests.probes import Probes
from tests.probes.inputs import dropout_facts, error_facts, floats, gradient_norms, set_weights

PROBES = Probes()


def _names(module):
    """The parameters' (and buffers') names and shapes, as one text."""
    parameters = [f"{n}{tuple(p.shape)}" for n, p in module.named_parameters()]
    # Buffers by name only: a table kept as (1, max_len, d_model) is as right as (max_len, d_model).
    buffers = [n for n, _ in module.named_buffers()]
    return " ".join(sorted(parameters)) + " | " + " ".join(sorted(buffers))


@PROBES.add
def sinusoidal_table(m):
    return m.sinusoidal_encoding(6, 8)


@PROBES.add
def sinusoidal_table_of_odd_width(m):
    return m.sinusoidal_encoding(5, 7)


@PROBES.add
def sinusoidal_far_positions(m):
    return m.sinusoidal_encoding(64, 6)[40:]


@PROBES.add
def sinusoidal_very_far_positions(m):
    return m.sinusoidal_encoding(3000, 4)[2990:]


@PROBES.add
def sinusoidal_one_position(m):
    return m.sinusoidal_encoding(1, 4)


@PROBES.add
def sinusoidal_width_two(m):
    return m.sinusoidal_encoding(4, 2)


@PROBES.add
def positional_encoding_adds_the_table(m):
    layer = set_weights(m.PositionalEncoding(8, max_len=10))
    return layer(floats(1, 2, 5, 8)), _names(layer)


@PROBES.add
def positional_encoding_keeps_the_input_dtype(m):
    layer = m.PositionalEncoding(6, max_len=8)
    x = floats(13, 2, 4, 6)
    return layer(x.float()), layer(x.half()), layer(x.double())


@PROBES.add
def positional_encoding_dropout(m):
    layer = set_weights(m.PositionalEncoding(8, max_len=10, dropout=0.5))
    x = floats(2, 2, 6, 8)
    evaluated = layer(x).detach()
    layer.train()
    return evaluated, dropout_facts(layer(x), evaluated, 0.5)


@PROBES.add
def positional_encoding_too_long(m):
    layer = set_weights(m.PositionalEncoding(4, max_len=3))
    return error_facts(lambda: layer(floats(3, 1, 5, 4)), 5, 3)


@PROBES.add
def learned_positions(m):
    layer = set_weights(m.LearnedPositionalEmbedding(8, 6))
    return layer(floats(4, 2, 4, 8)), _names(layer)


@PROBES.add
def learned_positions_gradients(m):
    layer = set_weights(m.LearnedPositionalEmbedding(4, 6))
    x = floats(14, 2, 3, 4).requires_grad_(True)
    return gradient_norms(layer, layer(x))


@PROBES.add
def learned_positions_keep_the_input_dtype(m):
    layer = m.LearnedPositionalEmbedding(4, 6)
    x = floats(15, 1, 3, 4)
    return tuple(str(layer(x.to(dtype)).dtype) for dtype in (torch.float16, torch.float32))


@PROBES.add
def learned_positions_dropout(m):
    layer = set_weights(m.LearnedPositionalEmbedding(8, 6, dropout=0.5))
    x = floats(5, 2, 6, 8)
    evaluated = layer(x).detach()
    layer.train()
    return evaluated, dropout_facts(layer(x), evaluated, 0.5)


@PROBES.add
def learned_positions_too_long(m):
    layer = set_weights(m.LearnedPositionalEmbedding(4, 3))
    return error_facts(lambda: layer(floats(6, 1, 5, 4)), 5, 3)


@PROBES.add
def rotary_default_positions(m):
    return m.apply_rotary(floats(7, 2, 5, 6))


@PROBES.add
def rotary_given_positions(m):
    return m.apply_rotary(floats(8, 5, 4), torch.tensor([3, 1, 4, 1, 5]))


@PROBES.add
def rotary_other_base(m):
    return m.apply_rotary(floats(9, 1, 2, 4, 8), base=100.0)


@PROBES.add
def rotary_far_positions(m):
    return m.apply_rotary(floats(10, 3, 4), torch.tensor([1000, 2000, 3000]))


@PROBES.add
def rotary_odd_width(m):
    return error_facts(lambda: m.apply_rotary(floats(11, 3, 5)), 5)


@PROBES.add
def rotary_mismatched_positions(m):
    return error_facts(lambda: m.apply_rotary(floats(12, 3, 4), torch.arange(4)), 3, 4)


@PROBES.add
def relative_bias_more_keys(m):
    layer = set_weights(m.RelativePositionBias(2, 3))
    return layer(4, 7), _names(layer)


@PROBES.add
def relative_bias_more_queries(m):
    layer = set_weights(m.RelativePositionBias(3, 2))
    return layer(5, 2)


@PROBES.add
def relative_bias_gradients(m):
    layer = set_weights(m.RelativePositionBias(2, 2))
    return gradient_norms(layer, layer(3, 4))


@PROBES.add
def rotary_keeps_the_input_dtype(m):
    x = floats(16, 2, 4)
    return m.apply_rotary(x.float()), str(m.apply_rotary(x.half()).dtype)


@PROBES.add
def evaluation_is_deterministic(m):
    x = floats(17, 2, 4, 8)
    layers = (
        set_weights(m.PositionalEncoding(8, max_len=6, dropout=0.5)),
        set_weights(m.LearnedPositionalEmbedding(8, 6, dropout=0.5)),
    )
    return [bool(torch.equal(layer(x).detach(), layer(x).detach())) for layer in layers]
