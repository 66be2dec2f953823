"""Part 5 hidden checks: long tables, dropout and odd widths, RoPE's exact angles (bonus)."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies
from tests.reference import expected_encoding

pytestmark = pytest.mark.part5


@given(d_model=st.sampled_from([6, 64, 513]))
def test_sinusoidal_long_sequences_accurate(positional, d_model):
    encoding = positional.sinusoidal_encoding(5000, d_model)
    # float32 angles in the thousands are only good to about 1e-3 (3750 has a float32 step of
    # 2.4e-4); a wrong frequency is off by order 1, so this tolerance loses nothing.
    harness.expect_close(
        encoding,
        expected_encoding(5000, d_model),
        f"sinusoidal_encoding(5000, {d_model})",
        atol=2e-3,
        rtol=0,
        reference="sin and cos of pos / 10000^(2i/d_model)",
    )


def positional_layers(positional, width: int, length: int, seed: int, dropout: float = 0.0):
    """Both positional layers of ``width`` features and ``length`` positions, with the
    position vectors each adds, float64 ``(length, width)``; the learned table is loaded."""
    learned = positional.LearnedPositionalEmbedding(width, length, dropout=dropout)
    table = strategies.random_tensor((length, width), seed + 1)
    harness.load_weights(learned, {"embedding.weight": table}, "LearnedPositionalEmbedding")
    return (
        (
            "PositionalEncoding",
            positional.PositionalEncoding(width, max_len=length, dropout=dropout),
            expected_encoding(length, width),
        ),
        ("LearnedPositionalEmbedding", learned, table.double()),
    )


@given(
    width=st.integers(1, 6).map(lambda h: 2 * h + 1),
    length=strategies.dims(1, 6),
    seed=strategies.SEEDS,
)
def test_positional_layers_dropout_in_training_only(positional, device, width, length, seed):
    # 64 rows: at least 192 entries, so the share of zeros stays far inside 20-80%.
    x = strategies.random_tensor((64, length, width), seed)
    for name, layer, vectors in positional_layers(positional, width, length, seed, 0.5):
        layer.to(device)
        expected = (x.double() + vectors).float()
        layer.eval()
        harness.expect_close(
            layer(x.to(device)),
            expected,
            f"{name}({width}, dropout=0.5) in eval mode",
            atol=1e-5,
            rtol=1e-4,
            reference="x + the position vectors (no dropout in eval mode)",
        )
        layer.train()
        output = harness.tensor(layer(x.to(device)), f"{name} in train mode")
        output = harness.expect_shape(output, x.shape, f"{name} in train mode").to("cpu")
        dropped = output == 0
        kept = torch.isclose(output, 2 * expected, atol=1e-4, rtol=1e-4)
        harness.expect(
            bool((dropped | kept).all()),
            f"in train mode with dropout=0.5, each entry of {name}(x) should be 0 or "
            "2 * (x + position vector): dropout goes after the addition and rescales what "
            "it keeps",
        )
        share = float(dropped.double().mean())
        harness.expect(
            0.2 < share < 0.8,
            f"in train mode with dropout=0.5, {share:.0%} of the entries of {name}(x) were zeroed",
        )


@given(
    shape=st.tuples(strategies.batch_shapes(2), strategies.dims(1, 5), strategies.dims(1, 4)),
    seed=strategies.SEEDS,
    base=st.sampled_from([10000.0, 100.0, 2.0]),
    start=st.integers(0, 50),
)
def test_rope_rotates_pairs_by_position_times_frequency(
    positional, device, shape, seed, base, start
):
    batch, length, pairs = shape
    x = strategies.random_tensor((*batch, length, 2 * pairs), seed).double()
    positions = torch.arange(start, start + 2 * length, 2)
    angles = positions[:, None].double() * base ** (-torch.arange(pairs).double() * 2 / (2 * pairs))
    as_complex = torch.complex(x[..., 0::2], x[..., 1::2]) * torch.polar(
        torch.ones_like(angles), angles
    )
    expected = torch.stack((as_complex.real, as_complex.imag), dim=-1).flatten(-2)
    harness.expect_close(
        positional.apply_rotary(x.to(device), positions.to(device), base=base),
        expected,
        f"apply_rotary(x, positions={positions.tolist()}, base={base:g})",
        # float64 input, but float32 angles are fine too: a wrong rotation is off by order 1.
        atol=1e-4,
        rtol=1e-4,
        reference="the pair (2i, 2i+1) at position p rotated by p * base^(-2i/d)",
    )


@given(
    x=strategies.sequences(max_len=6, d_model=6),
    seed=strategies.SEEDS,
    dtype=st.sampled_from(["float16", "bfloat16"]),
)
def test_positional_layers_keep_half_precision(positional, device, x, seed, dtype):
    half = getattr(torch, dtype)
    for name, layer, vectors in positional_layers(positional, 6, 8, seed):
        layer.to(device, half)
        layer.eval()
        output = harness.expect_finite(layer(x.to(device, half)), f"{name} in {dtype}")
        harness.expect(
            output.dtype == half,
            f"{name} cast to {dtype} returned {output.dtype}: a model cast to half precision "
            "needs every layer to keep the dtype",
        )
        # Values of a few units: bfloat16 keeps about 2 to 3 significant digits.
        harness.expect_close(
            output.float(),
            x.double() + vectors[: x.shape[1]],
            f"{name} cast to {dtype}",
            atol=0.05,
            rtol=0.02,
            reference="x + the position vectors, computed in float64",
        )
