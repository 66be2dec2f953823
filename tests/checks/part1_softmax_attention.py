"""Part 1 checks: similarity, softmax and self-attention from word vectors (NumPy)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies

pytestmark = pytest.mark.part1

# The chapter's five word vectors: time, flies, like, an, arrow.
WORDS = np.array(
    [[0.2, 0.8, 0.3], [0.7, 0.2, 0.9], [0.3, 0.5, 0.2], [0.1, 0.3, 0.4], [0.8, 0.1, 0.6]]
)
CHAPTER_WEIGHTS = np.array(
    [
        [0.25130196, 0.20574865, 0.19571417, 0.17014572, 0.1770895],
        [0.14838442, 0.32047566, 0.13697608, 0.13697608, 0.25718775],
        [0.22189237, 0.21533446, 0.19290396, 0.17109046, 0.19877876],
        [0.20573742, 0.22966017, 0.18247272, 0.18247272, 0.19965696],
        [0.14836389, 0.29876818, 0.14688764, 0.13833357, 0.26764673],
    ]
)
CHAPTER_OUTPUT = np.array(
    [
        [0.41168487, 0.40880105, 0.47401919],
        [0.51455048, 0.31810231, 0.56944172],
        [0.42911583, 0.38823778, 0.48665295],
        [0.43462426, 0.37646585, 0.49769319],
        [0.51082753, 0.32015331, 0.55869952],
    ]
)


def reference_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """A softmax the checks trust, computed in float64."""
    shifted = x - x.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


@given(X=strategies.arrays())
def test_similarity_matrix_is_dot_products(softmax_attention, X):
    result = softmax_attention.similarity_matrix(X)
    n = X.shape[0]
    harness.expect_shape(
        result, (n, n), f"similarity_matrix(X) for {n} words (one entry per pair of words)"
    )
    harness.expect_close(result, X @ X.T, "similarity_matrix(X)", reference="X @ X.T")


@given(x=strategies.tensors(st.tuples(strategies.dims(1, 4), strategies.dims(1, 6)), scale=3.0))
def test_softmax_rows_sum_to_one(softmax_attention, x):
    result = harness.expect_finite(softmax_attention.softmax(x.double().numpy()), "softmax(x)")
    harness.expect(bool((result >= 0).all()), "softmax(x) has negative entries")
    harness.expect_rows_sum_to(result, 1.0, "softmax(x)")
    harness.expect_close(result, reference_softmax(x.double().numpy()), "softmax(x)")


@given(
    x=strategies.tensors(st.tuples(strategies.dims(1, 4), strategies.dims(2, 6))),
    shift=strategies.tensors(st.just((4, 1)), scale=500.0),
)
def test_softmax_shift_invariant(softmax_attention, x, shift):
    # Shifts of several hundred: exp overflows (or underflows to 0/0) unless each row's own
    # maximum is subtracted.
    x = x.double().numpy()
    shifted = x + shift.double().numpy()[: x.shape[0]]
    expected = reference_softmax(x)
    result = harness.expect_finite(
        softmax_attention.softmax(shifted),
        "softmax(x + c), c a constant of several hundred per row (exp overflows unless each "
        "row's own maximum is subtracted)",
    )
    harness.expect_close(
        result,
        expected,
        "softmax(x + c), c a constant per row,",
        reference="softmax(x): adding a constant to a row must not change its softmax",
    )
    harness.expect_close(
        softmax_attention.softmax(x),
        expected,
        "softmax(x)",
        reference="the softmax of each row",
    )


@given(x=strategies.tensors(st.tuples(strategies.dims(1, 3), strategies.dims(2, 5)), scale=1e4))
def test_softmax_no_overflow(softmax_attention, x):
    x = x.double().numpy()
    result = harness.expect_finite(
        softmax_attention.softmax(x),
        "softmax of inputs around 1e4 (exp overflows unless the row maximum is subtracted)",
    )
    harness.expect_close(result, reference_softmax(x), "softmax of inputs around 1e4")


@given(
    x=strategies.tensors(
        st.tuples(strategies.dims(1, 4), strategies.dims(1, 4), strategies.dims(1, 4))
    ),
    axis=st.sampled_from([0, 1, 2, -1, -2, -3]),
)
def test_softmax_any_axis(softmax_attention, x, axis):
    x = x.double().numpy()
    result = softmax_attention.softmax(x, axis=axis)
    harness.expect_close(result, reference_softmax(x, axis=axis), f"softmax(x, axis={axis})")


def test_chapter_worked_example(softmax_attention):
    output, weights = harness.pair(
        softmax_attention.basic_self_attention(WORDS), "basic_self_attention"
    )
    harness.expect_close(
        weights,
        CHAPTER_WEIGHTS,
        "attention weights of 'time flies like an arrow'",
        atol=1e-6,
        rtol=0,
        reference="the chapter's weights",
    )
    harness.expect_close(
        output,
        CHAPTER_OUTPUT,
        "contextualised vectors of 'time flies like an arrow'",
        atol=1e-6,
        rtol=0,
        reference="the chapter's vectors",
    )


@given(X=strategies.arrays())
def test_attention_rows_are_convex_combinations(softmax_attention, X):
    output, weights = harness.pair(
        softmax_attention.basic_self_attention(X), "basic_self_attention"
    )
    weights = harness.expect_shape(weights, (X.shape[0], X.shape[0]), "the attention weights")
    harness.expect_finite(weights, "the attention weights")
    harness.expect(bool((weights >= 0).all()), "the attention weights have negative entries")
    harness.expect_rows_sum_to(weights, 1.0, "the attention weights")
    harness.expect_close(
        weights,
        reference_softmax(X @ X.T),
        "the attention weights",
        reference="softmax(X @ X.T) row by row",
    )
    harness.expect_close(
        output,
        weights.numpy() @ X,
        "the output",
        reference="weights @ X (each output row mixes the rows of X with that row's weights)",
    )


@given(X=strategies.arrays(), seed=strategies.SEEDS)
def test_attention_permutation_equivariant(softmax_attention, X, seed):
    order = np.random.default_rng(seed).permutation(X.shape[0])
    output, weights = harness.pair(
        softmax_attention.basic_self_attention(X), "basic_self_attention"
    )
    expected_weights = reference_softmax(X @ X.T)
    weights = harness.expect_close(
        weights,
        expected_weights,
        "the attention weights",
        reference="softmax(X @ X.T) row by row",
    )
    output = harness.expect_close(
        output, expected_weights @ X, "the output", reference="weights @ X"
    )
    output_p, weights_p = harness.pair(
        softmax_attention.basic_self_attention(X[order]), "basic_self_attention"
    )
    harness.expect_close(
        output_p,
        output[order],
        "the output for reordered words",
        reference="the original output reordered the same way",
    )
    harness.expect_close(
        weights_p,
        weights[order][:, order],
        "the weights for reordered words",
        reference="the original weights with rows and columns reordered",
    )


@st.composite
def separated_inputs(draw):
    X = draw(strategies.arrays())
    d = X.shape[1]
    W_s = draw(strategies.arrays(rows=d))
    W_c = draw(strategies.arrays(rows=d))
    return X, W_s, W_c


@given(inputs=separated_inputs(), seed=strategies.SEEDS)
def test_separated_attention_roles(softmax_attention, inputs, seed):
    X, W_s, W_c = inputs
    output, weights = harness.pair(
        softmax_attention.separated_self_attention(X, W_s, W_c), "separated_self_attention"
    )
    projected = X @ W_s
    expected_weights = reference_softmax(projected @ projected.T)
    harness.expect_close(
        weights,
        expected_weights,
        "the weights",
        reference="softmax((X W_similarity)(X W_similarity)^T): only W_similarity decides them",
    )
    harness.expect_close(
        output,
        expected_weights @ (X @ W_c),
        "the output",
        reference="weights @ (X W_content): only W_content decides what is mixed",
    )
    other_content = np.random.default_rng(seed).normal(size=W_c.shape)
    _, weights_again = harness.pair(
        softmax_attention.separated_self_attention(X, W_s, other_content),
        "separated_self_attention",
    )
    harness.expect_close(
        weights_again,
        expected_weights,
        "the weights after changing only W_content",
        reference="the same weights (W_content must not affect them)",
    )
