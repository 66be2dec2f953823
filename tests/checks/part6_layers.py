"""Part 6 checks: LayerNorm, feed-forward, Pre-LN residuals, encoder and decoder layers."""

from dataclasses import dataclass

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies

pytestmark = pytest.mark.part6


EPSILONS = st.sampled_from([1e-5, 1e-3, 1e-12])


@st.composite
def norm_inputs(
    draw,
    spread: float | st.SearchStrategy[float] = 1.0,
    eps: st.SearchStrategy[float] = EPSILONS,
):
    d_model = draw(strategies.dims(1, 10))
    x = draw(
        strategies.tensors(
            st.tuples(strategies.dims(1, 3), strategies.dims(1, 4), st.just(d_model))
        )
    )
    scale = draw(spread) if isinstance(spread, st.SearchStrategy) else spread
    weights = {
        "weight": draw(strategies.tensors((d_model,))) + 1.0,
        "bias": draw(strategies.tensors((d_model,))),
    }
    offset = draw(strategies.tensors((1, 1, d_model), scale=3.0))[..., :1]
    return x * scale + offset, weights, draw(eps)


def compare_layer_norm(layers, device, x, weights, eps, dtype=torch.float32):
    ours = layers.LayerNorm(x.shape[-1], eps=eps)
    harness.load_weights(ours, weights, "LayerNorm")
    ours.to(device, dtype)
    reference = torch.nn.LayerNorm(x.shape[-1], eps=eps).to(device, dtype)
    reference.load_state_dict(weights)
    with torch.no_grad():
        expected = reference(x.to(device, dtype))
    harness.expect_finite(ours(x.to(device, dtype)), "LayerNorm(x)")
    harness.expect_close(
        ours(x.to(device, dtype)),
        expected,
        "LayerNorm(x)",
        atol=1e-4,
        rtol=1e-3,
        reference="torch.nn.LayerNorm (eps goes inside the square root)",
    )
    # Gradients in float64: for a row of small variance they are differences of terms of
    # size 1 / std, which float32 rounding would drown.
    ours.to(torch.float64)
    reference.to(torch.float64)
    inputs = [x.to(device, torch.float64).requires_grad_(True) for _ in range(2)]
    output = harness.differentiable(ours(inputs[0]), "LayerNorm(x)")
    upstream = torch.linspace(-1, 1, x.numel(), dtype=torch.float64).reshape(x.shape).to(device)
    output.backward(upstream)
    reference(inputs[1]).backward(upstream)
    harness.expect_finite(
        inputs[0].grad,
        "the gradient of LayerNorm's input (eps belongs inside the square root: "
        "sqrt(var + eps), which a constant row keeps away from 0)",
    )
    harness.expect_close(
        inputs[0].grad,
        inputs[1].grad,
        "the gradient of LayerNorm's input",
        atol=1e-6,
        rtol=1e-5,
        reference="torch's",
    )


@given(inputs=norm_inputs())
def test_layer_norm_matches_torch(layers, device, inputs):
    compare_layer_norm(layers, device, *inputs)


@given(
    inputs=norm_inputs(spread=st.sampled_from([0.0, 1e-6, 1e-4]), eps=st.sampled_from([1e-5, 1e-3]))
)
def test_layer_norm_tiny_variance(layers, device, inputs):
    # float64: in float32 the mean of a near-constant row is itself off by a rounding error
    # as large as the spread, and the answer would depend on the order of the sums.
    compare_layer_norm(layers, device, *inputs, dtype=torch.float64)


@st.composite
def feed_forward_inputs(draw):
    d_model, d_ff = draw(strategies.dims(1, 6)), draw(strategies.dims(1, 10))
    x = draw(strategies.sequences(d_model=d_model))
    weights = {
        "linear1.weight": draw(strategies.tensors((d_ff, d_model))),
        "linear1.bias": draw(strategies.tensors((d_ff,))),
        "linear2.weight": draw(strategies.tensors((d_model, d_ff))),
        "linear2.bias": draw(strategies.tensors((d_model,))),
    }
    return x, weights, draw(st.sampled_from(["gelu", "relu"]))


@given(inputs=feed_forward_inputs())
def test_feed_forward_expands_and_projects_back(layers, device, inputs):
    x, weights, activation = inputs
    d_ff, d_model = weights["linear1.weight"].shape
    layer = layers.FeedForward(d_model, d_ff, activation=activation)
    harness.load_weights(layer, weights, "FeedForward")
    layer.to(device)
    act = torch.nn.functional.gelu if activation == "gelu" else torch.relu
    hidden = act(x @ weights["linear1.weight"].T + weights["linear1.bias"])
    expected = hidden @ weights["linear2.weight"].T + weights["linear2.bias"]
    harness.expect_close(
        layer(x.to(device)),
        expected,
        f"FeedForward(x) with {activation}",
        reference=f"linear2({activation}(linear1(x)))",
    )


@given(inputs=feed_forward_inputs(), seed=strategies.SEEDS)
def test_feed_forward_is_position_wise(layers, device, inputs, seed):
    x, _, activation = inputs
    layer = layers.FeedForward(x.shape[-1], 7, activation=activation).to(device)
    order = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(seed))
    output = harness.tensor(layer(x.to(device)), "FeedForward(x)")
    permuted = layer(x[:, order].to(device))
    harness.expect_close(
        permuted,
        output[:, order],
        "FeedForward of reordered positions",
        reference="the outputs reordered the same way (positions are independent)",
    )


@given(x=strategies.sequences(d_model=5), seed=strategies.SEEDS)
def test_sublayer_connection_is_pre_ln_residual(layers, device, x, seed):
    connection = layers.SublayerConnection(5)
    weights = {
        "norm.weight": strategies.random_tensor((5,), seed) + 1.0,
        "norm.bias": strategies.random_tensor((5,), seed + 1),
    }
    harness.load_weights(connection, weights, "SublayerConnection")
    connection.to(device)
    connection.eval()
    sublayer = torch.nn.Linear(5, 5).to(device)
    with torch.no_grad():
        sublayer.weight.copy_(strategies.random_tensor((5, 5), seed + 2))
    x = x.to(device)
    normed = torch.nn.functional.layer_norm(
        x, (5,), weights["norm.weight"].to(device), weights["norm.bias"].to(device)
    )
    with torch.no_grad():
        expected = x + sublayer(normed)
        post_ln = torch.nn.functional.layer_norm(
            x + sublayer(x),
            (5,),
            weights["norm.weight"].to(device),
            weights["norm.bias"].to(device),
        )
    output = harness.tensor(connection(x, sublayer), "SublayerConnection(x, sublayer)")
    if output.shape == post_ln.shape and torch.allclose(output, post_ln, atol=1e-5):
        harness.fail(
            "SublayerConnection computes norm(x + sublayer(x)) (Post-LN); "
            "this course uses Pre-LN: x + sublayer(norm(x))"
        )
    harness.expect_close(
        output, expected, "SublayerConnection(x, sublayer)", reference="x + sublayer(norm(x))"
    )


def attention_state(prefix: str, d: int, seed: int) -> dict[str, torch.Tensor]:
    return {
        f"{prefix}.{name}.{kind}": strategies.random_tensor(
            (d, d) if kind == "weight" else (d,), seed + i, scale=0.5
        )
        for i, (name, kind) in enumerate(
            (n, k) for n in ("w_q", "w_k", "w_v", "w_o") for k in ("weight", "bias")
        )
    }


def load_torch_attention(module: torch.nn.MultiheadAttention, state: dict, prefix: str) -> None:
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.cat([state[f"{prefix}.w_{n}.weight"] for n in "qkv"]))
        module.in_proj_bias.copy_(torch.cat([state[f"{prefix}.w_{n}.bias"] for n in "qkv"]))
        module.out_proj.weight.copy_(state[f"{prefix}.w_o.weight"])
        module.out_proj.bias.copy_(state[f"{prefix}.w_o.bias"])


def layer_state(d: int, d_ff: int, seed: int, attentions: tuple[str, ...], norms: int) -> dict:
    state = {}
    for i, prefix in enumerate(attentions):
        state.update(attention_state(prefix, d, seed + 10 * i))
    shapes = {
        "feed_forward.linear1.weight": (d_ff, d),
        "feed_forward.linear1.bias": (d_ff,),
        "feed_forward.linear2.weight": (d, d_ff),
        "feed_forward.linear2.bias": (d,),
    }
    for i, (name, shape) in enumerate(shapes.items()):
        state[name] = strategies.random_tensor(shape, seed + 100 + i, scale=0.5)
    for i in range(1, norms + 1):
        state[f"sublayer{i}.norm.weight"] = strategies.random_tensor((d,), seed + 200 + i) * 0.1 + 1
        state[f"sublayer{i}.norm.bias"] = strategies.random_tensor((d,), seed + 300 + i) * 0.1
    return state


def load_torch_layer(reference, state: dict, attentions: dict[str, str], norms: int) -> None:
    for ours, theirs in attentions.items():
        load_torch_attention(getattr(reference, theirs), state, ours)
    with torch.no_grad():
        for n in (1, 2):
            getattr(reference, f"linear{n}").weight.copy_(state[f"feed_forward.linear{n}.weight"])
            getattr(reference, f"linear{n}").bias.copy_(state[f"feed_forward.linear{n}.bias"])
        for i in range(1, norms + 1):
            getattr(reference, f"norm{i}").weight.copy_(state[f"sublayer{i}.norm.weight"])
            getattr(reference, f"norm{i}").bias.copy_(state[f"sublayer{i}.norm.bias"])


@dataclass(frozen=True)
class LayerCase:
    """Inputs of an encoder or decoder layer with ``heads`` heads and ``d_ff`` hidden units.

    ``target`` ``(B, T, d)`` feeds a decoder layer; ``source`` ``(B, S, d)`` feeds an encoder
    layer and is a decoder's memory, of which row b holds ``lengths[b]`` real positions.
    """

    target: torch.Tensor
    source: torch.Tensor
    heads: int
    d_ff: int
    lengths: list[int]
    seed: int
    masked: bool

    def source_mask(self, device: str) -> torch.Tensor:
        """``(B, S)``, True for real source positions."""
        size = self.source.shape[1]
        return (torch.arange(size)[None, :] < torch.tensor(self.lengths)[:, None]).to(device)


@st.composite
def layer_inputs(draw) -> LayerCase:
    heads, d_k, d_ff = (
        draw(strategies.dims(1, 3)),
        draw(strategies.dims(1, 3)),
        draw(strategies.dims(1, 8)),
    )
    target = draw(strategies.sequences(d_model=heads * d_k))
    source = draw(strategies.tensors((target.shape[0], draw(strategies.dims(1, 6)), heads * d_k)))
    lengths = [draw(st.integers(1, source.shape[1])) for _ in range(target.shape[0])]
    return LayerCase(
        target, source, heads, d_ff, lengths, draw(strategies.SEEDS), draw(st.booleans())
    )


def torch_encoder_layer(d: int, heads: int, d_ff: int, state: dict, activation: str = "gelu"):
    """``torch.nn.TransformerEncoderLayer`` (Pre-LN, batch first, eval mode) holding ``state``."""
    reference = torch.nn.TransformerEncoderLayer(
        d, heads, d_ff, dropout=0.0, activation=activation, batch_first=True, norm_first=True
    )
    load_torch_layer(reference, state, {"self_attn": "self_attn"}, 2)
    return reference.eval()


@given(case=layer_inputs())
def test_encoder_layer_matches_torch(layers, device, case):
    x, d = case.source, case.source.shape[-1]
    ours = layers.EncoderLayer(d, case.heads, case.d_ff)
    state = layer_state(d, case.d_ff, case.seed, ("self_attn",), 2)
    harness.load_weights(ours, state, "EncoderLayer")
    ours.to(device)
    ours.eval()
    real = case.source_mask(device)
    output = ours(x.to(device), real[:, None, None, :] if case.masked else None)
    # The reference runs in float64 on the CPU: on CUDA torch's fused inference path is less
    # exact than a correct float32 layer, and the check must not blame the student for it.
    reference = torch_encoder_layer(d, case.heads, case.d_ff, state).double()
    with torch.no_grad():
        # torch's boolean masks mean the opposite of ours: True = may NOT attend.
        expected = reference(x.double(), src_key_padding_mask=~real.cpu() if case.masked else None)
    harness.expect_close(
        output,
        expected,
        "EncoderLayer(x" + (", padding mask)" if case.masked else ")"),
        atol=1e-4,
        rtol=1e-3,
        reference="torch.nn.TransformerEncoderLayer(norm_first=True) with the same weights "
        "(in float64)",
    )


@given(case=layer_inputs())
def test_decoder_layer_matches_torch(layers, device, case):
    x, memory = case.target.to(device), case.source.to(device)
    d, length = x.shape[-1], x.shape[1]
    ours = layers.DecoderLayer(d, case.heads, case.d_ff)
    state = layer_state(d, case.d_ff, case.seed, ("self_attn", "cross_attn"), 3)
    harness.load_weights(ours, state, "DecoderLayer")
    ours.to(device)
    ours.eval()
    reference = torch.nn.TransformerDecoderLayer(
        d,
        case.heads,
        case.d_ff,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    load_torch_layer(
        reference, state, {"self_attn": "self_attn", "cross_attn": "multihead_attn"}, 3
    )
    reference.double().eval()
    causal = torch.ones(length, length, dtype=torch.bool, device=device).tril()
    real = case.source_mask(device)
    if case.masked:
        output = ours(x, memory, real[:, None, None, :], causal[None, None])
        what = "DecoderLayer(x, memory, src_mask, causal tgt_mask)"
    else:
        output = ours(x, memory)
        what = "DecoderLayer(x, memory) without masks"
    with torch.no_grad():
        # torch's boolean masks mean the opposite of ours: True = may NOT attend.
        expected = reference(
            x.cpu().double(),
            memory.cpu().double(),
            tgt_mask=~causal.cpu() if case.masked else None,
            memory_key_padding_mask=~real.cpu() if case.masked else None,
        )
    harness.expect_close(
        output,
        expected,
        what,
        atol=1e-4,
        rtol=1e-3,
        reference="torch.nn.TransformerDecoderLayer(norm_first=True) with the same weights "
        "(in float64)",
    )


@pytest.mark.contract
def test_feed_forward_refuses_unknown_activations(layers):
    harness.expect_raises(
        ValueError,
        layers.FeedForward,
        4,
        8,
        activation="tanh",
        mentions=("activation", "tanh"),
        what="FeedForward(4, 8, activation='tanh')",
    )
