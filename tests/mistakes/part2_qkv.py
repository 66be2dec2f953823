"""Part 2 (qkv): realistic mistakes and correct variants."""

from tests.mistakes import edit

MISTAKES = [
    edit(
        "no_scaling",
        "scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])",
        "scores = query @ key.transpose(-2, -1)",
        "no scaling",
    ),
    edit(
        "scaled_by_d_k",
        "scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])",
        "scores = query @ key.transpose(-2, -1) / query.shape[-1]",
        "scaled by d_k",
    ),
    edit(
        "softmax_over_the_queries",
        "weights = torch.softmax(scores, dim=-1)",
        "weights = torch.softmax(scores, dim=-2)",
        "softmax over the queries",
    ),
    edit(
        "inverted_mask",
        "scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)",
        "scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)",
        "inverted mask",
    ),
    edit(
        "fully_masked_rows_attend_uniformly",
        "        weights = weights.masked_fill(~mask, 0.0)\n",
        "        pass\n",
        "fully masked rows attend uniformly",
    ),
    edit(
        "nan_on_fully_masked_rows",
        (
            "    weights = torch.softmax(scores, dim=-1)\n"
            "    if mask is not None:\n"
            "        weights = weights.masked_fill(~mask, 0.0)\n"
        ),
        (
            "    if mask is not None:\n"
            "        scores = scores.masked_fill(~mask, float('-inf'))\n"
            "    weights = torch.softmax(scores, dim=-1)\n"
        ),
        "NaN on fully masked rows",
    ),
    edit(
        "queries_and_keys_swapped",
        "return scaled_dot_product_attention(self.q(x), self.k(x), self.v(x), mask)",
        "return scaled_dot_product_attention(self.k(x), self.q(x), self.v(x), mask)",
        "queries and keys swapped",
    ),
    edit(
        "weights_returned_after_dropout",
        "return dropped @ value, weights",
        "return dropped @ value, dropped",
        "weights returned after dropout",
    ),
]

VARIANTS = [
    edit(
        "scores_with_einsum",
        "    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])\n",
        (
            "    scale = math.sqrt(query.shape[-1])\n"
            "    scores = torch.einsum('...qd,...kd->...qk', query / scale, key)\n"
        ),
        "scores with einsum",
    ),
    edit(
        "additive_mask",
        "        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)\n",
        (
            "        scores = scores + torch.where(mask, 0.0, float('-inf')).to(scores.dtype)\n"
            "        scores = scores.nan_to_num(neginf=torch.finfo(scores.dtype).min)\n"
        ),
        "additive mask",
    ),
    edit(
        "inf_fill_zeroed_after_the_softmax",
        "        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)\n",
        "        scores = scores.masked_fill(~mask, float('-inf'))\n",
        "-inf fill, zeroed after the softmax",
    ),
]
