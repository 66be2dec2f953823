"""Probes of part 6 (layers): LayerNorm, feed-forward, Pre-LN residuals, encoder and decoder.

One probe per documented behaviour: LayerNorm's mean, biased variance and eps inside the
square root (rows of spread 1, of tiny spread, constant rows, other eps, gain and bias), the
feed-forward's two linears around each activation and its dropout, the Pre-LN residual, and
the layers' order of sublayers, masks and memory.
"""

import torch

from tests.probes import Probes
from tests.probes.inputs import dropout_facts, error_facts, floats, gradient_norms, set_weights

PROBES = Probes()


def _rows(seed):
    x = floats(seed, 2, 3, 6)
    x[0, 1] = x[0, 1] * 1e-3 + 2.0  # a row of tiny spread
    x[1, 2] = 0.5  # a constant row
    return x


def _names(module):
    """The parameters' (and buffers') names and shapes, as one text."""
    parameters = [f"{n}{tuple(p.shape)}" for n, p in module.named_parameters()]
    return " ".join(sorted(parameters))


@PROBES.add
def layer_norm(m):
    return set_weights(m.LayerNorm(6))(_rows(1))


@PROBES.add
def layer_norm_large_eps(m):
    return set_weights(m.LayerNorm(6, eps=0.5))(_rows(2))


@PROBES.add
def layer_norm_of_a_vector(m):
    return set_weights(m.LayerNorm(5))(floats(3, 5) * 3 + 1)


@PROBES.add
def layer_norm_initial_parameters(m):
    layer = m.LayerNorm(4).double()
    return layer(floats(4, 2, 4)), _names(layer)


@PROBES.add
def layer_norm_wrong_width(m):
    return error_facts(lambda: set_weights(m.LayerNorm(4))(floats(5, 2, 3)), 4)


@PROBES.add
def feed_forward_gelu(m):
    layer = set_weights(m.FeedForward(4, 8))
    return layer(floats(6, 2, 3, 4)), _names(layer)


@PROBES.add
def feed_forward_relu(m):
    return set_weights(m.FeedForward(4, 6, activation="relu"))(floats(7, 2, 3, 4))


@PROBES.add
def feed_forward_dropout(m):
    layer = set_weights(m.FeedForward(4, 64, dropout=0.5))
    x = floats(8, 1, 2, 4)
    evaluated = layer(x).detach()
    layer.train()
    trained = layer(x).detach()
    return evaluated, bool(torch.allclose(trained, evaluated))


@PROBES.add
def sublayer_connection(m):
    connection = set_weights(m.SublayerConnection(5))
    sublayer = set_weights(torch.nn.Linear(5, 5))
    return connection(floats(9, 2, 3, 5) * 2 + 1, sublayer)


@PROBES.add
def sublayer_connection_dropout(m):
    connection = set_weights(m.SublayerConnection(5, dropout=0.5))
    sublayer = set_weights(torch.nn.Linear(5, 5))
    x = floats(10, 2, 6, 5)
    evaluated = connection(x, sublayer).detach()
    connection.train()
    trained = connection(x, sublayer).detach()
    # Dropout acts on the sublayer's output only: x is added back untouched.
    return evaluated, dropout_facts(trained - x, evaluated - x, 0.5)


@PROBES.add
def encoder_layer(m):
    layer = set_weights(m.EncoderLayer(8, 2, 16))
    return layer(floats(11, 2, 4, 8)), _names(layer)


@PROBES.add
def encoder_layer_with_a_mask(m):
    layer = set_weights(m.EncoderLayer(8, 2, 16, activation="relu"))
    mask = torch.tensor([True, True, True, False]).reshape(1, 1, 1, 4)
    return layer(floats(12, 2, 4, 8), mask)


@PROBES.add
def decoder_layer(m):
    layer = set_weights(m.DecoderLayer(8, 2, 16))
    return layer(floats(13, 2, 3, 8), floats(14, 2, 5, 8)), _names(layer)


@PROBES.add
def decoder_layer_with_masks(m):
    layer = set_weights(m.DecoderLayer(8, 2, 16))
    src_mask = torch.tensor([True, True, False, True, False]).reshape(1, 1, 1, 5)
    tgt_mask = torch.ones(1, 1, 3, 3, dtype=torch.bool).tril()
    return layer(floats(15, 2, 3, 8), floats(16, 2, 5, 8), src_mask, tgt_mask)


@PROBES.add
def decoder_layer_causal_mask_only(m):
    layer = set_weights(m.DecoderLayer(8, 4, 8))
    tgt_mask = torch.ones(1, 1, 4, 4, dtype=torch.bool).tril()
    return layer(floats(17, 1, 4, 8), floats(18, 1, 2, 8), None, tgt_mask)


@PROBES.add
def encoder_layer_dropout(m):
    layer = set_weights(m.EncoderLayer(8, 2, 16, dropout=0.5))
    x = floats(19, 2, 4, 8)
    evaluated = layer(x).detach()
    layer.train()
    return evaluated, bool(torch.allclose(layer(x).detach(), evaluated))


@PROBES.add
def layer_norm_gradients(m):
    layer = set_weights(m.LayerNorm(6))
    return gradient_norms(layer, layer(_rows(20)))


@PROBES.add
def layer_norm_in_float32(m):
    layer = m.LayerNorm(6, eps=1e-3)
    return layer(_rows(21).float())


@PROBES.add
def feed_forward_gradients(m):
    layer = set_weights(m.FeedForward(4, 6))
    return gradient_norms(layer, layer(floats(22, 2, 3, 4)))


@PROBES.add
def encoder_layer_gradients(m):
    layer = set_weights(m.EncoderLayer(8, 2, 16))
    return gradient_norms(layer, layer(floats(23, 2, 4, 8)))


@PROBES.add
def decoder_layer_gradients(m):
    layer = set_weights(m.DecoderLayer(8, 2, 16))
    tgt_mask = torch.ones(1, 1, 3, 3, dtype=torch.bool).tril()
    return gradient_norms(layer, layer(floats(24, 2, 3, 8), floats(25, 2, 4, 8), None, tgt_mask))
