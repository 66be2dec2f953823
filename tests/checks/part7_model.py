"""Part 7 checks: the whole Transformer - shapes, causality, padding, gradients, size."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies
from tests.reference import expected_encoding

pytestmark = pytest.mark.part7

PAD = 0


@st.composite
def configs(draw, positional: str | None = None):
    heads = draw(strategies.dims(1, 2))
    return dict(
        src_vocab_size=draw(st.integers(4, 12)),
        tgt_vocab_size=draw(st.integers(4, 12)),
        d_model=heads * draw(st.sampled_from([2, 4])),
        num_heads=heads,
        num_encoder_layers=draw(st.integers(1, 2)),
        num_decoder_layers=draw(st.integers(1, 2)),
        d_ff=draw(st.integers(2, 12)),
        dropout=0.0,
        max_len=16,
        pad_id=PAD,
        positional=positional or draw(st.sampled_from(["sinusoidal", "learned"])),
    )


@st.composite
def model_inputs(draw, positional: str | None = None):
    """(config, src (B, S) with padding, tgt (B, T) without padding)."""
    config = draw(configs(positional))
    src, _, _ = draw(strategies.token_batches(config["src_vocab_size"], PAD, max_len=6))
    tgt, _, _ = draw(
        strategies.token_batches(config["tgt_vocab_size"], PAD, max_batch=1, max_len=6, min_real=6)
    )
    tgt = tgt[:1].expand(src.shape[0], -1).clone()
    return config, src, tgt


def build(model, config: dict, device: str):
    transformer = model.Transformer(model.TransformerConfig(**config)).to(device)
    transformer.eval()
    return transformer


@given(inputs=model_inputs())
def test_model_logits_have_the_right_shape(model, device, inputs):
    config, src, tgt = inputs
    transformer = build(model, config, device)
    logits = transformer(src.to(device), tgt.to(device))
    expected = (src.shape[0], tgt.shape[1], config["tgt_vocab_size"])
    harness.expect_shape(logits, expected, "Transformer(src, tgt)")
    harness.expect_finite(logits, "the logits")
    memory = transformer.encode(src.to(device))
    harness.expect_shape(memory, (*src.shape, config["d_model"]), "encode(src)")
    logits_again = transformer.decode(
        tgt.to(device), memory, (src != PAD)[:, None, None, :].to(device)
    )
    harness.expect_close(
        logits_again, logits, "decode(tgt, encode(src), source mask)", reference="forward(src, tgt)"
    )


@given(inputs=model_inputs(), t=st.integers(0, 4), seed=strategies.SEEDS)
def test_model_is_causal_in_the_target(model, device, inputs, t, seed):
    config, src, tgt = inputs
    t = min(t, tgt.shape[1] - 1)
    transformer = build(model, config, device)
    before = harness.tensor(transformer(src.to(device), tgt.to(device)), "the logits")
    changed = tgt.clone()
    generator = torch.Generator().manual_seed(seed)
    changed[:, t + 1 :] = torch.randint(
        1, config["tgt_vocab_size"], changed[:, t + 1 :].shape, generator=generator
    )
    after = harness.expect_shape(
        transformer(src.to(device), changed.to(device)), before.shape, "the logits"
    )
    harness.expect_close(
        after[:, : t + 1],
        before[:, : t + 1],
        f"the logits at target positions 0..{t} after changing later targets",
        reference="the logits before (the decoder must not see the future)",
    )


@given(inputs=model_inputs(positional="sinusoidal"), extra=st.integers(1, 3))
def test_model_ignores_source_padding(model, device, inputs, extra):
    config, src, tgt = inputs
    transformer = build(model, config, device)
    before = harness.tensor(transformer(src.to(device), tgt.to(device)), "the logits")
    padded = torch.cat([src, torch.full((src.shape[0], extra), PAD)], dim=1)
    harness.expect_close(
        transformer(padded.to(device), tgt.to(device)),
        before,
        f"the logits after appending {extra} padding tokens to the source",
        reference="the logits before (padding must be masked out of attention)",
    )


@given(inputs=model_inputs(), seed=strategies.SEEDS)
def test_model_batch_rows_are_independent(model, device, inputs, seed):
    config, src, tgt = inputs
    transformer = build(model, config, device)
    src2 = torch.cat(
        [
            src[:1],
            torch.randint(
                1,
                config["src_vocab_size"],
                (2, src.shape[1]),
                generator=torch.Generator().manual_seed(seed),
            ),
        ]
    )
    tgt2 = tgt[:1].expand(3, -1)
    alone = harness.tensor(transformer(src[:1].to(device), tgt[:1].to(device)), "the logits")
    together = harness.expect_shape(
        transformer(src2.to(device), tgt2.to(device)), (3, *alone.shape[1:]), "the logits"
    )
    harness.expect_close(
        together[:1],
        alone,
        "the first sequence's logits in a batch of three",
        reference="its logits alone",
    )


@given(inputs=model_inputs())
def test_model_eval_is_deterministic_and_dropout_trains(model, device, inputs):
    config, src, tgt = inputs
    transformer = build(model, {**config, "dropout": 0.5}, device)
    src, tgt = src.to(device), tgt.to(device)
    first = harness.tensor(transformer(src, tgt), "the logits in eval mode")
    harness.expect_close(
        transformer(src, tgt),
        first,
        "the logits in eval mode, computed twice",
        reference="the same logits (eval mode switches dropout off)",
    )
    transformer.train()
    torch.manual_seed(1)
    noisy = harness.tensor(transformer(src, tgt), "the logits in train mode")
    harness.expect(
        not torch.allclose(noisy, first),
        "with dropout=0.5 in train mode the logits equal the eval-mode logits: "
        "is the config's dropout used?",
    )
    # The layers must get the dropout too (the textbook's code ignored its attention-dropout
    # setting). With every embedding table zero the embeddings give exactly 0, whatever
    # their own dropout, so two train-mode passes can differ only through the layers.
    config = {**config, "dropout": 0.5, "positional": "learned"}
    layered = model.Transformer(model.TransformerConfig(**config))
    d_model = config["d_model"]
    zeros = {}
    for side, vocab in (("encoder", "src_vocab_size"), ("decoder", "tgt_vocab_size")):
        zeros[f"{side}.embeddings.token.weight"] = torch.zeros(config[vocab], d_model)
        zeros[f"{side}.embeddings.position.embedding.weight"] = torch.zeros(
            config["max_len"], d_model
        )
    harness.load_weights(layered, zeros, "the Transformer")
    layered.to(device)
    layered.train()
    passes = [harness.tensor(layered(src, tgt), "the logits in train mode") for _ in range(2)]
    harness.expect(
        not torch.allclose(*passes),
        "with dropout=0.5, train mode and all-zero embeddings, two passes give the same "
        "logits: the encoder and decoder layers should get the config's dropout",
    )


@given(inputs=model_inputs())
def test_model_every_parameter_gets_a_gradient(model, device, inputs):
    config, src, tgt = inputs
    transformer = build(model, config, device)
    transformer.train()
    logits = harness.differentiable(transformer(src.to(device), tgt.to(device)), "the logits")
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), tgt.to(device).reshape(-1)
    )
    loss.backward()
    missing = []
    for name, parameter in transformer.named_parameters():
        grad = parameter.grad
        if grad is None:
            missing.append(name)
        else:
            harness.expect_finite(grad, f"the gradient of {name}")
    harness.expect(not missing, f"these parameters get no gradient: {', '.join(missing[:5])}")


def expected_parameters(config: dict) -> int:
    """The parameter count of the architecture in the docstrings, from the config alone."""
    d, d_ff = config["d_model"], config["d_ff"]
    attention = 4 * (d * d + d)
    feed_forward = d * d_ff + d_ff + d_ff * d + d
    norm = 2 * d
    encoder_layer = attention + feed_forward + 2 * norm
    decoder_layer = 2 * attention + feed_forward + 3 * norm
    embeddings = (config["src_vocab_size"] + config["tgt_vocab_size"]) * d
    if config["positional"] == "learned":
        embeddings += 2 * config["max_len"] * d
    return (
        embeddings
        + config["num_encoder_layers"] * encoder_layer
        + config["num_decoder_layers"] * decoder_layer
        + 2 * norm
        + d * config["tgt_vocab_size"]
        + config["tgt_vocab_size"]
    )


@given(config=configs())
def test_model_parameter_count(model, config):
    transformer = model.Transformer(model.TransformerConfig(**config))
    count = sum(harness.tensor(p, name).numel() for name, p in transformer.named_parameters())
    expected = expected_parameters(config)
    harness.expect(
        count == expected,
        f"the Transformer has {count} parameters, expected {expected} for {config} "
        f"(embeddings, layers, two final LayerNorms and the generator)",
    )


@given(config=configs(positional="sinusoidal"), seed=strategies.SEEDS)
def test_embeddings_scale_tokens_and_add_positions(model, device, config, seed):
    embeddings = model.Embeddings(config["src_vocab_size"], model.TransformerConfig(**config))
    table = strategies.random_tensor((config["src_vocab_size"], config["d_model"]), seed)
    harness.load_weights(embeddings, {"token.weight": table}, "Embeddings")
    embeddings.to(device)
    embeddings.eval()
    tokens = torch.randint(
        0, config["src_vocab_size"], (2, 5), generator=torch.Generator().manual_seed(seed)
    )
    d = config["d_model"]
    expected = table[tokens] * math.sqrt(d) + expected_encoding(5, d).float()
    harness.expect_close(
        embeddings(tokens.to(device)),
        expected,
        "Embeddings(tokens)",
        atol=1e-4,
        rtol=1e-4,
        reference="token.weight[tokens] * sqrt(d_model) + the sinusoidal encoding",
    )


@pytest.mark.contract
def test_config_rejects_bad_combinations(model):
    base = dict(src_vocab_size=10, tgt_vocab_size=10, d_model=8, num_heads=2)
    for change, word in (
        ({"d_model": 10, "num_heads": 3}, "num_heads"),
        ({"dropout": 1.5}, "dropout"),
        ({"positional": "spiral"}, "positional"),
        ({"pad_id": 12}, "pad_id"),
        ({"d_ff": 0}, "d_ff"),
    ):
        harness.expect_raises(
            ValueError,
            model.TransformerConfig,
            **{**base, **change},
            mentions=(word,),
            what=f"TransformerConfig with {change}",
        )
