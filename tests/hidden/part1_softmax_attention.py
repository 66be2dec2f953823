"""Part 1 hidden checks."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies
from tests.checks.part1_softmax_attention import reference_softmax

pytestmark = pytest.mark.part1


@given(n=strategies.dims(1, 6), value=st.sampled_from([-1e4, -745.0, 0.0, 1e4]))
def test_softmax_constant_rows_are_uniform(softmax_attention, n, value):
    x = np.full((2, n), value)
    result = harness.expect_finite(softmax_attention.softmax(x), f"softmax of a row of {value:g}")
    harness.expect_close(
        result,
        np.full((2, n), 1.0 / n),
        f"softmax of a row of {value:g}",
        reference="a uniform row",
    )


@given(
    X=strategies.arrays(), k=strategies.dims(1, 4), m=strategies.dims(1, 4), seed=strategies.SEEDS
)
def test_separated_attention_rectangular(softmax_attention, X, k, m, seed):
    rng = np.random.default_rng(seed)
    W_s, W_c = rng.normal(size=(X.shape[1], k)), rng.normal(size=(X.shape[1], m))
    output, weights = harness.pair(
        softmax_attention.separated_self_attention(X, W_s, W_c), "separated_self_attention"
    )
    expected = reference_softmax((X @ W_s) @ (X @ W_s).T)
    harness.expect_close(weights, expected, "the weights")
    harness.expect_close(output, expected @ (X @ W_c), "the output")
