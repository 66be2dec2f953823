"""Part 6 hidden checks: causality, memory only via cross-attention, dropout everywhere,
other shapes and dtypes."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies
from tests.checks.part6_layers import (
    causal_mask,
    decoder_reference,
    layer_inputs,
    layer_state,
    torch_encoder_layer,
)

pytestmark = pytest.mark.part6


def decoder_in_float64(layers, device, case, state):
    """The student's DecoderLayer for ``case`` holding ``state``, in float64, eval mode."""
    d = case.target.shape[-1]
    layer = layers.DecoderLayer(d, case.heads, case.d_ff, activation=case.activation, eps=case.eps)
    harness.load_weights(layer, state, "DecoderLayer")
    harness.in_float64(layer, "DecoderLayer").to(device)
    layer.eval()
    return layer


@given(case=layer_inputs())
def test_decoder_layer_is_causal(layers, device, case):
    # float64: outputs computed from two different inputs must agree to rounding.
    d, length = case.target.shape[-1], case.target.shape[1]
    state = layer_state(d, case.d_ff, case.seed, ("self_attn", "cross_attn"), 3)
    layer = decoder_in_float64(layers, device, case, state)
    x, memory = case.target.double(), case.source.double()
    causal = causal_mask(length).to(device)[None, None]
    before = harness.expect_close(
        layer(x.to(device), memory.to(device), None, causal),
        decoder_reference(case, state, x, memory, causal=True, padded=False),
        "DecoderLayer(x, memory, tgt_mask=causal) in float64",
        reference="torch.nn.TransformerDecoderLayer(norm_first=True) with a causal mask",
    )
    t = length // 2
    later = strategies.random_tensor((x.shape[0], length - t - 1, d), case.seed).double()
    changed = torch.cat((x[:, : t + 1], later), dim=1)
    after = harness.expect_shape(
        layer(changed.to(device), memory.to(device), None, causal), before.shape, "output"
    )
    harness.expect_close(
        after[:, : t + 1],
        before[:, : t + 1],
        f"decoder outputs at 0..{t} after changing later targets",
        reference="the outputs before the change",
    )


@given(case=layer_inputs())
def test_decoder_reads_memory_only_through_cross_attention(layers, device, case):
    d = case.target.shape[-1]
    state = layer_state(d, case.d_ff, case.seed, ("self_attn", "cross_attn"), 3)
    state["cross_attn.w_o.weight"] = torch.zeros(d, d)
    state["cross_attn.w_o.bias"] = torch.zeros(d)
    layer = decoder_in_float64(layers, device, case, state)
    x, memory = case.target.double(), case.source.double()
    first = harness.expect_close(
        layer(x.to(device), memory.to(device)),
        decoder_reference(case, state, x, memory, causal=False, padded=False),
        "DecoderLayer(x, memory) with cross_attn.w_o zeroed, in float64",
        reference="torch.nn.TransformerDecoderLayer(norm_first=True) with the same weights",
    )
    other = strategies.random_tensor(tuple(memory.shape), case.seed).double() * 3
    harness.expect_close(
        layer(x.to(device), other.to(device)),
        first,
        "the output with another memory",
        reference="the same output (the memory must only enter via cross_attn)",
    )


@given(
    shape=st.sampled_from([(), (2,), (2, 1, 3)]),
    d_model=strategies.dims(4, 9),
    seed=strategies.SEEDS,
)
def test_layer_norm_any_leading_shape_float64(layers, device, shape, d_model, seed):
    x = strategies.random_tensor((*shape, d_model), seed).double() * 5 + 2
    weights = {
        "weight": strategies.random_tensor((d_model,), seed + 1).double(),
        "bias": strategies.random_tensor((d_model,), seed + 2).double(),
    }
    ours = layers.LayerNorm(d_model)
    harness.load_weights(ours, weights, "LayerNorm")
    ours.to(device, torch.float64)
    expected = torch.nn.functional.layer_norm(x, (d_model,), weights["weight"], weights["bias"])
    harness.expect_close(
        ours(x.to(device)),
        expected,
        f"LayerNorm({d_model}) on a float64 input of shape {(*shape, d_model)}",
        reference="torch.nn.functional.layer_norm over the last dimension",
    )


@given(case=layer_inputs())
def test_encoder_layer_relu_float64(layers, device, case):
    x, d = case.source.double(), case.source.shape[-1]
    ours = layers.EncoderLayer(d, case.heads, case.d_ff, activation="relu", eps=case.eps)
    state = layer_state(d, case.d_ff, case.seed, ("self_attn",), 2)
    harness.load_weights(ours, state, "EncoderLayer")
    ours.to(device, torch.float64)
    ours.eval()
    reference = torch_encoder_layer(d, case.heads, case.d_ff, state, "relu", case.eps)
    real = case.source_mask("cpu")
    with torch.no_grad():
        expected = reference(x, src_key_padding_mask=~real)
    harness.expect_close(
        ours(x.to(device), real.to(device)[:, None, None, :]),
        expected,
        f"EncoderLayer(x, padding mask) with ReLU and eps={case.eps:g} in float64",
        atol=1e-9,
        rtol=1e-7,
        reference="torch.nn.TransformerEncoderLayer(activation='relu', norm_first=True)",
    )


def half_dtypes(device: str) -> list[torch.dtype]:
    """bfloat16 everywhere; float16 only on CUDA (CPU float16 kernels are patchy)."""
    return [torch.float16, torch.bfloat16] if device.startswith("cuda") else [torch.bfloat16]


@given(case=layer_inputs(), seed=strategies.SEEDS)
def test_encoder_layer_runs_in_half_precision(layers, device, case, seed):
    # d_model 16: with only a few features, a half-precision LayerNorm is too noisy for any
    # tolerance to separate rounding from mistakes.
    x = strategies.random_tensor((case.source.shape[0], case.source.shape[1], 16), seed)
    state = layer_state(16, 32, case.seed, ("self_attn",), 2)
    layer = layers.EncoderLayer(16, 2, 32)
    harness.load_weights(layer, state, "EncoderLayer")
    layer.to(device)
    layer.eval()
    real = case.source_mask(device)[:, None, None, :]
    with torch.no_grad():
        reference = torch_encoder_layer(16, 2, 32, state)(
            x.double(), src_key_padding_mask=~case.source_mask("cpu")
        )
    expected = harness.expect_close(
        layer(x.to(device), real),
        reference,
        "EncoderLayer(x, padding mask) in float32",
        atol=1e-4,
        rtol=1e-3,
        reference="torch.nn.TransformerEncoderLayer(norm_first=True) in float64",
    ).float()
    for dtype in half_dtypes(device):
        layer.to(dtype)
        output = harness.expect_finite(layer(x.to(device, dtype), real), f"EncoderLayer in {dtype}")
        harness.expect(output.dtype == dtype, f"EncoderLayer in {dtype} returned {output.dtype}")
        # Rounding noise scales with the largest output: the reference's worst case over 300
        # bfloat16 cases was 4.5% of it (median 1%).
        harness.expect_close(
            output.float(),
            expected,
            f"EncoderLayer cast to {dtype}",
            atol=0.1 * float(expected.abs().max()),
            rtol=0,
            reference="the same layer in float32",
        )
        layer.to(torch.float32)


# What each attention's values are when it is the sublayer under test: positive, distinct.
VALUE = 0.5 + torch.arange(8, dtype=torch.float64) / 8


def one_site_state(attentions: tuple[str, ...], site: str) -> dict[str, torch.Tensor]:
    """Weights of a layer (d_model 8, d_ff 8) in which only ``site`` adds to the residual.

    An attention under test outputs ``VALUE`` whatever it attends to (zero value weights,
    bias ``VALUE``, identity output projection); the feed-forward under test outputs
    ``gelu(y + 3)`` for its normalised input y (identity linears, bias 3). Every other
    sublayer has a zero output projection.
    """
    eye, zero = torch.eye(8), torch.zeros(8, 8)
    state = {}
    for name in attentions:
        for projection in ("w_q", "w_k", "w_v", "w_o"):
            state[f"{name}.{projection}.weight"] = zero
            state[f"{name}.{projection}.bias"] = torch.zeros(8)
        state[f"{name}.w_v.bias"] = VALUE.float()
        state[f"{name}.w_o.weight"] = eye if name == site else zero
    state["feed_forward.linear1.weight"] = eye
    state["feed_forward.linear1.bias"] = torch.full((8,), 3.0)
    state["feed_forward.linear2.weight"] = eye if site == "feed_forward" else zero
    state["feed_forward.linear2.bias"] = torch.zeros(8)
    for i in range(1, len(attentions) + 2):
        state[f"sublayer{i}.norm.weight"] = torch.ones(8)
        state[f"sublayer{i}.norm.bias"] = torch.zeros(8)
    return state


@given(seed=strategies.SEEDS)
def test_layers_apply_dropout_at_every_site(layers, device, seed):
    # One position (and one memory position): each attention weight is 1, so dropout inside
    # an attention scales its whole head by 0 or 2, and the sublayer's own dropout scales
    # each entry by 0 or 2. A sublayer's contribution is then 0 or 4x its eval-mode value.
    x = strategies.random_tensor((64, 1, 8), seed).double()
    memory = strategies.random_tensor((64, 1, 8), seed + 1).double()
    normed = torch.nn.functional.layer_norm(x, (8,))
    for kind, attentions in (("Encoder", ("self_attn",)), ("Decoder", ("self_attn", "cross_attn"))):
        for site in (*attentions, "feed_forward"):
            layer = getattr(layers, f"{kind}Layer")(8, 2, 8, dropout=0.5, activation="gelu")
            harness.load_weights(layer, one_site_state(attentions, site), f"{kind}Layer")
            harness.in_float64(layer, f"{kind}Layer").to(device)
            inputs = (x.to(device),) if kind == "Encoder" else (x.to(device), memory.to(device))
            added = torch.nn.functional.gelu(normed + 3) if site == "feed_forward" else VALUE
            layer.eval()
            harness.expect_close(
                layer(*inputs),
                x + added,
                f"{kind}Layer(dropout=0.5) in eval mode, with weights through which only "
                f"{site} adds anything",
                reference=f"x + the output of {site} (no dropout in eval mode)",
            )
            layer.train()
            output = harness.tensor(layer(*inputs), f"{kind}Layer in train mode")
            change = harness.expect_shape(output, x.shape, f"{kind}Layer in train mode").cpu()
            change = change.double() - x
            dropped = change.abs() < 1e-9
            kept = torch.isclose(change, 4 * added.expand_as(change), atol=1e-9, rtol=1e-7)
            inside = "on its attention weights" if site != "feed_forward" else "between its linears"
            harness.expect(
                bool((dropped | kept).all()),
                f"in train mode with dropout=0.5, what {kind}Layer's {site} sublayer adds to x "
                f"should be 0 or 4 times its eval-mode value: dropout {inside} and dropout on "
                "the sublayer's output each keep with a factor 2. Is dropout passed to every "
                "submodule?",
            )
            share = float(dropped.double().mean())
            harness.expect(
                0.5 < share < 0.95,
                f"in train mode with dropout=0.5, {share:.0%} of what {kind}Layer's {site} "
                "sublayer adds was dropped, expected about 75% (dropped inside or after it)",
            )
