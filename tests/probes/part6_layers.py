"""Probes of part 6 (layers): LayerNorm, feed-forward, Pre-LN residuals, encoder and decoder.

One probe per documented behaviour: LayerNorm's mean, biased variance and eps inside the
square root (rows of spread 1, of tiny spread, constant rows, other eps, gain and bias), the
feed-forward's two linears around each activation and its dropout, the Pre-LN residual, and
the layers' order of sublayers, masks and memory.
"""

import torch

from tests.probes import Probes
from tests.probes.inputs import (
    dropout_facts,
    error_facts,
    floats,
    gradient_norms,
    set_weights,
    weight_for,
)

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


def _changes_in_training(module, *inputs) -> bool:
    """Whether ``module`` (a submodule of a layer built with dropout 0.5) gives another
    output in training than in evaluation: whether the layer passed its dropout on."""
    module.eval()
    evaluated = module(*inputs).detach()
    module.train()
    return not bool(torch.allclose(module(*inputs).detach(), evaluated))


def _linear(d):
    return set_weights(torch.nn.Linear(d, d))


@PROBES.add
def feed_forward_dropout_placement(m):
    """Where the feed-forward drops: with its weights known, the hidden activations are
    read back from the output (linear2 is inverted), whatever the random draw."""
    p, d = 0.5, 6
    layer = set_weights(m.FeedForward(d, d, dropout=p))
    w1, b1 = weight_for("linear1.weight", (d, d)), weight_for("linear1.bias", (d,))
    w2, b2 = weight_for("linear2.weight", (d, d)), weight_for("linear2.bias", (d,))
    x = floats(30, 2, 5, d)
    before = x @ w1.T + b1
    hidden = torch.nn.functional.gelu(before)
    evaluated = layer(x).detach()
    layer.train()
    trained = layer(x).detach()
    read_back = torch.linalg.solve(w2, (trained - b2).reshape(-1, d).T).T.reshape(trained.shape)
    activated_twice = torch.nn.functional.gelu(2 * before)
    before_activation = (read_back.abs() <= 1e-6) | ((read_back - activated_twice).abs() <= 1e-6)
    return (
        bool(torch.allclose(evaluated, hidden @ w2.T + b2)),
        dropout_facts(read_back, hidden, p),
        bool(before_activation.all()),
        dropout_facts(trained, evaluated, p),
    )


@PROBES.add
def sublayer_connection_dropout_placement(m):
    p, d = 0.5, 5
    connection = set_weights(m.SublayerConnection(d, dropout=p))
    sublayer = _linear(d)
    weight, bias = weight_for("weight", (d, d)), weight_for("bias", (d,))
    x = floats(31, 2, 6, d)
    evaluated = connection(x, sublayer).detach()
    connection.train()
    trained = connection(x, sublayer).detach()

    def read_back(y):
        return torch.linalg.solve(weight, (y - x - bias).reshape(-1, d).T).T.reshape(y.shape)

    return (
        dropout_facts(trained, evaluated, p)[0],
        dropout_facts(read_back(trained), read_back(evaluated), p),
    )


@PROBES.add
def encoder_layer_passes_its_dropout_on(m):
    layer = set_weights(m.EncoderLayer(8, 2, 16, dropout=0.5))
    x = floats(32, 2, 5, 8)
    return (
        _changes_in_training(layer.self_attn, x, x, x),
        _changes_in_training(layer.feed_forward, x),
        _changes_in_training(layer.sublayer1, x, _linear(8)),
        _changes_in_training(layer.sublayer2, x, _linear(8)),
    )


@PROBES.add
def decoder_layer_passes_its_dropout_on(m):
    layer = set_weights(m.DecoderLayer(8, 2, 16, dropout=0.5))
    x, memory = floats(33, 2, 5, 8), floats(34, 2, 4, 8)
    return (
        _changes_in_training(layer.self_attn, x, x, x),
        _changes_in_training(layer.cross_attn, x, memory, memory),
        _changes_in_training(layer.feed_forward, x),
        _changes_in_training(layer.sublayer1, x, _linear(8)),
        _changes_in_training(layer.sublayer2, x, _linear(8)),
        _changes_in_training(layer.sublayer3, x, _linear(8)),
    )


@PROBES.add
def encoder_layer_with_eps_and_relu(m):
    layer = set_weights(m.EncoderLayer(6, 2, 12, activation="relu", eps=0.5))
    return layer(_rows(35))


@PROBES.add
def decoder_layer_with_eps_and_relu(m):
    layer = set_weights(m.DecoderLayer(6, 3, 12, activation="relu", eps=0.5))
    return layer(_rows(36), floats(37, 2, 4, 6) * 0.1)


@PROBES.add
def evaluation_is_deterministic(m):
    """In evaluation every module gives the same output twice (no dropout left on)."""
    x, memory = floats(38, 2, 4, 8), floats(39, 2, 3, 8)
    modules = [
        (set_weights(m.FeedForward(8, 16, dropout=0.5)), (x,)),
        (set_weights(m.SublayerConnection(8, dropout=0.5)), (x, _linear(8))),
        (set_weights(m.EncoderLayer(8, 2, 16, dropout=0.5)), (x,)),
        (set_weights(m.DecoderLayer(8, 2, 16, dropout=0.5)), (x, memory)),
    ]
    return [bool(torch.equal(module(*a).detach(), module(*a).detach())) for module, a in modules]
