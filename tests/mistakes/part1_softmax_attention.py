"""Part 1 (softmax_attention): realistic mistakes and correct variants."""

from tests.mistakes import edit

MISTAKES = [
    edit(
        "softmax_without_subtracting_the_maximum",
        "shifted = x - x.max(axis=axis, keepdims=True)",
        "shifted = x",
        "softmax without subtracting the maximum",
    ),
    edit(
        "softmax_normalised_over_axis_0",
        "exp / exp.sum(axis=axis, keepdims=True)",
        "exp / exp.sum(axis=0, keepdims=True)",
        "softmax normalised over axis 0",
    ),
    edit(
        "weights_applied_transposed",
        "return weights @ X, weights",
        "return weights.T @ X, weights",
        "weights applied transposed",
    ),
    edit(
        "content_mixed_with_the_similarity_projec",
        "return weights @ (X @ W_content), weights",
        "return weights @ (X @ W_similarity), weights",
        "content mixed with the similarity projection",
    ),
]

VARIANTS = [
    edit(
        "softmax_through_log_sum_exp",
        (
            "    shifted = x - x.max(axis=axis, keepdims=True)\n"
            "    exp = np.exp(shifted)\n"
            "    return exp / exp.sum(axis=axis, keepdims=True)\n"
        ),
        (
            "    top = np.max(x, axis=axis, keepdims=True)\n"
            "    log_total = top + np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True))\n"
            "    return np.exp(x - log_total)\n"
        ),
        "softmax through log-sum-exp",
    ),
]
