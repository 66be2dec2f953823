"""Part 6 hidden checks."""

import pytest
import torch
from hypothesis import given

from tests import harness, strategies
from tests.checks.part6_layers import layer_inputs

pytestmark = pytest.mark.part6


@given(inputs=layer_inputs())
def test_decoder_layer_is_causal(layers, device, inputs):
    x, memory, heads, d_ff, _, seed, _ = inputs
    layer = layers.DecoderLayer(x.shape[-1], heads, d_ff).to(device)
    layer.eval()
    length = x.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=device).tril()[None, None]
    x, memory = x.to(device), memory.to(device)
    before = harness.tensor(layer(x, memory, None, causal), "DecoderLayer output")
    t = length // 2
    changed = x.clone()
    changed[:, t + 1 :] = strategies.random_tensor(tuple(changed[:, t + 1 :].shape), seed).to(
        device
    )
    after = harness.expect_shape(layer(changed, memory, None, causal), before.shape, "output")
    harness.expect_close(
        after[:, : t + 1],
        before[:, : t + 1],
        f"decoder outputs at 0..{t} after changing later targets",
        reference="the outputs before the change",
    )


@given(inputs=layer_inputs())
def test_decoder_reads_memory_only_through_cross_attention(layers, device, inputs):
    x, memory, heads, d_ff, _, seed, _ = inputs
    d = x.shape[-1]
    layer = layers.DecoderLayer(d, heads, d_ff)
    harness.load_weights(
        layer,
        {"cross_attn.w_o.weight": torch.zeros(d, d), "cross_attn.w_o.bias": torch.zeros(d)},
        "DecoderLayer",
    )
    layer.to(device)
    layer.eval()
    x, memory = x.to(device), memory.to(device)
    first = harness.tensor(layer(x, memory), "DecoderLayer output")
    other = strategies.random_tensor(tuple(memory.shape), seed).to(device) * 3
    harness.expect_close(
        layer(x, other),
        first,
        "the output with another memory",
        reference="the same output (the memory must only enter via cross_attn)",
    )
