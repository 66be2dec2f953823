"""Part 3 (multihead): realistic mistakes and correct variants."""

from tests.mistakes import Edit, edit

SPLIT = "    return x.view(batch, length, num_heads, d_model // num_heads).transpose(1, 2)\n"
MERGE = "    return x.transpose(1, 2).reshape(batch, length, heads * d_k)\n"
CHECK = (
    "        if d_model % num_heads:\n"
    "            raise ValueError(\n"
    '                f"d_model={d_model} must be divisible by num_heads={num_heads} "\n'
    '                f"(each head gets d_model / num_heads features)"\n'
    "            )\n"
)
ATTEND = (
    "        heads, self.attention_weights = "
    "scaled_dot_product_attention(q, k, v, mask, dropout_p)\n"
)
DROPOUT = "        dropout_p = self.dropout if self.training else 0.0\n"

MISTAKES = [
    edit(
        "heads_reshaped_without_the_transpose",
        SPLIT,
        "    return x.reshape(batch, num_heads, length, d_model // num_heads)\n",
        "split_heads reshapes straight to (B, h, T, d_k) instead of viewing as (B, T, h, d_k) "
        "and transposing, which mixes positions into the heads",
    ),
    edit(
        "heads_take_every_h_th_feature",
        SPLIT,
        "    return x.view(batch, length, d_model // num_heads, num_heads).permute(0, 3, 1, 2)\n",
        "split_heads views the features as (d_k, h) instead of (h, d_k), so head i gets every "
        "h-th feature instead of block i",
    ),
    edit(
        "heads_merged_without_the_transpose",
        MERGE,
        "    return x.reshape(batch, length, heads * d_k)\n",
        "merge_heads reshapes (B, h, T, d_k) without moving the heads next to d_k first",
    ),
    edit(
        "no_output_projection",
        "return self.w_o(merge_heads(heads))",
        "return merge_heads(heads)",
        "the heads' output is not passed through w_o",
    ),
    edit(
        "keys_projected_from_the_query",
        "k = split_heads(self.w_k(key), self.num_heads)",
        "k = split_heads(self.w_k(query), self.num_heads)",
        "the keys are projected from the query instead of the key input",
    ),
    edit(
        "values_projected_from_the_key",
        "v = split_heads(self.w_v(value), self.num_heads)",
        "v = split_heads(self.w_v(key), self.num_heads)",
        "the values are projected from the key input instead of the value input",
    ),
    edit(
        "values_projected_with_w_k",
        "v = split_heads(self.w_v(value), self.num_heads)",
        "v = split_heads(self.w_k(value), self.num_heads)",
        "the values are projected with w_k instead of w_v",
    ),
    edit(
        "mask_not_passed_on",
        ATTEND,
        ATTEND.replace("mask, dropout_p", "None, dropout_p"),
        "the mask is not passed on to the attention",
    ),
    edit(
        "mask_unsqueezed_for_the_heads_again",
        ATTEND,
        "        mask = mask.unsqueeze(1) if mask is not None else None\n" + ATTEND,
        "the mask gets an extra head dimension although it already broadcasts to (B, h, T_q, T_k)",
    ),
    edit(
        "attention_weights_not_kept",
        ATTEND,
        "        heads, _ = scaled_dot_product_attention(q, k, v, mask, dropout_p)\n",
        "forward does not keep the weights in self.attention_weights",
    ),
    edit(
        "attention_weights_averaged_over_heads",
        ATTEND,
        ATTEND + "        self.attention_weights = self.attention_weights.mean(dim=1)\n",
        "attention_weights keeps the heads' average instead of every head's weights",
    ),
    edit(
        "dropout_in_eval_mode",
        DROPOUT,
        "        dropout_p = self.dropout\n",
        "the attention dropout stays on in eval mode",
    ),
    edit(
        "dropout_never_applied",
        DROPOUT,
        "        dropout_p = 0.0\n",
        "the dropout is never passed on to the attention",
    ),
    edit(
        "divisibility_not_checked",
        CHECK,
        "",
        "d_model not divisible by num_heads is not rejected by the constructor",
    ),
    edit(
        "divisibility_checked_with_assert",
        CHECK,
        '        assert d_model % num_heads == 0, "d_model must be divisible by num_heads"\n',
        "an assert instead of a ValueError rejects d_model not divisible by num_heads",
    ),
    edit(
        "divisibility_message_without_the_sizes",
        CHECK,
        (
            "        if d_model % num_heads:\n"
            '            raise ValueError("d_model must be divisible by num_heads")\n'
        ),
        "the ValueError does not say which d_model and num_heads were given",
    ),
    edit(
        "divisibility_check_inverted",
        "        if d_model % num_heads:\n",
        "        if d_model % num_heads == 0:\n",
        "the constructor rejects the sizes that divide and accepts those that do not",
    ),
]

VARIANTS = [
    edit(
        "reshape_and_permute",
        SPLIT,
        "    return x.reshape(batch, length, num_heads, -1).permute(0, 2, 1, 3)\n",
        "split_heads with reshape and permute",
    ),
    edit(
        "split_with_chunk_and_stack",
        SPLIT,
        "    return torch.stack(torch.chunk(x, num_heads, dim=-1), dim=1)\n",
        "split_heads by chunking the features and stacking the chunks",
    ),
    edit(
        "concatenate_the_heads",
        MERGE,
        "    return torch.cat([x[:, h] for h in range(heads)], dim=-1)\n",
        "merge_heads by concatenating the heads",
    ),
    edit(
        "merge_with_permute_contiguous_view",
        MERGE,
        "    return x.permute(0, 2, 1, 3).contiguous().view(batch, length, -1)\n",
        "merge_heads with permute, contiguous and view",
    ),
    Edit(
        "divisibility_through_d_k_and_training_factor",
        (
            (
                CHECK,
                (
                    "        self.d_k = d_model // num_heads\n"
                    "        if self.d_k * num_heads != d_model:\n"
                    "            raise ValueError(\n"
                    '                f"num_heads={num_heads} does not divide d_model={d_model}"\n'
                    "            )\n"
                ),
            ),
            (DROPOUT, "        dropout_p = self.dropout * self.training\n"),
        ),
        "the divisibility checked through d_k, the dropout multiplied by self.training",
    ),
    Edit(
        "projections_in_a_loop",
        (
            (
                (
                    "        q = split_heads(self.w_q(query), self.num_heads)\n"
                    "        k = split_heads(self.w_k(key), self.num_heads)\n"
                    "        v = split_heads(self.w_v(value), self.num_heads)\n"
                ),
                (
                    "        q, k, v = (\n"
                    "            split_heads(layer(x), self.num_heads)\n"
                    "            for layer, x in (\n"
                    "                (self.w_q, query), (self.w_k, key), (self.w_v, value)\n"
                    "            )\n"
                    "        )\n"
                ),
            ),
        ),
        "the three projections and splits in one loop",
    ),
]
