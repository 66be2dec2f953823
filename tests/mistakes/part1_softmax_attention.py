"""Part 1 (softmax_attention): realistic mistakes and correct variants."""

from tests.mistakes import Edit, edit

MISTAKES = [
    edit(
        "similarity_of_features",
        "    return X @ X.T\n",
        "    return X.T @ X\n",
        "similarity_matrix computes X^T X (d, d), comparing features instead of words",
    ),
    edit(
        "similarity_elementwise",
        "    return X @ X.T\n",
        "    return X * X\n",
        "similarity_matrix multiplies elementwise (X * X) instead of taking dot products",
    ),
    edit(
        "similarity_scaled_by_sqrt_d",
        "    return X @ X.T\n",
        "    return X @ X.T / np.sqrt(X.shape[1])\n",
        "similarity_matrix divides by sqrt(d) (the scaling belongs to part 2, not here)",
    ),
    edit(
        "softmax_without_subtracting_the_maximum",
        "shifted = x - x.max(axis=axis, keepdims=True)",
        "shifted = x",
        "the softmax does not subtract the maximum, so np.exp overflows for large inputs",
    ),
    edit(
        "softmax_subtracts_the_global_maximum",
        "shifted = x - x.max(axis=axis, keepdims=True)",
        "shifted = x - x.max()",
        "the softmax subtracts the maximum of the whole array, not each row's own maximum "
        "(rows far below it underflow to 0/0)",
    ),
    edit(
        "softmax_maximum_without_keepdims",
        "shifted = x - x.max(axis=axis, keepdims=True)",
        "shifted = x - x.max(axis=axis)",
        "the maximum is taken without keepdims=True, so it broadcasts along the wrong axis",
    ),
    edit(
        "softmax_sum_without_keepdims",
        "return exp / exp.sum(axis=axis, keepdims=True)",
        "return exp / exp.sum(axis=axis)",
        "the sum is taken without keepdims=True, so it broadcasts along the wrong axis",
    ),
    edit(
        "softmax_normalised_over_axis_0",
        "exp / exp.sum(axis=axis, keepdims=True)",
        "exp / exp.sum(axis=0, keepdims=True)",
        "the softmax always normalises over axis 0 instead of the axis asked for",
    ),
    edit(
        "softmax_normalised_over_everything",
        "exp / exp.sum(axis=axis, keepdims=True)",
        "exp / exp.sum()",
        "the softmax divides by the sum of the whole array instead of each row's sum",
    ),
    edit(
        "attention_softmax_over_columns",
        "weights = softmax(similarity_matrix(X), axis=-1)",
        "weights = softmax(similarity_matrix(X), axis=0)",
        "basic_self_attention normalises the similarities over axis 0 (columns), so the rows "
        "of the weights do not sum to 1",
    ),
    edit(
        "weights_applied_transposed",
        "return weights @ X, weights",
        "return weights.T @ X, weights",
        "the output mixes the rows of X with the transposed weights (weights.T @ X)",
    ),
    edit(
        "attention_returns_the_similarities",
        "return weights @ X, weights",
        "return weights @ X, similarity_matrix(X)",
        "basic_self_attention returns the raw similarities instead of the softmax weights",
    ),
    edit(
        "content_from_the_similarity_projection",
        "return weights @ (X @ W_content), weights",
        "return weights @ (X @ W_similarity), weights",
        "separated_self_attention mixes X W_similarity instead of X W_content",
    ),
    edit(
        "weights_from_the_content_projection",
        "projected = X @ W_similarity",
        "projected = X @ W_content",
        "separated_self_attention compares words with W_content instead of W_similarity",
    ),
    edit(
        "content_not_projected",
        "return weights @ (X @ W_content), weights",
        "return weights @ X, weights",
        "separated_self_attention mixes the raw word vectors X, not X W_content",
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
    edit(
        "softmax_with_moveaxis",
        (
            "    shifted = x - x.max(axis=axis, keepdims=True)\n"
            "    exp = np.exp(shifted)\n"
            "    return exp / exp.sum(axis=axis, keepdims=True)\n"
        ),
        (
            "    moved = np.moveaxis(x, axis, -1)\n"
            "    exp = np.exp(moved - moved.max(axis=-1)[..., None])\n"
            "    return np.moveaxis(exp / exp.sum(axis=-1)[..., None], -1, axis)\n"
        ),
        "softmax on the axis moved to the end, then moved back",
    ),
    edit(
        "similarity_with_einsum",
        "    return X @ X.T\n",
        '    return np.einsum("id,jd->ij", X, X)\n',
        "similarity_matrix with np.einsum",
    ),
    edit(
        "similarity_with_np_dot",
        "    return X @ X.T\n",
        "    return np.dot(X, np.transpose(X))\n",
        "similarity_matrix with np.dot",
    ),
    edit(
        "attention_row_by_row",
        ("    weights = softmax(similarity_matrix(X), axis=-1)\n    return weights @ X, weights\n"),
        (
            "    n = X.shape[0]\n"
            "    weights = np.zeros((n, n))\n"
            "    output = np.zeros(X.shape)\n"
            "    for i in range(n):\n"
            "        scores = np.array([np.dot(X[i], X[j]) for j in range(n)])\n"
            "        weights[i] = softmax(scores)\n"
            "        for j in range(n):\n"
            "            output[i] += weights[i, j] * X[j]\n"
            "    return output, weights\n"
        ),
        "basic_self_attention word by word with loops",
    ),
    Edit(
        "separated_with_one_product",
        (
            (
                "    projected = X @ W_similarity\n"
                "    weights = softmax(projected @ projected.T, axis=-1)\n",
                "    weights = softmax(X @ W_similarity @ W_similarity.T @ X.T)\n",
            ),
            (
                "    return weights @ (X @ W_content), weights\n",
                "    return (weights @ X) @ W_content, weights\n",
            ),
        ),
        "separated_self_attention as X W_s W_s^T X^T, mixing X before projecting it",
    ),
]
