"""Part 2 hidden checks."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, reference, strategies
from tests.checks.part2_qkv import (
    call_attention,
    projected,
    projection_weights,
    reference_in_float64,
)

pytestmark = pytest.mark.part2


@given(case=strategies.attention_cases(allow_empty_rows=False, scale=30.0))
def test_attention_large_scores_stable(qkv, device, case):
    case = case.on(device)
    output, weights = call_attention(qkv, case)
    expected_output, expected_weights = reference_in_float64(case)
    harness.expect_finite(weights, "the attention weights for large scores")
    harness.expect_close(
        weights, expected_weights, "the attention weights for large scores", atol=1e-4, rtol=1e-3
    )
    harness.expect_close(
        output, expected_output, "the output for large scores", atol=1e-4, rtol=1e-3
    )


@given(case=strategies.attention_cases(allow_empty_rows=False))
def test_attention_float64(qkv, device, case):
    case = case.on(device, torch.float64)
    output, weights = call_attention(qkv, case)
    output = harness.tensor(output, "the output")
    harness.expect(output.dtype == torch.float64, f"float64 inputs gave a {output.dtype} output")
    expected_output, expected_weights = reference.attention(
        case.query, case.key, case.value, case.mask
    )
    harness.expect_close(weights, expected_weights, "the float64 attention weights")
    harness.expect_close(output, expected_output, "the float64 output")


@st.composite
def batches_with_weights(draw):
    """A batch of at least two sequences ``(B, T, 4)`` and weights for q, k and v."""
    shape = (draw(strategies.dims(2, 3)), draw(strategies.dims(1, 6)), 4)
    return draw(strategies.tensors(shape)), draw(projection_weights(4))


@given(inputs=batches_with_weights(), seed=strategies.SEEDS)
def test_self_attention_batch_rows_independent(qkv, device, inputs, seed):
    x, weights = inputs
    layer = qkv.SelfAttention(4)
    harness.load_weights(layer, weights, "SelfAttention")
    # Two results of the student's code are compared: in float64, so rounding cannot differ.
    harness.in_float64(layer, "SelfAttention")
    layer.to(device)
    layer.eval()
    x = x.to(device, torch.float64)
    project = projected(x, weights)
    expected, _ = reference.attention(project["q"], project["k"], project["v"])
    output, _ = harness.pair(layer(x), "SelfAttention.forward")
    output = harness.expect_close(
        output,
        expected,
        "the output",
        reference="softmax(q(x) k(x)^T / sqrt(embed_dim)) v(x), each sequence on its own",
    )
    changed = x.clone()
    changed[1:] = strategies.random_tensor(tuple(changed[1:].shape), seed).to(device)
    output_changed, _ = harness.pair(layer(changed), "SelfAttention.forward")
    output_changed = harness.expect_shape(output_changed, output.shape, "the output")
    harness.expect_close(
        output_changed[:1],
        output[:1],
        "the first sequence's output after changing the other sequences of the batch",
        reference="the same output (sequences of a batch must not see each other)",
    )
