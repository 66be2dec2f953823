"""Part 4 (masks): realistic mistakes and correct variants.

A mask created on the CPU whatever the device asked for (``device=`` forgotten) is a
realistic mistake too, but only a run on a GPU can see it (``masks_follow_the_device``), and
the mutation sweep runs on the CPU: it is not in this catalogue.
"""

from tests.mistakes import edit

CAUSAL = "    return torch.ones(size, size, dtype=torch.bool, device=device).tril().unsqueeze(0)\n"
PADDING = "    return (tokens != pad_id)[:, None, None, :]\n"
TARGET = "    return padding_mask(tokens, pad_id) & causal_mask(tokens.shape[1], tokens.device)\n"
ADDITIVE = "    return zeros.masked_fill(~mask, torch.finfo(dtype).min)\n"

MISTAKES = [
    edit(
        "causal_mask_upside_down",
        CAUSAL,
        CAUSAL.replace(".tril()", ".triu()"),
        "the causal mask is upper-triangular: each position sees the future, not the past",
    ),
    edit(
        "causal_mask_without_the_diagonal",
        CAUSAL,
        CAUSAL.replace(".tril()", ".tril(-1)"),
        "the causal mask hides the diagonal: a position may not attend to itself",
    ),
    edit(
        "causal_mask_without_the_leading_dimension",
        CAUSAL,
        CAUSAL.replace(".unsqueeze(0)", ""),
        "causal_mask returns (T, T) instead of (1, T, T)",
    ),
    edit(
        "causal_mask_of_floats",
        CAUSAL,
        "    return torch.ones(size, size, device=device).tril().unsqueeze(0)\n",
        "causal_mask returns floats (ones and zeros) instead of booleans",
    ),
    edit(
        "pad_id_ignored",
        PADDING,
        "    return (tokens != 0)[:, None, None, :]\n",
        "padding_mask compares with 0 instead of pad_id",
    ),
    edit(
        "padding_mask_inverted",
        PADDING,
        "    return (tokens == pad_id)[:, None, None, :]\n",
        "padding_mask is True at the padding instead of at the real tokens",
    ),
    edit(
        "padding_mask_of_shape_b_1_t",
        PADDING,
        "    return (tokens != pad_id)[:, None, :]\n",
        "padding_mask returns (B, 1, T) instead of (B, 1, 1, T)",
    ),
    edit(
        "padding_mask_of_floats",
        PADDING,
        "    return (tokens != pad_id).float()[:, None, None, :]\n",
        "padding_mask returns floats instead of booleans",
    ),
    edit(
        "target_mask_without_padding",
        TARGET,
        (
            "    causal = causal_mask(tokens.shape[1], tokens.device)\n"
            "    return causal[None].expand(len(tokens), 1, -1, -1)\n"
        ),
        "target_mask is only the causal mask: padding keys are not hidden",
    ),
    edit(
        "target_mask_ignores_pad_id",
        TARGET,
        "    return padding_mask(tokens) & causal_mask(tokens.shape[1], tokens.device)\n",
        "target_mask does not pass pad_id on to padding_mask",
    ),
    edit(
        "target_mask_with_or",
        TARGET,
        TARGET.replace(" & ", " | "),
        "target_mask combines the masks with | (either) instead of & (both)",
    ),
    edit(
        "additive_mask_of_1e9",
        ADDITIVE,
        "    return zeros.masked_fill(~mask, -1e9)\n",
        "to_additive blocks with -1e9, which overflows to -inf in float16",
    ),
    edit(
        "additive_mask_of_minus_inf",
        ADDITIVE,
        "    return zeros.masked_fill(~mask, float('-inf'))\n",
        "to_additive blocks with -inf, so a row blocked everywhere becomes NaN",
    ),
    edit(
        "additive_mask_inverted",
        ADDITIVE,
        "    return zeros.masked_fill(mask, torch.finfo(dtype).min)\n",
        "to_additive blocks where the mask is True instead of where it is False",
    ),
    edit(
        "additive_mask_ignores_dtype",
        "    zeros = torch.zeros(mask.shape, dtype=dtype, device=mask.device)\n",
        "    zeros = torch.zeros(mask.shape, device=mask.device)\n",
        "to_additive always returns float32, whatever dtype is asked for",
    ),
]

VARIANTS = [
    edit(
        "causal_mask_by_comparison",
        CAUSAL,
        (
            "    positions = torch.arange(size, device=device)\n"
            "    return (positions[None, :] <= positions[:, None])[None]\n"
        ),
        "causal mask by comparing positions",
    ),
    edit(
        "causal_mask_with_tril_of_floats",
        CAUSAL,
        "    return torch.tril(torch.ones(1, size, size, device=device)).bool()\n",
        "causal mask with torch.tril of ones, turned boolean",
    ),
    edit(
        "padding_mask_with_unsqueeze",
        PADDING,
        "    return (tokens != pad_id).unsqueeze(1).unsqueeze(2)\n",
        "padding mask with unsqueeze",
    ),
    edit(
        "padding_mask_with_ne_and_view",
        PADDING,
        "    return tokens.ne(pad_id).view(tokens.shape[0], 1, 1, tokens.shape[1])\n",
        "padding mask with ne and view",
    ),
    edit(
        "target_mask_with_tril",
        TARGET,
        (
            "    length = tokens.shape[1]\n"
            "    past = torch.ones(length, length, dtype=torch.bool, device=tokens.device).tril()\n"
            "    return padding_mask(tokens, pad_id) & past\n"
        ),
        "target mask from a (T, T) lower triangle broadcast against the padding mask",
    ),
    edit(
        "additive_mask_with_where",
        ADDITIVE,
        (
            "    lowest = torch.full_like(zeros, torch.finfo(dtype).min)\n"
            "    return torch.where(mask, zeros, lowest)\n"
        ),
        "additive mask with torch.where",
    ),
    edit(
        "additive_mask_by_multiplication",
        ADDITIVE,
        "    return (~mask).to(dtype) * torch.finfo(dtype).min\n",
        "additive mask as the blocked positions times the lowest value",
    ),
]
