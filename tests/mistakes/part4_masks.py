"""Part 4 (masks): realistic mistakes and correct variants."""

from tests.mistakes import edit

MISTAKES = [
    edit(
        "pad_id_ignored",
        "return (tokens != pad_id)[:, None, None, :]",
        "return (tokens != 0)[:, None, None, :]",
        "pad_id ignored",
    ),
    edit(
        "causal_mask_upside_down",
        "return torch.ones(size, size, dtype=torch.bool, device=device).tril().unsqueeze(0)",
        "return torch.ones(size, size, dtype=torch.bool, device=device).triu().unsqueeze(0)",
        "causal mask upside down",
    ),
    edit(
        "causal_mask_without_the_diagonal",
        "return torch.ones(size, size, dtype=torch.bool, device=device).tril().unsqueeze(0)",
        "return torch.ones(size, size, dtype=torch.bool, device=device).tril(-1).unsqueeze(0)",
        "causal mask without the diagonal",
    ),
    edit(
        "target_mask_without_padding",
        "return padding_mask(tokens, pad_id) & causal_mask(tokens.shape[1], tokens.device)",
        "return causal_mask(tokens.shape[1], tokens.device)[None].expand(len(tokens), 1, -1, -1)",
        "target mask without padding",
    ),
    edit(
        "additive_mask_of_1e9",
        "return zeros.masked_fill(~mask, torch.finfo(dtype).min)",
        "return zeros.masked_fill(~mask, -1e9)",
        "additive mask of -1e9 (overflows in float16)",
    ),
]

VARIANTS = [
    edit(
        "causal_mask_by_comparison",
        "    return torch.ones(size, size, dtype=torch.bool, device=device).tril().unsqueeze(0)\n",
        (
            "    positions = torch.arange(size, device=device)\n"
            "    return (positions[None, :] <= positions[:, None])[None]\n"
        ),
        "causal mask by comparison",
    ),
]
