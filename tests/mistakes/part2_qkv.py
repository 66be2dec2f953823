"""Part 2 (qkv): realistic mistakes and correct variants."""

from tests.mistakes import Edit, edit

SCORES = "    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])\n"
MASK_FILL = "        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)\n"
SOFTMAX = "    weights = torch.softmax(scores, dim=-1)\n"
DROPOUT = (
    "    dropped = torch.nn.functional.dropout(weights, p=dropout_p)"
    " if dropout_p > 0 else weights\n"
)
CALL = "return scaled_dot_product_attention(self.q(x), self.k(x), self.v(x), mask)"

MISTAKES = [
    edit(
        "no_scaling",
        SCORES,
        "    scores = query @ key.transpose(-2, -1)\n",
        "the scores are not divided by sqrt(d_k)",
    ),
    edit(
        "scaled_by_d_k",
        SCORES,
        "    scores = query @ key.transpose(-2, -1) / query.shape[-1]\n",
        "the scores are divided by d_k instead of sqrt(d_k)",
    ),
    edit(
        "scaled_by_sqrt_d_v",
        SCORES,
        "    scores = query @ key.transpose(-2, -1) / math.sqrt(value.shape[-1])\n",
        "the scores are divided by sqrt(d_v), the width of the values, instead of sqrt(d_k)",
    ),
    edit(
        "softmax_over_the_queries",
        SOFTMAX,
        "    weights = torch.softmax(scores, dim=-2)\n",
        "the softmax runs over the queries (dim -2) instead of the keys (dim -1)",
    ),
    edit(
        "softmax_over_the_first_dimension",
        SOFTMAX,
        "    weights = torch.softmax(scores, dim=0)\n",
        "the softmax runs over dim 0 (the batch, when there is one) instead of the keys",
    ),
    edit(
        "inverted_mask",
        MASK_FILL,
        "        scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)\n",
        "the mask is inverted (True must mean 'may attend')",
    ),
    edit(
        "mask_applied_after_the_softmax",
        MASK_FILL,
        "        pass\n",
        "the mask only zeroes the weights after the softmax, so the kept weights of a row no "
        "longer sum to 1",
    ),
    edit(
        "fully_masked_rows_attend_uniformly",
        "        weights = weights.masked_fill(~mask, 0.0)\n",
        "        pass\n",
        "a query whose keys are all masked attends uniformly instead of getting zero weights",
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
        "masked scores are -inf, so a query whose keys are all masked gets NaN",
    ),
    edit(
        "weights_returned_after_dropout",
        "return dropped @ value, weights",
        "return dropped @ value, dropped",
        "the returned weights are the dropped-out ones instead of the softmax",
    ),
    edit(
        "dropout_not_rescaled",
        DROPOUT,
        (
            "    keep = torch.rand_like(weights) >= dropout_p\n"
            "    dropped = weights * keep if dropout_p > 0 else weights\n"
        ),
        "dropout zeroes weights but does not rescale the kept ones by 1 / (1 - dropout_p)",
    ),
    Edit(
        "dropout_on_the_output",
        (
            (DROPOUT, "    dropped = weights\n"),
            (
                "    return dropped @ value, weights\n",
                "    return torch.nn.functional.dropout(dropped @ value, p=dropout_p), weights\n",
            ),
        ),
        "dropout is applied to the output instead of the attention weights",
    ),
    Edit(
        "dropout_on_the_scores",
        (
            (
                SOFTMAX,
                "    scores = torch.nn.functional.dropout(scores, p=dropout_p)\n" + SOFTMAX,
            ),
            (DROPOUT, "    dropped = weights\n"),
        ),
        "dropout is applied to the scores before the softmax instead of to the weights",
    ),
    edit(
        "dropout_ignored",
        DROPOUT,
        "    dropped = weights\n",
        "dropout_p is ignored",
    ),
    edit(
        "queries_and_keys_swapped",
        CALL,
        "return scaled_dot_product_attention(self.k(x), self.q(x), self.v(x), mask)",
        "SelfAttention uses k(x) as the queries and q(x) as the keys",
    ),
    edit(
        "values_from_the_key_projection",
        CALL,
        "return scaled_dot_product_attention(self.q(x), self.k(x), self.k(x), mask)",
        "SelfAttention mixes k(x) instead of v(x)",
    ),
    edit(
        "self_attention_ignores_the_mask",
        CALL,
        "return scaled_dot_product_attention(self.q(x), self.k(x), self.v(x))",
        "SelfAttention does not pass the mask on to the attention",
    ),
    edit(
        "batch_flattened_into_one_sequence",
        "        " + CALL + "\n",
        (
            "        batch, length, width = x.shape\n"
            "        flat = x.reshape(1, batch * length, width)\n"
            "        output, weights = scaled_dot_product_attention(\n"
            "            self.q(flat), self.k(flat), self.v(flat)\n"
            "        )\n"
            "        return output.reshape(batch, length, width), weights\n"
        ),
        "SelfAttention flattens the batch into one long sequence, so sequences attend to each "
        "other",
    ),
]

VARIANTS = [
    edit(
        "scores_with_einsum",
        SCORES,
        (
            "    scale = math.sqrt(query.shape[-1])\n"
            "    scores = torch.einsum('...qd,...kd->...qk', query / scale, key)\n"
        ),
        "scores with einsum, the query scaled first",
    ),
    edit(
        "additive_mask",
        MASK_FILL,
        (
            "        scores = scores + torch.where(mask, 0.0, float('-inf')).to(scores.dtype)\n"
            "        scores = scores.nan_to_num(neginf=torch.finfo(scores.dtype).min)\n"
        ),
        "an additive mask",
    ),
    edit(
        "inf_fill_zeroed_after_the_softmax",
        MASK_FILL,
        "        scores = scores.masked_fill(~mask, float('-inf'))\n",
        "-inf fill, the NaN rows zeroed after the softmax",
    ),
    Edit(
        "manual_softmax_and_where",
        (
            (
                MASK_FILL,
                "        scores = torch.where(mask, scores, torch.finfo(scores.dtype).min)\n",
            ),
            (
                SOFTMAX,
                (
                    "    exp = torch.exp(scores - scores.amax(dim=-1, keepdim=True))\n"
                    "    weights = exp / exp.sum(dim=-1, keepdim=True)\n"
                ),
            ),
            (
                "        weights = weights.masked_fill(~mask, 0.0)\n",
                "        weights = torch.where(mask, weights, torch.zeros_like(weights))\n",
            ),
        ),
        "torch.where for the mask and a softmax written out with exp",
    ),
    Edit(
        "matmul_with_mT_and_module_dropout",
        (
            (
                SCORES,
                "    scores = torch.matmul(query, key.mT) * query.shape[-1] ** -0.5\n",
            ),
            (
                DROPOUT,
                "    dropped = nn.Dropout(dropout_p)(weights)\n",
            ),
        ),
        "torch.matmul with key.mT, and an nn.Dropout module",
    ),
    Edit(
        "self_attention_projections_by_hand",
        (
            (
                "        " + CALL + "\n",
                (
                    "        query = x @ self.q.weight.T + self.q.bias\n"
                    "        key = x @ self.k.weight.T + self.k.bias\n"
                    "        value = x @ self.v.weight.T + self.v.bias\n"
                    "        return scaled_dot_product_attention(query, key, value, mask=mask)\n"
                ),
            ),
        ),
        "SelfAttention applies its projections by hand",
    ),
]
