"""Part 7 checks: the whole Transformer - logits, causality, padding, gradients, size.

Most checks load seeded weights into the student's Transformer under the parameter names
the docstrings give, run it in float64, and compare its logits with :func:`reference_logits`,
the documented architecture written out here in float64: token embeddings times
``sqrt(d_model)`` plus positions, Pre-LN encoder and decoder layers, a final LayerNorm on each
side and a linear generator. Comparing with it keeps constant or random logits from passing
an invariance check.

The tolerance stays float32's even in float64: part 5 may keep its sinusoidal table in
float32, and the model adds that table, rounded, to its embeddings.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies
from tests.reference import expected_encoding

pytestmark = pytest.mark.part7

PAD = 0

ARCHITECTURE = (
    "the documented architecture (token embedding * sqrt(d_model) + positions, Pre-LN "
    "layers, a final LayerNorm in the encoder and in the decoder, then the generator)"
)


@st.composite
def configs(draw, positional: str | None = None, min_layers: int = 1, max_len: int = 16):
    """TransformerConfig keyword arguments; d_model 4 or 8 (LayerNorm over 2 features is
    too degenerate to tell rounding from mistakes)."""
    return dict(
        src_vocab_size=draw(st.integers(4, 12)),
        tgt_vocab_size=draw(st.integers(4, 12)),
        d_model=draw(st.sampled_from([4, 8])),
        num_heads=draw(st.sampled_from([1, 2])),
        num_encoder_layers=draw(st.integers(min_layers, 2)),
        num_decoder_layers=draw(st.integers(min_layers, 2)),
        d_ff=draw(st.integers(2, 12)),
        dropout=0.0,
        max_len=max_len,
        pad_id=PAD,
        positional=positional or draw(st.sampled_from(["sinusoidal", "learned"])),
        activation=draw(st.sampled_from(["gelu", "relu"])),
        layer_norm_eps=draw(st.sampled_from([1e-5, 0.1])),
    )


def documented_weights(config: dict, seed: int) -> dict[str, torch.Tensor]:
    """Seeded float64 weights for every parameter the docstrings name, by that name."""
    generator = torch.Generator().manual_seed(seed)
    d, d_ff = config["d_model"], config["d_ff"]
    weights: dict[str, torch.Tensor] = {}

    def normal(*shape: int, scale: float) -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=torch.float64) * scale

    def linear(name: str, fan_in: int, fan_out: int) -> None:
        weights[f"{name}.weight"] = normal(fan_out, fan_in, scale=fan_in**-0.5)
        weights[f"{name}.bias"] = normal(fan_out, scale=0.2)

    def norm(name: str) -> None:
        weights[f"{name}.weight"] = 1.0 + normal(d, scale=0.2)
        weights[f"{name}.bias"] = normal(d, scale=0.2)

    for side, vocab, layers, attentions in (
        ("encoder", "src_vocab_size", "num_encoder_layers", ("self_attn",)),
        ("decoder", "tgt_vocab_size", "num_decoder_layers", ("self_attn", "cross_attn")),
    ):
        # Scaled by sqrt(d_model) in the model, the token vectors come out of size 1.
        weights[f"{side}.embeddings.token.weight"] = normal(config[vocab], d, scale=d**-0.5)
        if config["positional"] == "learned":
            weights[f"{side}.embeddings.position.embedding.weight"] = normal(
                config["max_len"], d, scale=1.0
            )
        for index in range(config[layers]):
            layer = f"{side}.layers.{index}"
            for attention in attentions:
                for projection in ("w_q", "w_k", "w_v", "w_o"):
                    linear(f"{layer}.{attention}.{projection}", d, d)
            linear(f"{layer}.feed_forward.linear1", d, d_ff)
            linear(f"{layer}.feed_forward.linear2", d_ff, d)
            for sublayer in range(1, len(attentions) + 2):
                norm(f"{layer}.sublayer{sublayer}.norm")
        norm(f"{side}.norm")
    linear("generator", d, config["tgt_vocab_size"])
    return weights


def _attention(
    weights: dict, name: str, heads: int, x: torch.Tensor, memory: torch.Tensor, mask
) -> torch.Tensor:
    def project(which: str, y: torch.Tensor) -> torch.Tensor:
        return F.linear(y, weights[f"{name}.{which}.weight"], weights[f"{name}.{which}.bias"])

    def split(y: torch.Tensor) -> torch.Tensor:
        return y.reshape(*y.shape[:2], heads, -1).transpose(1, 2)

    q, k, v = split(project("w_q", x)), split(project("w_k", memory)), split(project("w_v", memory))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask.to(torch.bool), float("-inf"))
    # A query whose keys are all masked gets a zero output (softmax gives NaN there).
    mixed = torch.softmax(scores, dim=-1).nan_to_num(0.0) @ v
    return project("w_o", mixed.transpose(1, 2).reshape(x.shape))


def reference_logits(
    weights: dict[str, torch.Tensor],
    config: dict,
    src: torch.Tensor,
    tgt: torch.Tensor,
    src_mask: torch.Tensor | None = None,
    tgt_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The documented Transformer's logits ``(B, T, tgt_vocab)`` in float64, on the CPU.

    ``src`` ``(B, S)``, ``tgt`` ``(B, T)``; the masks default to the source padding mask and
    the target mask (no padding, no future) built from ``config["pad_id"]``.
    """
    d, heads, pad = config["d_model"], config["num_heads"], config["pad_id"]
    eps = config["layer_norm_eps"]
    activation = F.gelu if config["activation"] == "gelu" else F.relu
    src, tgt = src.cpu(), tgt.cpu()
    if src_mask is None:
        src_mask = (src != pad)[:, None, None, :]
    if tgt_mask is None:
        causal = torch.ones(tgt.shape[1], tgt.shape[1], dtype=torch.bool).tril()
        tgt_mask = (tgt != pad)[:, None, None, :] & causal
    src_mask, tgt_mask = src_mask.cpu(), tgt_mask.cpu()

    def norm(name: str, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (d,), weights[f"{name}.weight"], weights[f"{name}.bias"], eps)

    def embed(side: str, tokens: torch.Tensor) -> torch.Tensor:
        x = weights[f"{side}.embeddings.token.weight"][tokens] * math.sqrt(d)
        if config["positional"] == "learned":
            return x + weights[f"{side}.embeddings.position.embedding.weight"][: tokens.shape[1]]
        return x + expected_encoding(tokens.shape[1], d)

    def feed_forward(name: str, x: torch.Tensor) -> torch.Tensor:
        hidden = F.linear(x, weights[f"{name}.linear1.weight"], weights[f"{name}.linear1.bias"])
        return F.linear(
            activation(hidden), weights[f"{name}.linear2.weight"], weights[f"{name}.linear2.bias"]
        )

    x = embed("encoder", src)
    for index in range(config["num_encoder_layers"]):
        layer = f"encoder.layers.{index}"
        y = norm(f"{layer}.sublayer1.norm", x)
        x = x + _attention(weights, f"{layer}.self_attn", heads, y, y, src_mask)
        x = x + feed_forward(f"{layer}.feed_forward", norm(f"{layer}.sublayer2.norm", x))
    memory = norm("encoder.norm", x)

    x = embed("decoder", tgt)
    for index in range(config["num_decoder_layers"]):
        layer = f"decoder.layers.{index}"
        y = norm(f"{layer}.sublayer1.norm", x)
        x = x + _attention(weights, f"{layer}.self_attn", heads, y, y, tgt_mask)
        y = norm(f"{layer}.sublayer2.norm", x)
        x = x + _attention(weights, f"{layer}.cross_attn", heads, y, memory, src_mask)
        x = x + feed_forward(f"{layer}.feed_forward", norm(f"{layer}.sublayer3.norm", x))
    x = norm("decoder.norm", x)
    return F.linear(x, weights["generator.weight"], weights["generator.bias"])


@st.composite
def model_inputs(draw, positional: str | None = None):
    """(config, seed of the weights, src (B, S) with padding, tgt (B, T) without padding)."""
    config = draw(configs(positional))
    src, _, _ = draw(strategies.token_batches(config["src_vocab_size"], PAD, max_len=6))
    tgt, _, _ = draw(
        strategies.token_batches(config["tgt_vocab_size"], PAD, max_batch=1, max_len=6, min_real=6)
    )
    tgt = tgt[:1].expand(src.shape[0], -1).clone()
    return config, draw(strategies.SEEDS), src, tgt


def build(model, config: dict, weights: dict, device: str, dtype=torch.float64):
    """The student's Transformer with ``weights`` loaded, in ``dtype`` on ``device``, eval mode."""
    transformer = model.Transformer(model.TransformerConfig(**config))
    if dtype == torch.float64:
        harness.in_float64(transformer, "Transformer")
    harness.load_weights(transformer, weights, "the Transformer")
    transformer.to(device, dtype)
    transformer.eval()
    return transformer


def expect_documented(actual, weights, config, src, tgt, what: str, **masks) -> torch.Tensor:
    """``actual`` equals the documented model's logits (float32's tolerance, see above)."""
    return harness.expect_close(
        actual,
        reference_logits(weights, config, src, tgt, **masks),
        what,
        atol=1e-5,
        rtol=1e-4,
        reference=ARCHITECTURE,
    )


@given(inputs=model_inputs())
def test_model_logits_have_the_right_shape(model, device, inputs):
    config, weight_seed, src, tgt = inputs
    weights = documented_weights(config, weight_seed)
    transformer = build(model, config, weights, device)
    src, tgt = src.to(device), tgt.to(device)
    logits = transformer(src, tgt)
    expected = (src.shape[0], tgt.shape[1], config["tgt_vocab_size"])
    harness.expect_shape(logits, expected, "Transformer(src, tgt)")
    expect_documented(logits, weights, config, src, tgt, "Transformer(src, tgt)")
    memory = transformer.encode(src)
    harness.expect_shape(memory, (*src.shape, config["d_model"]), "encode(src)")
    logits_again = transformer.decode(tgt, memory, (src != PAD)[:, None, None, :])
    harness.expect_close(
        logits_again, logits, "decode(tgt, encode(src), source mask)", reference="forward(src, tgt)"
    )


@st.composite
def documented_inputs(draw):
    """(config, seed of the weights, src, tgt with padding, masks): 0 to 2 layers, masks
    given or not."""
    config = draw(configs(min_layers=0))
    src, _, _ = draw(strategies.token_batches(config["src_vocab_size"], PAD, max_len=6))
    batch = src.shape[0]
    tgt, _, _ = draw(strategies.token_batches(config["tgt_vocab_size"], PAD, max_len=6))
    tgt = tgt[torch.arange(batch) % tgt.shape[0]]
    masks = {}
    if draw(st.booleans()):
        given = draw(strategies.masks((batch, 1, 1, src.shape[1]), False))
        given = given.expand(batch, 1, 1, src.shape[1]).clone()
        # In the row with the most real tokens the given mask shows the first and hides the
        # last, which the padding mask shows: a model that builds its own mask is seen.
        real = (src != PAD).sum(dim=1)
        row = int(real.argmax())
        positions = (src[row] != PAD).nonzero().flatten()
        if len(positions) >= 2:
            given[row, 0, 0, positions[0]] = True
            given[row, 0, 0, positions[-1]] = False
        masks["src_mask"] = given
    if draw(st.booleans()):
        masks["tgt_mask"] = draw(strategies.masks((batch, 1, tgt.shape[1], tgt.shape[1]), False))
    return config, draw(strategies.SEEDS), src, tgt, masks


@given(inputs=documented_inputs())
def test_model_gives_the_documented_logits(model, device, inputs):
    config, weight_seed, src, tgt, masks = inputs
    weights = documented_weights(config, weight_seed)
    transformer = build(model, config, weights, device)
    on_device = {name: mask.to(device) for name, mask in masks.items()}
    given_masks = f" with {' and '.join(masks)} given" if masks else ""
    call = f"Transformer(src, tgt{''.join(f', {name}' for name in masks)})"
    expect_documented(
        transformer(src.to(device), tgt.to(device), **on_device),
        weights,
        config,
        src,
        tgt,
        f"{call} (padded targets{given_masks})",
        **masks,
    )
    src_mask = masks.get("src_mask", (src != PAD)[:, None, None, :])
    memory = transformer.encode(src.to(device), src_mask.to(device))
    memory = harness.expect_shape(memory, (*src.shape, config["d_model"]), "encode(src, src_mask)")
    logits = transformer.decode(tgt.to(device), memory.to(device), src_mask.to(device))
    expect_documented(
        logits,
        weights,
        config,
        src,
        tgt,
        "decode(tgt, encode(src, src_mask), src_mask)",
        src_mask=src_mask,
    )


@given(inputs=model_inputs(), t=st.integers(0, 4), seed=strategies.SEEDS)
def test_model_is_causal_in_the_target(model, device, inputs, t, seed):
    config, weight_seed, src, tgt = inputs
    weights = documented_weights(config, weight_seed)
    t = min(t, tgt.shape[1] - 1)
    transformer = build(model, config, weights, device)
    before = expect_documented(
        transformer(src.to(device), tgt.to(device)), weights, config, src, tgt, "the logits"
    )
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
    config, weight_seed, src, tgt = inputs
    weights = documented_weights(config, weight_seed)
    transformer = build(model, config, weights, device)
    before = expect_documented(
        transformer(src.to(device), tgt.to(device)), weights, config, src, tgt, "the logits"
    )
    padded = torch.cat([src, torch.full((src.shape[0], extra), PAD)], dim=1)
    harness.expect_close(
        transformer(padded.to(device), tgt.to(device)),
        before,
        f"the logits after appending {extra} padding tokens to the source",
        reference="the logits before (padding must be masked out of attention)",
    )


@given(inputs=model_inputs(), seed=strategies.SEEDS)
def test_model_batch_rows_are_independent(model, device, inputs, seed):
    config, weight_seed, src, tgt = inputs
    weights = documented_weights(config, weight_seed)
    transformer = build(model, config, weights, device)
    others = torch.randint(
        1,
        config["src_vocab_size"],
        (2, src.shape[1]),
        generator=torch.Generator().manual_seed(seed),
    )
    src2 = torch.cat([src[:1], others])
    tgt2 = tgt[:1].expand(3, -1)
    alone = expect_documented(
        transformer(src[:1].to(device), tgt[:1].to(device)),
        weights,
        config,
        src[:1],
        tgt[:1],
        "the logits of one sequence",
    )
    together = harness.expect_shape(
        transformer(src2.to(device), tgt2.to(device)), (3, *alone.shape[1:]), "the logits"
    )
    harness.expect_close(
        together[:1],
        alone,
        "the first sequence's logits in a batch of three",
        reference="its logits alone",
    )


def expect_dropout_once(noisy: torch.Tensor, clean: torch.Tensor, p: float, what: str) -> None:
    """Every entry of ``noisy`` is 0 or ``clean / (1 - p)``, and some are 0."""
    noisy, clean = noisy.cpu().double(), clean.cpu().double()
    dropped = noisy == 0
    harness.expect(
        bool(dropped.any()),
        f"{what} in train mode with dropout={p}: no entry is zeroed; the positions' dropout "
        "should apply to the embeddings",
    )
    harness.expect_close(
        noisy[~dropped],
        clean[~dropped] / (1 - p),
        f"the entries of {what} that dropout keeps in train mode",
        reference=f"the eval-mode values / (1 - {p}): dropout applied exactly once",
    )


@given(inputs=model_inputs(), side=st.sampled_from(["encoder", "decoder"]))
def test_model_eval_is_deterministic_and_dropout_trains(model, device, inputs, side):
    config, weight_seed, src, tgt = inputs
    weights = documented_weights(config, weight_seed)
    p = 0.5
    config = {**config, "dropout": p}
    transformer = build(model, config, weights, device)
    src, tgt = src.to(device), tgt.to(device)
    first = expect_documented(
        transformer(src, tgt), weights, config, src, tgt, "the logits in eval mode"
    )
    harness.expect_close(
        transformer(src, tgt),
        first,
        "the logits in eval mode, computed twice",
        reference="the same logits (eval mode switches dropout off)",
    )
    transformer.train()
    torch.manual_seed(1)
    # 4 * 16 * d_model entries: the chance that dropout keeps them all is below 2^-256.
    generator = torch.Generator().manual_seed(weight_seed)
    vocab = config["src_vocab_size" if side == "encoder" else "tgt_vocab_size"]
    tokens = torch.randint(vocab, (4, config["max_len"]), generator=generator).to(device)
    embeddings = transformer.get_submodule(f"{side}.embeddings")
    embeddings.eval()
    clean = harness.tensor(embeddings(tokens), f"the {side}'s embeddings")
    embeddings.train()
    expect_dropout_once(embeddings(tokens), clean, p, f"the {side}'s embeddings")
    # The layers must get the dropout too. With every embedding table zero the embeddings
    # give exactly 0, whatever their own dropout, so two train-mode passes can differ only
    # through the layers: the encoder's (through the memory) or the decoder's.
    config = {**config, "positional": "learned"}
    weights = documented_weights(config, 0)
    for name in list(weights):
        if ".embeddings." in name:
            weights[name] = torch.zeros_like(weights[name])
    layered = build(model, config, weights, device)
    layered.train()
    memories = [harness.tensor(layered.encode(src), "encode(src) in train mode") for _ in range(2)]
    harness.expect(
        not torch.equal(*memories),
        f"with dropout={p}, train mode and all-zero embeddings, two calls of encode give the "
        "same memory: the encoder layers should get the config's dropout",
    )
    passes = [
        harness.tensor(
            layered.decode(tgt, memories[0], (src != PAD)[:, None, None, :]), "the logits"
        )
        for _ in range(2)
    ]
    harness.expect(
        not torch.equal(*passes),
        f"with dropout={p}, train mode and all-zero embeddings, two calls of decode with the "
        "same memory give the same logits: the decoder layers should get the config's dropout",
    )


@given(inputs=model_inputs())
def test_model_every_parameter_gets_a_gradient(model, device, inputs):
    config, weight_seed, src, tgt = inputs
    weights = documented_weights(config, weight_seed)
    transformer = build(model, config, weights, device)
    transformer.train()
    logits = harness.differentiable(transformer(src.to(device), tgt.to(device)), "the logits")
    expect_documented(logits, weights, config, src, tgt, "the logits in train mode (dropout 0)")
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.to(device).reshape(-1))
    loss.backward()
    missing = []
    for name, parameter in transformer.named_parameters():
        grad = parameter.grad
        if grad is None:
            missing.append(name)
        else:
            harness.expect_finite(grad, f"the gradient of {name}")
    harness.expect(
        not missing,
        f"these parameters get no gradient from the loss: {', '.join(missing[:5])} (is "
        "something detached, or computed under torch.no_grad?)",
    )


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


@given(inputs=model_inputs())
def test_model_parameter_count(model, device, inputs):
    config, weight_seed, src, tgt = inputs
    weights = documented_weights(config, weight_seed)
    transformer = build(model, config, weights, device)
    count = sum(harness.tensor(p, name).numel() for name, p in transformer.named_parameters())
    expected = expected_parameters(config)
    harness.expect(
        count == expected,
        f"the Transformer has {count} parameters, expected {expected} for {config} "
        f"(embeddings, layers, two final LayerNorms and the generator)",
    )
    # The count alone would reward a constructor that only builds the layers.
    expect_documented(
        transformer(src.to(device), tgt.to(device)),
        weights,
        config,
        src,
        tgt,
        "the logits with the documented weights loaded",
    )


@given(config=configs(), seed=strategies.SEEDS)
def test_embeddings_scale_tokens_and_add_positions(model, device, config, seed):
    embeddings = model.Embeddings(config["src_vocab_size"], model.TransformerConfig(**config))
    harness.in_float64(embeddings, "Embeddings")
    weights = documented_weights(config, seed)
    prefix = "encoder.embeddings."
    own = {name[len(prefix) :]: value for name, value in weights.items() if prefix in name}
    harness.load_weights(embeddings, own, "Embeddings")
    embeddings.to(device)
    embeddings.eval()
    tokens = torch.randint(
        0, config["src_vocab_size"], (2, 5), generator=torch.Generator().manual_seed(seed)
    )
    d = config["d_model"]
    if config["positional"] == "learned":
        positions, named = own["position.embedding.weight"][:5], "position.embedding.weight[:T]"
    else:
        positions, named = expected_encoding(5, d), "the sinusoidal encoding"
    harness.expect_close(
        embeddings(tokens.to(device)),
        own["token.weight"][tokens] * math.sqrt(d) + positions,
        f"Embeddings(tokens) with {config['positional']} positions",
        atol=1e-5,
        rtol=1e-4,
        reference=f"token.weight[tokens] * sqrt(d_model) + {named}",
    )


@given(config=configs(max_len=6), seed=strategies.SEEDS, side=st.sampled_from(["source", "target"]))
def test_model_enforces_max_len(model, device, config, seed, side):
    max_len = config["max_len"]
    weights = documented_weights(config, seed)
    transformer = build(model, config, weights, device)
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(1, config["src_vocab_size"], (2, max_len + 1), generator=generator)
    tgt = torch.randint(1, config["tgt_vocab_size"], (2, max_len + 1), generator=generator)
    expect_documented(
        transformer(src[:, :max_len].to(device), tgt[:, :max_len].to(device)),
        weights,
        config,
        src[:, :max_len],
        tgt[:, :max_len],
        f"the logits of a source and a target of exactly max_len={max_len} tokens",
    )
    pair = (src, tgt[:, :max_len]) if side == "source" else (src[:, :max_len], tgt)
    harness.expect_raises(
        ValueError,
        transformer,
        *(tokens.to(device) for tokens in pair),
        mentions=("max_len",),
        what=f"Transformer(src, tgt) with a {side} of {max_len + 1} tokens (max_len={max_len})",
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
