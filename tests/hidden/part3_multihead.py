"""Part 3 hidden checks."""

import pytest
from hypothesis import given

from tests import harness, reference, strategies
from tests.checks.part3_multihead import mha_inputs, torch_twin

pytestmark = pytest.mark.part3


@given(inputs=mha_inputs(cross=True), seed=strategies.SEEDS)
def test_multihead_gradients_match_torch(multihead, device, inputs, seed):
    query, memory, heads, _ = inputs
    d_model = query.shape[-1]
    layer = multihead.MultiHeadAttention(d_model, heads)
    twin = torch_twin(layer, d_model, heads, device)
    layer.to(device)
    upstream = strategies.random_tensor(tuple(query.shape), seed).to(device)
    grads = []
    for module in (layer, twin):
        q = query.clone().to(device).requires_grad_(True)
        m = memory.clone().to(device).requires_grad_(True)
        out = module(q, m, m) if module is layer else module(q, m, m, need_weights=False)[0]
        harness.differentiable(out, "the multi-head attention output").backward(upstream)
        grads.append((q.grad, m.grad))
    harness.expect_close(grads[0][0], grads[1][0], "the gradient of the query", reference="torch's")
    harness.expect_close(
        grads[0][1], grads[1][1], "the gradient of the key/value input", reference="torch's"
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
    project = {
        n: x @ state[f"{n}.weight"].to(device).T + state[f"{n}.bias"].to(device)
        for n in ("w_q", "w_k", "w_v")
    }
    heads, _ = reference.attention(project["w_q"], project["w_k"], project["w_v"])
    expected = heads @ state["w_o.weight"].to(device).T + state["w_o.bias"].to(device)
    harness.expect_close(
        layer(x, x, x),
        expected,
        "one-head attention",
        reference="w_o(attention(w_q x, w_k x, w_v x))",
    )
