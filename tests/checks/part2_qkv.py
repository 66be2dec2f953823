"""Part 2 checks: scaled dot-product attention and single-head self-attention."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, reference, strategies

pytestmark = pytest.mark.part2


def diagnose(case: strategies.AttentionCase, weights: torch.Tensor) -> str:
    """Name the classic mistake that ``weights`` match, if any."""
    q, k, mask = case.query.double(), case.key.double(), case.mask
    scores = q @ k.transpose(-2, -1)
    scaled = scores / math.sqrt(q.shape[-1])
    candidates = [
        ("the scores are not divided by sqrt(d_k)", scores, -1, mask),
        ("the scores are divided by d_k instead of sqrt(d_k)", scores / q.shape[-1], -1, mask),
        (
            "the softmax runs over the queries (dim -2) instead of the keys (dim -1)",
            scaled,
            -2,
            mask,
        ),
    ]
    if mask is not None:
        candidates += [
            ("the mask is inverted (True must mean 'may attend')", scaled, -1, ~mask),
            ("the mask is ignored", scaled, -1, None),
        ]
    for mistake, guess_scores, dim, guess_mask in candidates:
        if guess_mask is not None:
            guess_scores = guess_scores.masked_fill(~guess_mask, float("-inf"))
        guess = torch.softmax(guess_scores, dim=dim).nan_to_num(0.0)
        if guess.shape == weights.shape and torch.allclose(guess, weights.double(), atol=1e-5):
            return f"\nIt looks like {mistake}."
    return ""


def reference_in_float64(case: strategies.AttentionCase):
    """torch's attention output and weights for ``case``, computed in float64."""
    case = case.on(case.query.device, torch.float64)
    return reference.attention(case.query, case.key, case.value, case.mask)


def call_attention(qkv, case: strategies.AttentionCase, **kwargs):
    result = qkv.scaled_dot_product_attention(case.query, case.key, case.value, case.mask, **kwargs)
    return harness.pair(result, "scaled_dot_product_attention")


@given(case=strategies.attention_cases(allow_empty_rows=False))
def test_attention_matches_torch(qkv, device, case):
    case = case.on(device)
    output, weights = call_attention(qkv, case)
    expected_output, expected_weights = reference_in_float64(case)
    weights = harness.expect_shape(weights, expected_weights.shape, "the attention weights")
    try:
        harness.expect_close(
            weights,
            expected_weights,
            "the attention weights",
            reference="softmax(Q K^T / sqrt(d_k)) of torch",
        )
    except harness.CheckFailure as failure:
        raise harness.CheckFailure(str(failure) + diagnose(case.on("cpu"), weights.cpu())) from None
    harness.expect_close(
        output,
        expected_output,
        "the attention output",
        reference="torch.nn.functional.scaled_dot_product_attention",
    )


@given(case=strategies.attention_cases(scale=3.0))
def test_attention_weights_rows_sum_to_one(qkv, device, case):
    case = case.on(device)
    _, weights = call_attention(qkv, case)
    weights = harness.expect_shape(weights, case.scores_shape, "the attention weights")
    harness.expect_finite(
        weights, "the attention weights (a query whose keys are all masked must not give NaN)"
    )
    harness.expect(bool((weights >= 0).all()), "the attention weights have negative entries")
    empty = reference.empty_rows(case.mask, case.scores_shape).to(weights.device)
    harness.expect_rows_sum_to(weights, (~empty).squeeze(-1).double(), "the attention weights")


@given(case=strategies.attention_cases(masked=True, allow_empty_rows=True))
def test_fully_masked_rows_are_zero(qkv, device, case):
    case = case.on(device)
    query = case.query.clone().requires_grad_(True)
    key = case.key.clone().requires_grad_(True)
    value = case.value.clone().requires_grad_(True)
    output, weights = harness.pair(
        qkv.scaled_dot_product_attention(query, key, value, case.mask),
        "scaled_dot_product_attention",
    )
    expected_output, expected_weights = reference_in_float64(case)
    harness.expect_finite(weights, "the attention weights (a query with every key masked)")
    harness.expect_finite(output, "the attention output (a query with every key masked)")
    harness.expect_close(
        weights,
        expected_weights,
        "the attention weights",
        reference="the reference (zero weights where every key is masked)",
    )
    harness.expect_close(
        output,
        expected_output,
        "the attention output",
        reference="the reference (a zero output where every key is masked)",
    )
    output.sum().backward()
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        if tensor.grad is not None:
            harness.expect_finite(tensor.grad, f"the gradient of the {name}")


@given(case=strategies.attention_cases(allow_empty_rows=False), seed=strategies.SEEDS)
def test_attention_gradients_match_torch(qkv, device, case, seed):
    case = case.on(device)
    upstream = strategies.random_tensor((*case.query.shape[:-1], case.value.shape[-1]), seed)
    upstream = upstream.to(device)
    grads = []
    for compute in ("student", "reference"):
        inputs = [t.clone().requires_grad_(True) for t in (case.query, case.key, case.value)]
        if compute == "reference":
            # torch's gradient in float64, from the same inputs and upstream gradient.
            inputs = [t.detach().double().requires_grad_(True) for t in inputs]
            upstream = upstream.double()
        if compute == "student":
            output, _ = harness.pair(
                qkv.scaled_dot_product_attention(*inputs, case.mask), "scaled_dot_product_attention"
            )
        else:
            output, _ = reference.attention(*inputs, case.mask)
        output = harness.differentiable(output, "the attention output")
        output.backward(upstream)
        grads.append([t.grad for t in inputs])
    for name, got, expected in zip(("query", "key", "value"), grads[0], grads[1], strict=True):
        if got is None:
            harness.fail(f"the output does not depend on the {name}")
        harness.expect_close(
            got, expected, f"the gradient of the {name}", reference="torch's gradient"
        )


@given(
    case=strategies.attention_cases(allow_empty_rows=False),
    dropout_p=st.sampled_from([0.25, 0.5]),
)
def test_attention_dropout(qkv, device, case, dropout_p):
    case = case.on(device)
    output, weights = call_attention(qkv, case, dropout_p=1.0)
    harness.expect_close(
        output,
        torch.zeros(*case.scores_shape[:-1], case.value.shape[-1]),
        "the output with dropout_p=1.0",
        reference="zero (every weight dropped)",
    )
    harness.expect_rows_sum_to(
        weights,
        1.0,
        "the returned weights with dropout_p=1.0 (they are the softmax before dropout)",
    )
    output_zero, _ = call_attention(qkv, case, dropout_p=0.0)
    expected, expected_weights = reference_in_float64(case)
    harness.expect_close(output_zero, expected, "the output with dropout_p=0.0")
    expect_dropped_weights(qkv, case.on(device, torch.float64), expected_weights, dropout_p)


def expect_dropped_weights(qkv, case, expected_weights, dropout_p):
    """With values ``[I | V]`` the first L_k output columns are the dropped-out weights."""
    length = case.key.shape[-2]
    eye = torch.eye(length, dtype=case.value.dtype, device=case.value.device)
    values = torch.cat([eye.expand(*case.value.shape[:-1], length), case.value], -1)
    output, _ = harness.pair(
        qkv.scaled_dot_product_attention(case.query, case.key, values, case.mask, dropout_p),
        "scaled_dot_product_attention",
    )
    what = f"the output with dropout_p={dropout_p} and values [identity | V]"
    output = harness.expect_shape(output, (*case.scores_shape[:-1], values.shape[-1]), what)
    output = output.cpu()
    dropped, mixed = output[..., :length].double(), output[..., length:]
    atol, rtol = harness.TOLERANCES.get(output.dtype, harness.TOLERANCES[torch.float32])
    kept = expected_weights.cpu() / (1 - dropout_p)
    wrong = ~((dropped.abs() <= atol) | ((dropped - kept).abs() <= atol + rtol * kept.abs()))
    if wrong.any():
        index = tuple(int(i) for i in wrong.nonzero()[0])
        got, weight = dropped[index].item(), expected_weights.cpu()[index].item()
        hint = ""
        if abs(got - weight) <= atol + rtol * abs(weight):
            hint = (
                " It looks like the kept weights are not rescaled by 1 / (1 - dropout_p)"
                " (torch.nn.functional.dropout does it)."
            )
        harness.fail(
            f"{what}: the weight at index {index} came out as {got:.6g}; it should be 0 "
            f"(dropped) or {weight:.6g} / (1 - {dropout_p}) = {kept[index].item():.6g} (kept "
            f"and rescaled). Dropout acts on the softmax weights, after the softmax.{hint}"
        )
    harness.expect_close(
        mixed,
        dropped @ case.value.cpu().double(),
        f"the output with dropout_p={dropout_p}",
        reference="the same dropped-out weights applied to the values (dropout acts once, on "
        "the weights, not on the output)",
    )


@st.composite
def projection_weights(draw, embed_dim: int):
    """Weights and biases of SelfAttention's q, k and v."""
    return {
        f"{name}.{kind}": draw(
            strategies.tensors(
                (embed_dim, embed_dim) if kind == "weight" else (embed_dim,), scale=0.5
            )
        )
        for name in "qkv"
        for kind in ("weight", "bias")
    }


def projected(x: torch.Tensor, weights) -> dict[str, torch.Tensor]:
    """q(x), k(x), v(x) computed in float64 with the given weights."""
    x = x.double()
    return {
        name: x @ weights[f"{name}.weight"].to(x.device).double().T
        + weights[f"{name}.bias"].to(x.device).double()
        for name in "qkv"
    }


@st.composite
def self_attention_inputs(draw):
    embed_dim = draw(strategies.dims(1, 8))
    x = draw(strategies.sequences(d_model=embed_dim))
    weights = draw(projection_weights(embed_dim))
    causal = draw(st.booleans())
    return embed_dim, x, weights, causal


@given(inputs=self_attention_inputs())
def test_self_attention_projections(qkv, device, inputs):
    embed_dim, x, weights, causal = inputs
    layer = qkv.SelfAttention(embed_dim)
    shapes = harness.parameter_shapes(layer)
    for name, value in weights.items():
        harness.expect(
            shapes.get(name) == tuple(value.shape),
            f"SelfAttention({embed_dim}) should have a parameter {name} of shape "
            f"{tuple(value.shape)} (nn.Linear members q, k, v), got {shapes.get(name)}",
        )
    harness.load_weights(layer, weights, "SelfAttention")
    layer.to(device)
    x = x.to(device)
    mask = (
        torch.ones(x.shape[1], x.shape[1], dtype=torch.bool, device=device).tril()[None]
        if causal
        else None
    )
    output, attention = harness.pair(layer(x, mask), "SelfAttention.forward")
    project = projected(x, weights)
    expected_output, expected_weights = reference.attention(
        project["q"], project["k"], project["v"], mask
    )
    swapped = reference.attention(project["k"], project["q"], project["v"], mask)[1]
    attention = harness.expect_shape(attention, expected_weights.shape, "the attention weights")
    as_double = attention.double()
    if not torch.allclose(as_double, expected_weights, atol=1e-5) and torch.allclose(
        as_double, swapped, atol=1e-5
    ):
        harness.fail("the queries and keys have swapped roles: scores must be q(x) @ k(x)^T")
    harness.expect_close(
        attention,
        expected_weights,
        "the attention weights",
        reference="softmax(q(x) k(x)^T / sqrt(embed_dim))",
    )
    harness.expect_close(output, expected_output, "the output", reference="weights @ v(x)")


# Half precision: compared with the float32 reference, within these tolerances.
HALF_TOLERANCES = {torch.float16: 1e-2, torch.bfloat16: 6e-2}


@given(
    case=strategies.attention_cases(masked=True, allow_empty_rows=True),
    dtype=st.sampled_from(sorted(HALF_TOLERANCES, key=str)),
)
def test_attention_half_precision(qkv, device, case, dtype):
    expected_output, expected_weights = reference.attention(
        case.query, case.key, case.value, case.mask
    )
    output, weights = call_attention(qkv, case.on(device, dtype))
    what = f"the {str(dtype).removeprefix('torch.')} attention"
    output = harness.expect_finite(output, f"{what} output (a fully masked row must not be NaN)")
    harness.expect(output.dtype == dtype, f"{what} output has dtype {output.dtype}")
    tolerance = HALF_TOLERANCES[dtype]
    weights = harness.tensor(weights, f"{what} weights")
    harness.expect_close(
        weights.float(),
        expected_weights,
        f"{what} weights",
        atol=tolerance,
        rtol=tolerance,
        reference="the float32 reference",
    )
    harness.expect_close(
        output.float(),
        expected_output,
        f"{what} output",
        atol=tolerance,
        rtol=tolerance,
        reference="the float32 reference",
    )
