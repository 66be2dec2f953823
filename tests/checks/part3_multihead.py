"""Part 3 checks: splitting and merging heads, multi-head attention against torch."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies

pytestmark = pytest.mark.part3


@st.composite
def head_inputs(draw):
    """x (B, T, h * d_k) and h."""
    heads, d_k = draw(strategies.dims(1, 4)), draw(strategies.dims(1, 4))
    return draw(strategies.sequences(d_model=heads * d_k)), heads


@given(inputs=head_inputs())
def test_split_heads_puts_block_i_in_head_i(multihead, device, inputs):
    x, heads = inputs
    x = x.to(device)
    batch, length, d_model = x.shape
    d_k = d_model // heads
    result = harness.expect_shape(
        multihead.split_heads(x, heads),
        (batch, heads, length, d_k),
        f"split_heads(x of shape {tuple(x.shape)}, {heads})",
    )
    for head in range(heads):
        harness.expect_close(
            result[:, head],
            x[:, :, head * d_k : (head + 1) * d_k],
            f"head {head} of split_heads",
            reference=f"features {head * d_k}..{(head + 1) * d_k - 1} of x (did you transpose "
            f"after the view, rather than viewing as (B, h, T, d_k) directly?)",
        )


@given(inputs=head_inputs())
def test_merge_heads_concatenates_heads(multihead, device, inputs):
    x, heads = inputs
    batch, length, d_model = x.shape
    d_k = d_model // heads
    per_head = x.reshape(batch, length, heads, d_k).permute(0, 2, 1, 3).contiguous().to(device)
    result = harness.expect_shape(
        multihead.merge_heads(per_head),
        (batch, length, d_model),
        f"merge_heads(x of shape {tuple(per_head.shape)})",
    )
    for head in range(heads):
        harness.expect_close(
            result[:, :, head * d_k : (head + 1) * d_k],
            per_head[:, head],
            f"features {head * d_k}..{(head + 1) * d_k - 1} of merge_heads",
            reference=f"head {head}",
        )


@given(inputs=head_inputs())
def test_split_merge_round_trip(multihead, device, inputs):
    x, heads = inputs
    x = x.to(device)
    harness.expect_close(
        multihead.merge_heads(multihead.split_heads(x, heads)),
        x,
        "merge_heads(split_heads(x, h))",
        reference="x",
    )


def torch_twin(layer, d_model: int, heads: int, device: str) -> torch.nn.MultiheadAttention:
    """nn.MultiheadAttention with the weights of the student's layer (set from fresh values)."""
    twin = torch.nn.MultiheadAttention(d_model, heads, batch_first=True).to(device).eval()
    state = {
        f"{name}.{kind}": strategies.random_tensor(
            (d_model, d_model) if kind == "weight" else (d_model,), seed=i, scale=0.5
        )
        for i, (name, kind) in enumerate(
            (n, k) for n in ("w_q", "w_k", "w_v", "w_o") for k in ("weight", "bias")
        )
    }
    shapes = harness.parameter_shapes(layer)
    for name, value in state.items():
        harness.expect(
            shapes.get(name) == tuple(value.shape),
            f"MultiHeadAttention({d_model}, {heads}) should have a parameter {name} of "
            f"shape {tuple(value.shape)}, got {shapes.get(name)}",
        )
    harness.load_weights(layer, state, "MultiHeadAttention")
    with torch.no_grad():
        twin.in_proj_weight.copy_(
            torch.cat([state["w_q.weight"], state["w_k.weight"], state["w_v.weight"]])
        )
        twin.in_proj_bias.copy_(
            torch.cat([state["w_q.bias"], state["w_k.bias"], state["w_v.bias"]])
        )
        twin.out_proj.weight.copy_(state["w_o.weight"])
        twin.out_proj.bias.copy_(state["w_o.bias"])
    return twin


@st.composite
def mha_inputs(draw, cross: bool = False, masked: bool = False):
    heads, d_k = draw(strategies.dims(1, 3)), draw(strategies.dims(1, 3))
    d_model = heads * d_k
    query = draw(strategies.sequences(d_model=d_model))
    batch = query.shape[0]
    length = draw(strategies.dims(1, 6)) if cross else query.shape[1]
    memory = draw(strategies.tensors((batch, length, d_model))) if cross else query
    mask = None
    if masked:
        kind = draw(st.sampled_from(["padding", "causal", "both"]))
        lengths = [draw(st.integers(1, length)) for _ in range(batch)]
        padding = (torch.arange(length)[None, :] < torch.tensor(lengths)[:, None])[:, None, None, :]
        if kind == "padding" or cross:
            mask = padding
        else:
            causal = torch.ones(length, length, dtype=torch.bool).tril()[None]
            mask = causal if kind == "causal" else padding & causal
    return query, memory, heads, mask


def compare_with_torch(multihead, device, query, memory, heads, mask):
    d_model = query.shape[-1]
    layer = multihead.MultiHeadAttention(d_model, heads)
    twin = torch_twin(layer, d_model, heads, device)
    layer.to(device)
    layer.eval()
    query, memory = query.to(device), memory.to(device)
    torch_mask = None
    if mask is not None:
        mask = mask.to(device)
        full = mask.expand(query.shape[0], heads, query.shape[1], memory.shape[1])
        torch_mask = ~full.reshape(-1, query.shape[1], memory.shape[1])
    output = layer(query, memory, memory, mask)
    with torch.no_grad():
        expected, expected_weights = twin(
            query,
            memory,
            memory,
            attn_mask=torch_mask,
            need_weights=True,
            average_attn_weights=False,
        )
    if mask is not None:
        # torch gives NaN where a query may attend to nothing; compare the other rows.
        valid = full.any(-1).all(1)[..., None]
        output = harness.expect_shape(output, expected.shape, "the multi-head attention output")
        output = torch.where(valid, output, torch.zeros_like(output))
        expected = torch.where(valid, expected, torch.zeros_like(expected))
    harness.expect_close(
        output,
        expected,
        "the multi-head attention output",
        reference="torch.nn.MultiheadAttention with the same weights",
    )
    return layer, expected_weights


@given(inputs=mha_inputs())
def test_multihead_matches_torch_self_attention(multihead, device, inputs):
    compare_with_torch(multihead, device, *inputs)


@given(inputs=mha_inputs(cross=True))
def test_multihead_matches_torch_cross_attention(multihead, device, inputs):
    compare_with_torch(multihead, device, *inputs)


@given(inputs=mha_inputs(masked=True))
def test_multihead_matches_torch_with_masks(multihead, device, inputs):
    compare_with_torch(multihead, device, *inputs)


@given(inputs=mha_inputs(cross=True))
def test_multihead_keeps_attention_weights(multihead, device, inputs):
    layer, expected = compare_with_torch(multihead, device, *inputs)
    harness.expect_close(
        layer.attention_weights,
        expected,
        "attention_weights after forward",
        reference="every head's weights, (B, h, T_q, T_k), as torch computes them",
    )


@given(d_model=strategies.dims(2, 12), heads=strategies.dims(2, 5))
def test_multihead_rejects_indivisible_d_model(multihead, d_model, heads):
    if d_model % heads == 0:
        d_model += 1
    harness.expect_raises(
        ValueError,
        multihead.MultiHeadAttention,
        d_model,
        heads,
        mentions=(str(d_model), str(heads)),
        what=f"MultiHeadAttention({d_model}, {heads})",
    )
