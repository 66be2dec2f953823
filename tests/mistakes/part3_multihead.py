"""Part 3 (multihead): realistic mistakes and correct variants."""

from tests.mistakes import edit

MISTAKES = [
    edit(
        "heads_reshaped_without_the_transpose",
        "return x.view(batch, length, num_heads, d_model // num_heads).transpose(1, 2)",
        "return x.reshape(batch, num_heads, length, d_model // num_heads)",
        "heads reshaped without the transpose",
    ),
    edit(
        "heads_merged_without_the_transpose",
        "return x.transpose(1, 2).reshape(batch, length, heads * d_k)",
        "return x.reshape(batch, length, heads * d_k)",
        "heads merged without the transpose",
    ),
    edit(
        "no_output_projection",
        "return self.w_o(merge_heads(heads))",
        "return merge_heads(heads)",
        "no output projection",
    ),
    edit(
        "keys_projected_from_the_query",
        "k = split_heads(self.w_k(key), self.num_heads)",
        "k = split_heads(self.w_k(query), self.num_heads)",
        "keys projected from the query",
    ),
]

VARIANTS = [
    edit(
        "reshape_and_permute",
        "    return x.view(batch, length, num_heads, d_model // num_heads).transpose(1, 2)\n",
        "    return x.reshape(batch, length, num_heads, -1).permute(0, 2, 1, 3)\n",
        "reshape and permute",
    ),
    edit(
        "concatenate_the_heads",
        "    return x.transpose(1, 2).reshape(batch, length, heads * d_k)\n",
        "    return torch.cat([x[:, h] for h in range(heads)], dim=-1)\n",
        "concatenate the heads",
    ),
]
