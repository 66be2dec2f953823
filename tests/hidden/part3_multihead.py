"""Part 3 hidden checks."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, reference, strategies
from tests.checks.part3_multihead import compare_with_torch, mha_inputs, torch_twin

pytestmark = pytest.mark.part3


@given(inputs=mha_inputs(cross=True), seed=strategies.SEEDS)
def test_multihead_gradients_match_torch(multihead, device, inputs, seed):
    query, key, value, heads, _ = inputs
    d_model = query.shape[-1]
    layer = multihead.MultiHeadAttention(d_model, heads)
    twin = torch_twin(layer, d_model, heads, device)
    layer.to(device)
    upstream = strategies.random_tensor(tuple(query.shape), seed).to(device)
    grads = []
    for module in (layer, twin):
        # torch's twin computes in float64 (the rounding rule).
        dtype = torch.float32 if module is layer else torch.float64
        q, k, v = (t.clone().to(device, dtype).requires_grad_(True) for t in (query, key, value))
        out = module(q, k, v) if module is layer else module(q, k, v, need_weights=False)[0]
        out = harness.differentiable(out, "the multi-head attention output")
        out.backward(upstream.to(dtype))
        grads.append((q.grad, k.grad, v.grad))
    for index, name in enumerate(("query", "key", "value")):
        harness.expect_close(
            grads[0][index], grads[1][index], f"the gradient of the {name}", reference="torch's"
        )
    expected = twin.in_proj_weight.grad[:d_model]
    harness.expect_close(
        layer.w_q.weight.grad, expected, "the gradient of w_q.weight", reference="torch's"
    )
    harness.expect_close(
        layer.w_o.weight.grad,
        twin.out_proj.weight.grad,
        "the gradient of w_o.weight",
        reference="torch's",
    )


@given(x=strategies.sequences(d_model=4))
def test_multihead_single_head_is_self_attention(multihead, device, x):
    layer = multihead.MultiHeadAttention(4, 1)
    state = {
        f"{n}.{k}": strategies.random_tensor((4, 4) if k == "weight" else (4,), seed=i)
        for i, (n, k) in enumerate(
            (n, k) for n in ("w_q", "w_k", "w_v", "w_o") for k in ("weight", "bias")
        )
    }
    harness.load_weights(layer, state, "MultiHeadAttention")
    layer.to(device)
    x = x.to(device)
    # The reference in float64 (the rounding rule).
    x64 = x.double()
    weights = {name: value.to(device, torch.float64) for name, value in state.items()}
    project = {
        n: x64 @ weights[f"{n}.weight"].T + weights[f"{n}.bias"] for n in ("w_q", "w_k", "w_v")
    }
    heads, _ = reference.attention(project["w_q"], project["w_k"], project["w_v"])
    expected = heads @ weights["w_o.weight"].T + weights["w_o.bias"]
    harness.expect_close(
        layer(x, x, x),
        expected,
        "one-head attention",
        reference="w_o(attention(w_q x, w_k x, w_v x))",
    )


@given(inputs=mha_inputs(cross=True), dropout=st.sampled_from([0.1, 0.5]))
def test_multihead_dropout_only_in_training(multihead, device, inputs, dropout):
    query, key, value, heads, _ = inputs
    # In eval mode dropout is off: torch's result, whatever the dropout.
    compare_with_torch(multihead, device, *inputs, dropout=dropout)
    # In training mode with dropout=1.0 every attention weight is dropped: each head outputs
    # zeros, so the output is w_o's bias at every position.
    d_model = query.shape[-1]
    layer = multihead.MultiHeadAttention(d_model, heads, dropout=1.0)
    bias = strategies.random_tensor((d_model,), seed=d_model, scale=0.5)
    harness.load_weights(layer, {"w_o.bias": bias}, "MultiHeadAttention")
    layer.to(device)
    layer.train()
    output = layer(query.to(device), key.to(device), value.to(device))
    harness.expect_close(
        output,
        bias.expand(*query.shape[:-1], d_model),
        "the output in training mode with dropout=1.0",
        reference="w_o.bias at every position (every attention weight dropped, so every head "
        "outputs zeros; is the dropout passed on to the attention in training mode?)",
    )
