"""Probes of part 7 (model): the configuration, embeddings, encoder, decoder, Transformer.

One probe per documented behaviour: the configuration's refusals (each field), token
embeddings scaled by sqrt(d_model) plus sinusoidal or learned positions, the encoder's and
decoder's stacks with their final norms, the default source padding mask and target mask
(with another pad_id too), explicit masks, no layers at all, dropout only in training, and
the parameters' names and shapes.
"""

import torch

from tests.probes import Probes
from tests.probes.inputs import dropout_facts, error_facts, floats, gradient_norms, set_weights

PROBES = Probes()

SRC = torch.tensor([[4, 5, 6, 7, 0], [8, 3, 0, 0, 0]])
TGT = torch.tensor([[1, 5, 6, 0], [1, 7, 4, 2]])


def _config(m, **changes):
    sizes = dict(
        src_vocab_size=9,
        tgt_vocab_size=10,
        d_model=8,
        num_heads=2,
        num_encoder_layers=2,
        num_decoder_layers=1,
        d_ff=12,
        dropout=0.0,
        max_len=16,
    )
    sizes.update(changes)
    return m.TransformerConfig(**sizes)


def _model(m, **changes):
    return set_weights(m.Transformer(_config(m, **changes)))


def _names(module):
    """The parameters' (and buffers') names and shapes, as one text."""
    parameters = [f"{n}{tuple(p.shape)}" for n, p in module.named_parameters()]
    return " ".join(sorted(parameters))


@PROBES.add
def config_refusals(m):
    return [
        error_facts(lambda: _config(m, d_model=10, num_heads=4), 10, 4),
        error_facts(lambda: _config(m, d_model=0)),
        error_facts(lambda: _config(m, dropout=1.0)),
        error_facts(lambda: _config(m, pad_id=9), 9),
        error_facts(lambda: _config(m, positional="rotary")),
        error_facts(lambda: _config(m, activation="tanh")),
        error_facts(lambda: _config(m, num_encoder_layers=-1)),
        error_facts(lambda: _config(m, layer_norm_eps=0.0)),
    ]


@PROBES.add
def config_accepts_valid_sizes(m):
    config = _config(m, num_encoder_layers=0, positional="learned", activation="relu")
    return config.d_model, config.num_heads, config.positional


@PROBES.add
def embeddings(m):
    layer = set_weights(m.Embeddings(9, _config(m)))
    return layer(SRC), _names(layer)


@PROBES.add
def learned_embeddings(m):
    layer = set_weights(m.Embeddings(9, _config(m, positional="learned")))
    return layer(SRC), _names(layer)


@PROBES.add
def encoder_without_a_mask(m):
    return set_weights(m.Encoder(_config(m)))(SRC)


@PROBES.add
def encoder_with_a_mask(m):
    mask = (SRC != 0)[:, None, None, :]
    return set_weights(m.Encoder(_config(m)))(SRC, mask)


@PROBES.add
def decoder(m):
    layer = set_weights(m.Decoder(_config(m)))
    causal = torch.ones(1, 1, 4, 4, dtype=torch.bool).tril()
    return layer(TGT, floats(1, 2, 5, 8), None, causal)


@PROBES.add
def transformer_logits(m):
    return _model(m)(SRC, TGT)


@PROBES.add
def transformer_parameters(m):
    return _names(_model(m))


@PROBES.add
def encode_with_the_default_mask(m):
    return _model(m).encode(SRC)


@PROBES.add
def decode_with_the_default_mask(m):
    model = _model(m)
    return model.decode(TGT, floats(2, 2, 5, 8))


@PROBES.add
def transformer_with_explicit_masks(m):
    src_mask = torch.ones(2, 1, 1, 5, dtype=torch.bool)
    tgt_mask = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    return _model(m)(SRC, TGT, src_mask, tgt_mask)


@PROBES.add
def transformer_with_pad_id_3(m):
    model = _model(m, pad_id=3, positional="learned", activation="relu")
    return model(SRC, TGT)


@PROBES.add
def transformer_without_encoder_layers(m):
    return _model(m, num_encoder_layers=0, num_decoder_layers=2)(SRC, TGT)


@PROBES.add
def transformer_dropout(m):
    model = _model(m, dropout=0.5)
    evaluated = model(SRC, TGT).detach()
    model.train()
    return evaluated, bool(torch.allclose(model(SRC, TGT).detach(), evaluated))


@PROBES.add
def mismatched_batches(m):
    return error_facts(lambda: _model(m)(SRC, TGT[:1]), 2, 1)


@PROBES.add
def transformer_gradients(m):
    model = _model(m)
    return gradient_norms(model, model(SRC, TGT))


@PROBES.add
def transformer_in_float32(m):
    return _model(m).float()(SRC, TGT)


def _changes_in_training(module, *inputs) -> tuple:
    module.eval()
    evaluated = module(*inputs).detach()
    module.train()
    trained = module(*inputs).detach()
    return dropout_facts(trained, evaluated, 0.5), bool(torch.allclose(trained, evaluated))


@PROBES.add
def dropout_reaches_every_stack(m):
    """With dropout 0.5: the embeddings drop once (every entry 0 or doubled), and every
    encoder and decoder layer changes in training."""
    model = _model(m, dropout=0.5)
    memory = floats(3, 2, 5, 8)
    return (
        _changes_in_training(model.encoder.embeddings, SRC),
        _changes_in_training(model.decoder.embeddings, TGT),
        _changes_in_training(model.encoder.layers[0], floats(4, 2, 5, 8)),
        _changes_in_training(model.encoder.layers[1], floats(5, 2, 5, 8)),
        _changes_in_training(model.decoder.layers[0], floats(6, 2, 4, 8), memory),
    )


@PROBES.add
def sequences_longer_than_max_len(m):
    return (
        error_facts(lambda: _model(m, max_len=4)(SRC, TGT)),
        error_facts(lambda: _model(m, max_len=4, positional="learned")(SRC, TGT)),
        _model(m, max_len=5)(SRC, TGT),
    )


@PROBES.add
def transformer_with_large_eps(m):
    return _model(m, layer_norm_eps=0.3)(SRC, TGT)


@PROBES.add
def decode_with_a_given_source_mask(m):
    model = _model(m)
    given = (SRC != 4)[:, None, None, :]
    return model.decode(TGT, floats(7, 2, 5, 8), given)


@PROBES.add
def evaluation_is_deterministic(m):
    model = _model(m, dropout=0.5)
    return bool(torch.equal(model(SRC, TGT).detach(), model(SRC, TGT).detach()))
