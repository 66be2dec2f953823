"""Part 1: attention from word vectors, in NumPy.

Every word attends to every word: the similarity of two words is the dot product of their
vectors, a softmax turns each row of similarities into weights, and each word's new vector
is the weighted average of all word vectors.

Shapes: ``X`` is ``(n, d)``: n words, each a d-dimensional vector.
"""

import numpy as np


def _check_matrix(name: str, value: np.ndarray) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, d), got shape {array.shape}")
    return array


def similarity_matrix(X: np.ndarray) -> np.ndarray:
    """Dot product of every pair of rows.

    Args:
        X: ``(n, d)`` word vectors.

    Returns:
        ``(n, n)`` matrix whose entry ``[i, j]`` is ``X[i] . X[j]``.
    """
    X = _check_matrix("X", X)
    # YOUR CODE HERE
    raise NotImplementedError("similarity_matrix is not implemented yet")


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis``.

    Args:
        x: array of any shape.
        axis: the axis that sums to 1 in the result.

    Returns:
        Array of the shape of ``x``, non-negative, summing to 1 along ``axis``. Inputs of
        magnitude 1e4 must not overflow.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension, got a scalar")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for x of shape {x.shape}")
    # HINT: subtracting the maximum of each slice changes nothing mathematically
    # HINT: and keeps np.exp from overflowing.
    # YOUR CODE HERE
    raise NotImplementedError("softmax is not implemented yet")


def basic_self_attention(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Self-attention with no learned parameters: ``softmax(X X^T) X``.

    Args:
        X: ``(n, d)`` word vectors.

    Returns:
        ``(output, weights)``: ``output`` is ``(n, d)``, row i the weighted average of the rows
        of X; ``weights`` is ``(n, n)``, row i the attention of word i over all words.
    """
    X = _check_matrix("X", X)
    # YOUR CODE HERE
    raise NotImplementedError("basic_self_attention is not implemented yet")


def separated_self_attention(
    X: np.ndarray, W_similarity: np.ndarray, W_content: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Self-attention where similarity and content each get their own projection.

    ``weights = softmax((X W_s)(X W_s)^T)`` and ``output = weights (X W_c)``.

    Args:
        X: ``(n, d)`` word vectors.
        W_similarity: ``(d, k)`` projection used only to compare words.
        W_content: ``(d, m)`` projection used only for what is mixed.

    Returns:
        ``(output, weights)`` with shapes ``(n, m)`` and ``(n, n)``.
    """
    X = _check_matrix("X", X)
    W_similarity = _check_matrix("W_similarity", W_similarity)
    W_content = _check_matrix("W_content", W_content)
    for name, W in (("W_similarity", W_similarity), ("W_content", W_content)):
        if W.shape[0] != X.shape[1]:
            raise ValueError(
                f"{name} must have {X.shape[1]} rows to multiply X of shape {X.shape}, "
                f"got shape {W.shape}"
            )
    # YOUR CODE HERE
    raise NotImplementedError("separated_self_attention is not implemented yet")
