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
    # At least 4 features: over 2 features a normalised row is always (-1, 1) or (1, -1),
    # which hides mistakes and makes float32 rounding dominate.
    d_model = draw(strategies.dims(4, 10))
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
    # The reference runs in float64 on the CPU, whatever dtype and device ours runs in.
    reference = torch.nn.LayerNorm(x.shape[-1], eps=eps).double()
    reference.load_state_dict({name: value.double() for name, value in weights.items()})
    with torch.no_grad():
        expected = reference(x.double())
    output = harness.expect_finite(ours(x.to(device, dtype)), "LayerNorm(x)")
    harness.expect_close(
        output,
        expected,
        "LayerNorm(x)",
        atol=1e-4,
        rtol=1e-3,
        reference="torch.nn.LayerNorm (eps goes inside the square root)",
    )
    # Gradients in float64: for a row of small variance they are differences of terms of
    # size 1 / std, which float32 rounding would drown.
    ours.to(torch.float64)
    ours_input = x.to(device, torch.float64).requires_grad_(True)
    reference_input = x.double().requires_grad_(True)
    output = harness.differentiable(ours(ours_input), "LayerNorm(x)")
    upstream = torch.linspace(-1, 1, x.numel(), dtype=torch.float64).reshape(x.shape)
    output.backward(upstream.to(device))
    reference(reference_input).backward(upstream)
    harness.expect_finite(
        ours_input.grad,
        "the gradient of LayerNorm's input (eps belongs inside the square root: "
        "sqrt(var + eps), which a constant row keeps away from 0)",
    )
    harness.expect_close(
        ours_input.grad,
        reference_input.grad,
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


ACTIVATIONS = {"gelu": torch.nn.functional.gelu, "relu": torch.relu}


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
    return x, weights, draw(st.sampled_from(sorted(ACTIVATIONS)))


def feed_forward_reference(x: torch.Tensor, weights: dict, activation: str) -> torch.Tensor:
    """``linear2(activation(linear1(x)))`` in float64 on the CPU, ``(B, T, d_model)``."""
    w = {name: value.double() for name, value in weights.items()}
    hidden = ACTIVATIONS[activation](x.double() @ w["linear1.weight"].T + w["linear1.bias"])
    return hidden @ w["linear2.weight"].T + w["linear2.bias"]


@given(inputs=feed_forward_inputs())
def test_feed_forward_expands_and_projects_back(layers, device, inputs):
    x, weights, activation = inputs
    d_ff, d_model = weights["linear1.weight"].shape
    layer = layers.FeedForward(d_model, d_ff, activation=activation)
    harness.load_weights(layer, weights, "FeedForward")
    layer.to(device)
    harness.expect_close(
        layer(x.to(device)),
        feed_forward_reference(x, weights, activation),
        f"FeedForward(x) with {activation}",
        # Outputs of a few units summed from up to 10 terms of that size: float32 rounding
        # and the device's GELU kernel move them by about 1e-6, a mistake by order 1.
        atol=1e-4,
        rtol=1e-4,
        reference=f"linear2({activation}(linear1(x))), computed in float64",
    )


@given(inputs=feed_forward_inputs(), seed=strategies.SEEDS)
def test_feed_forward_is_position_wise(layers, device, inputs, seed):
    x, weights, activation = inputs
    d_ff, d_model = weights["linear1.weight"].shape
    layer = layers.FeedForward(d_model, d_ff, activation=activation)
    harness.load_weights(layer, weights, "FeedForward")
    # float64: the same position computed in two batches must agree to rounding.
    harness.in_float64(layer, "FeedForward").to(device)
    x = x.double()
    output = harness.expect_close(
        layer(x.to(device)),
        feed_forward_reference(x, weights, activation),
        f"FeedForward(x) with {activation} in float64",
        reference=f"linear2({activation}(linear1(x)))",
    ).double()
    order = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(seed))
    harness.expect_close(
        layer(x[:, order].to(device)),
        output[:, order],
        "FeedForward of reordered positions",
        reference="the outputs reordered the same way (positions are independent)",
    )
    last = x.shape[1] - 1
    harness.expect_close(
        layer(x[:, last:].to(device)),
        output[:, last:],
        f"FeedForward of position {last} alone",
        reference=f"the output at position {last} of the whole sequence",
    )


@given(seed=strategies.SEEDS)
def test_feed_forward_dropout_between_the_linears(layers, device, seed):
    # linear1 and linear2 are identities (linear2 plus a bias of 1), so output j is
    # 1 + dropout(gelu(x_j)): each entry shows whether its hidden unit was dropped.
    layer = layers.FeedForward(8, 8, dropout=0.5, activation="gelu")
    eye = torch.eye(8)
    harness.load_weights(
        layer,
        {
            "linear1.weight": eye,
            "linear1.bias": torch.zeros(8),
            "linear2.weight": eye,
            "linear2.bias": torch.ones(8),
        },
        "FeedForward",
    )
    layer.to(device)
    # Inputs of at least 0.5, so that every hidden unit is clearly positive.
    x = strategies.random_tensor((16, 4, 8), seed).abs() + 0.5
    hidden = torch.nn.functional.gelu(x.double())
    layer.eval()
    harness.expect_close(
        layer(x.to(device)),
        1 + hidden,
        "FeedForward(x) with dropout=0.5 in eval mode",
        reference="linear2(gelu(linear1(x))) (no dropout in eval mode)",
    )
    layer.train()
    output = harness.tensor(layer(x.to(device)), "FeedForward(x) in train mode")
    output = harness.expect_shape(output, x.shape, "FeedForward(x) in train mode").to("cpu")
    dropped = torch.isclose(output.double(), torch.ones_like(hidden), atol=1e-5, rtol=1e-4)
    kept = torch.isclose(output.double(), 1 + 2 * hidden, atol=1e-5, rtol=1e-4)
    harness.expect(
        bool((dropped | kept).all()),
        "in train mode with dropout=0.5, FeedForward should drop hidden units: with identity "
        "linears and linear2's bias 1, each output should be 1 (unit dropped) or "
        "1 + 2 * gelu(x) (kept and rescaled); dropout goes between the activation and linear2",
    )
    share = float(dropped.double().mean())
    harness.expect(
        0.2 < share < 0.8,
        f"in train mode with dropout=0.5, {share:.0%} of FeedForward's hidden units were dropped",
    )


def layer_norm64(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """torch's layer norm (eps 1e-5) over the last dimension, in float64 on the CPU."""
    x = x.detach().to("cpu", torch.float64)
    return torch.nn.functional.layer_norm(x, x.shape[-1:], weight.double(), bias.double())


def linear64(weight: torch.Tensor, bias: torch.Tensor) -> torch.nn.Linear:
    """A float64 ``nn.Linear`` holding ``weight`` and ``bias``."""
    linear = torch.nn.Linear(weight.shape[1], weight.shape[0]).double()
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
    return linear


@given(x=strategies.sequences(d_model=5), seed=strategies.SEEDS)
def test_sublayer_connection_is_pre_ln_residual(layers, device, x, seed):
    connection = layers.SublayerConnection(5)
    weights = {
        "norm.weight": strategies.random_tensor((5,), seed) + 1.0,
        "norm.bias": strategies.random_tensor((5,), seed + 1),
    }
    harness.load_weights(connection, weights, "SublayerConnection")
    harness.in_float64(connection, "SublayerConnection").to(device)
    connection.eval()
    sublayer = linear64(
        strategies.random_tensor((5, 5), seed + 2), strategies.random_tensor((5,), seed + 3)
    )
    x = x.double()
    with torch.no_grad():
        expected = x + sublayer(layer_norm64(x, weights["norm.weight"], weights["norm.bias"]))
        post_ln = layer_norm64(x + sublayer(x), weights["norm.weight"], weights["norm.bias"])
        output = harness.tensor(
            connection(x.to(device), sublayer.to(device)), "SublayerConnection(x, sublayer)"
        )
    if output.shape == post_ln.shape and torch.allclose(output.cpu(), post_ln, atol=1e-6):
        harness.fail(
            "SublayerConnection computes norm(x + sublayer(x)) (Post-LN); "
            "this course uses Pre-LN: x + sublayer(norm(x))"
        )
    harness.expect_close(
        output, expected, "SublayerConnection(x, sublayer)", reference="x + sublayer(norm(x))"
    )


@given(seed=strategies.SEEDS)
def test_sublayer_connection_dropout_on_the_sublayer_output(layers, device, seed):
    connection = layers.SublayerConnection(8, dropout=0.5)
    harness.in_float64(connection, "SublayerConnection").to(device)
    x = strategies.random_tensor((16, 4, 8), seed).double()

    def sublayer(y: torch.Tensor) -> torch.Tensor:
        return y + 3.0

    # The fresh norm has weight 1 and bias 0; the sublayer's output is never near 0.
    added = layer_norm64(x, torch.ones(8), torch.zeros(8)) + 3.0
    connection.eval()
    harness.expect_close(
        connection(x.to(device), sublayer),
        x + added,
        "SublayerConnection(x, sublayer) with dropout=0.5 in eval mode",
        reference="x + sublayer(norm(x)) (no dropout in eval mode)",
    )
    connection.train()
    output = harness.tensor(connection(x.to(device), sublayer), "SublayerConnection in train")
    change = harness.expect_shape(output, x.shape, "SublayerConnection in train mode").cpu() - x
    dropped = change.abs() < 1e-6
    kept = torch.isclose(change, 2 * added, atol=1e-6, rtol=1e-6)
    harness.expect(
        bool((dropped | kept).all()),
        "in train mode with dropout=0.5, SublayerConnection(x, sublayer) - x should be 0 or "
        "2 * sublayer(norm(x)) at each entry: dropout goes on the sublayer's output, never on "
        "the residual x",
    )
    share = float(dropped.double().mean())
    harness.expect(
        0.2 < share < 0.8,
        f"in train mode with dropout=0.5, {share:.0%} of the sublayer's outputs were dropped",
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
    ``activation`` and ``eps`` are the layer's feed-forward activation and LayerNorm eps.
    """

    target: torch.Tensor
    source: torch.Tensor
    heads: int
    d_ff: int
    lengths: list[int]
    seed: int
    masked: bool
    activation: str = "gelu"
    eps: float = 1e-5

    def source_mask(self, device: str) -> torch.Tensor:
        """``(B, S)``, True for real source positions."""
        size = self.source.shape[1]
        return (torch.arange(size)[None, :] < torch.tensor(self.lengths)[:, None]).to(device)


@st.composite
def layer_inputs(draw) -> LayerCase:
    heads = draw(strategies.dims(1, 3))
    # d_model = heads * d_k >= 4: the layers' LayerNorms need at least 4 features.
    d_k, d_ff = draw(strategies.dims(-(-4 // heads), 4)), draw(strategies.dims(1, 8))
    target = draw(strategies.sequences(d_model=heads * d_k))
    source = draw(strategies.tensors((target.shape[0], draw(strategies.dims(1, 6)), heads * d_k)))
    lengths = [draw(st.integers(1, source.shape[1])) for _ in range(target.shape[0])]
    return LayerCase(
        target,
        source,
        heads,
        d_ff,
        lengths,
        draw(strategies.SEEDS),
        draw(st.booleans()),
        draw(st.sampled_from(sorted(ACTIVATIONS))),
        draw(st.sampled_from([1e-5, 0.1])),
    )


def _torch_layer(cls: type, attention: dict, d: int, heads: int, d_ff: int, state: dict, **kw):
    """A torch Transformer layer (Pre-LN, batch first, eval mode, float64, CPU) with
    ``state`` loaded; ``attention`` maps our attention names to torch's."""
    reference = cls(d, heads, d_ff, dropout=0.0, batch_first=True, norm_first=True, **kw)
    load_torch_layer(reference, state, attention, len(attention) + 1)
    return reference.double().eval()


def torch_encoder_layer(
    d: int, heads: int, d_ff: int, state: dict, activation: str = "gelu", eps: float = 1e-5
):
    """``torch.nn.TransformerEncoderLayer`` loaded with ``state`` (see :func:`_torch_layer`)."""
    attention = {"self_attn": "self_attn"}
    return _torch_layer(
        torch.nn.TransformerEncoderLayer,
        attention,
        d,
        heads,
        d_ff,
        state,
        activation=activation,
        layer_norm_eps=eps,
    )


def torch_decoder_layer(
    d: int, heads: int, d_ff: int, state: dict, activation: str = "gelu", eps: float = 1e-5
):
    """``torch.nn.TransformerDecoderLayer`` loaded with ``state`` (see :func:`_torch_layer`)."""
    attention = {"self_attn": "self_attn", "cross_attn": "multihead_attn"}
    return _torch_layer(
        torch.nn.TransformerDecoderLayer,
        attention,
        d,
        heads,
        d_ff,
        state,
        activation=activation,
        layer_norm_eps=eps,
    )


def causal_mask(length: int) -> torch.Tensor:
    """``(length, length)``, True where query t may attend to key s <= t."""
    return torch.ones(length, length, dtype=torch.bool).tril()


def decoder_reference(
    case: LayerCase, state: dict, x, memory, causal: bool, padded: bool
) -> torch.Tensor:
    """torch's decoder layer holding ``state`` on ``x`` ``(B, T, d)`` and ``memory``
    ``(B, S, d)``, in float64 on the CPU: causal self-attention when ``causal``, the case's
    padding of the memory when ``padded``."""
    d = x.shape[-1]
    reference = torch_decoder_layer(d, case.heads, case.d_ff, state, case.activation, case.eps)
    with torch.no_grad():
        # torch's boolean masks mean the opposite of ours: True = may NOT attend.
        return reference(
            x.detach().to("cpu", torch.float64),
            memory.detach().to("cpu", torch.float64),
            tgt_mask=~causal_mask(x.shape[1]) if causal else None,
            memory_key_padding_mask=~case.source_mask("cpu") if padded else None,
        )


@given(case=layer_inputs())
def test_encoder_layer_matches_torch(layers, device, case):
    x, d = case.source, case.source.shape[-1]
    ours = layers.EncoderLayer(d, case.heads, case.d_ff, activation=case.activation, eps=case.eps)
    state = layer_state(d, case.d_ff, case.seed, ("self_attn",), 2)
    harness.load_weights(ours, state, "EncoderLayer")
    ours.to(device)
    ours.eval()
    real = case.source_mask(device)
    output = ours(x.to(device), real[:, None, None, :] if case.masked else None)
    # The reference runs in float64 on the CPU: on CUDA torch's fused inference path is less
    # exact than a correct float32 layer, and the check must not blame the student for it.
    reference = torch_encoder_layer(d, case.heads, case.d_ff, state, case.activation, case.eps)
    with torch.no_grad():
        # torch's boolean masks mean the opposite of ours: True = may NOT attend.
        expected = reference(x.double(), src_key_padding_mask=~real.cpu() if case.masked else None)
    harness.expect_close(
        output,
        expected,
        f"EncoderLayer(x{', padding mask' if case.masked else ''}) with {case.activation} "
        f"and eps={case.eps:g}",
        atol=1e-4,
        rtol=1e-3,
        reference="torch.nn.TransformerEncoderLayer(norm_first=True) with the same weights "
        "(in float64)",
    )


@given(case=layer_inputs())
def test_decoder_layer_matches_torch(layers, device, case):
    x, memory = case.target.to(device), case.source.to(device)
    d, length = x.shape[-1], x.shape[1]
    ours = layers.DecoderLayer(d, case.heads, case.d_ff, activation=case.activation, eps=case.eps)
    state = layer_state(d, case.d_ff, case.seed, ("self_attn", "cross_attn"), 3)
    harness.load_weights(ours, state, "DecoderLayer")
    ours.to(device)
    ours.eval()
    if case.masked:
        causal = causal_mask(length).to(device)[None, None]
        output = ours(x, memory, case.source_mask(device)[:, None, None, :], causal)
        what = "DecoderLayer(x, memory, src_mask, causal tgt_mask)"
    else:
        output = ours(x, memory)
        what = "DecoderLayer(x, memory) without masks"
    harness.expect_close(
        output,
        decoder_reference(case, state, x, memory, case.masked, case.masked),
        f"{what} with {case.activation} and eps={case.eps:g}",
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
