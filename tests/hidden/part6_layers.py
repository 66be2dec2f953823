"""Part 6 hidden checks: causality, memory only via cross-attention, other shapes and dtypes."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies
from tests.checks.part6_layers import layer_inputs, layer_state, torch_encoder_layer

pytestmark = pytest.mark.part6


@given(case=layer_inputs())
def test_decoder_layer_is_causal(layers, device, case):
    x, memory = case.target.to(device), case.source.to(device)
    layer = layers.DecoderLayer(x.shape[-1], case.heads, case.d_ff).to(device)
    layer.eval()
    length = x.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=device).tril()[None, None]
    before = harness.tensor(layer(x, memory, None, causal), "DecoderLayer output")
    t = length // 2
    later = strategies.random_tensor((x.shape[0], length - t - 1, x.shape[2]), case.seed)
    changed = torch.cat((x[:, : t + 1], later.to(device)), dim=1)
    after = harness.expect_shape(layer(changed, memory, None, causal), before.shape, "output")
    harness.expect_close(
        after[:, : t + 1],
        before[:, : t + 1],
        f"decoder outputs at 0..{t} after changing later targets",
        reference="the outputs before the change",
    )


@given(case=layer_inputs())
def test_decoder_reads_memory_only_through_cross_attention(layers, device, case):
    x, memory = case.target.to(device), case.source.to(device)
    d = x.shape[-1]
    layer = layers.DecoderLayer(d, case.heads, case.d_ff)
    harness.load_weights(
        layer,
        {"cross_attn.w_o.weight": torch.zeros(d, d), "cross_attn.w_o.bias": torch.zeros(d)},
        "DecoderLayer",
    )
    layer.to(device)
    layer.eval()
    first = harness.tensor(layer(x, memory), "DecoderLayer output")
    other = strategies.random_tensor(tuple(memory.shape), case.seed).to(device) * 3
    harness.expect_close(
        layer(x, other),
        first,
        "the output with another memory",
        reference="the same output (the memory must only enter via cross_attn)",
    )


@given(
    shape=st.sampled_from([(), (2,), (2, 1, 3)]),
    d_model=strategies.dims(1, 7),
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
    ours = layers.EncoderLayer(d, case.heads, case.d_ff, activation="relu")
    state = layer_state(d, case.d_ff, case.seed, ("self_attn",), 2)
    harness.load_weights(ours, state, "EncoderLayer")
    ours.to(device, torch.float64)
    ours.eval()
    reference = torch_encoder_layer(d, case.heads, case.d_ff, state, "relu").to(
        device, torch.float64
    )
    real = case.source_mask(device)
    x = x.to(device)
    with torch.no_grad():
        expected = reference(x, src_key_padding_mask=~real)
    harness.expect_close(
        ours(x, real[:, None, None, :]),
        expected,
        "EncoderLayer(x, padding mask) with ReLU in float64",
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
    layer = layers.EncoderLayer(16, 2, 32)
    harness.load_weights(layer, layer_state(16, 32, case.seed, ("self_attn",), 2), "EncoderLayer")
    layer.to(device)
    layer.eval()
    real = case.source_mask(device)[:, None, None, :]
    x = x.to(device)
    expected = harness.tensor(layer(x, real), "the float32 EncoderLayer output")
    for dtype in half_dtypes(device):
        layer.to(dtype)
        output = harness.expect_finite(layer(x.to(dtype), real), f"EncoderLayer in {dtype}")
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
