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


@given(inputs=head_inputs(), seed=strategies.SEEDS)
def test_split_merge_round_trip(multihead, device, inputs, seed):
    x, heads = inputs
    x = x.to(device)
    batch, length, d_model = x.shape
    split = harness.expect_shape(
        multihead.split_heads(x, heads),
        (batch, heads, length, d_model // heads),
        f"split_heads(x of shape {tuple(x.shape)}, {heads})",
    )
    harness.expect_close(
        multihead.merge_heads(split),
        x,
        "merge_heads(split_heads(x, h))",
        reference="x",
    )
    per_head = strategies.random_tensor(tuple(split.shape), seed).to(device)
    harness.expect_close(
        multihead.split_heads(multihead.merge_heads(per_head), heads),
        per_head,
        "split_heads(merge_heads(y), h)",
        reference="y",
    )


def torch_twin(layer, d_model: int, heads: int, device: str) -> torch.nn.MultiheadAttention:
    """nn.MultiheadAttention in float64 with the weights of the student's layer.

    The weights are fresh values, loaded into the student's layer too. The twin computes in
    float64 (the rounding rule): give it float64 inputs.
    """
    twin = torch.nn.MultiheadAttention(d_model, heads, batch_first=True)
    twin = twin.to(device, torch.float64).eval()
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
    """(query, key, value, heads, mask); in cross-attention key and value differ."""
    heads, d_k = draw(strategies.dims(1, 3)), draw(strategies.dims(1, 3))
    d_model = heads * d_k
    query = draw(strategies.sequences(d_model=d_model))
    batch = query.shape[0]
    length = draw(strategies.dims(1, 6)) if cross else query.shape[1]
    key = draw(strategies.tensors((batch, length, d_model))) if cross else query
    value = draw(strategies.tensors((batch, length, d_model))) if cross else query
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
    return query, key, value, heads, mask


def compare_with_torch(multihead, device, query, key, value, heads, mask, **options):
    d_model = query.shape[-1]
    layer = multihead.MultiHeadAttention(d_model, heads, **options)
    twin = torch_twin(layer, d_model, heads, device)
    layer.to(device)
    layer.eval()
    query, key, value = query.to(device), key.to(device), value.to(device)
    torch_mask = None
    if mask is not None:
        mask = mask.to(device)
        full = mask.expand(query.shape[0], heads, query.shape[1], key.shape[1])
        torch_mask = ~full.reshape(-1, query.shape[1], key.shape[1])
    output = layer(query, key, value, mask)
    with torch.no_grad():
        expected, expected_weights = twin(
            query.double(),
            key.double(),
            value.double(),
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


@st.composite
def indivisible_sizes(draw):
    """(d_model, heads) with d_model not divisible by heads, and valid self-attention inputs."""
    heads = draw(strategies.dims(2, 5))
    d_model = draw(strategies.dims(1, 3)) * heads + draw(st.integers(1, heads - 1))
    query, key, value, valid_heads, mask = draw(mha_inputs())
    return d_model, heads, (query, key, value, valid_heads, mask)


@given(inputs=indivisible_sizes())
def test_multihead_rejects_indivisible_d_model(multihead, device, inputs):
    d_model, heads, valid = inputs
    harness.expect_raises(
        ValueError,
        multihead.MultiHeadAttention,
        d_model,
        heads,
        mentions=(str(d_model), str(heads)),
        what=f"MultiHeadAttention({d_model}, {heads})",
    )
    # Rejecting is only half of it: sizes that divide are accepted and attend correctly.
    query, _, _, valid_heads, _ = valid
    width = query.shape[-1]
    try:
        compare_with_torch(multihead, device, *valid)
    except ValueError as error:
        harness.fail(
            f"MultiHeadAttention({width}, {valid_heads}) raised ValueError: {error}, but "
            f"{width} is divisible by {valid_heads}"
        )
