"""Part 6 (layers): realistic mistakes and correct variants."""

from tests.mistakes import edit

MISTAKES = [
    edit(
        "layernorm_with_eps_outside_the_square_ro",
        "torch.sqrt(variance + self.eps)",
        "(torch.sqrt(variance) + self.eps)",
        "LayerNorm with eps outside the square root (the textbook's bug)",
    ),
    edit(
        "layernorm_with_the_unbiased_variance",
        "variance = (x - mean).pow(2).mean(dim=-1, keepdim=True)",
        "variance = x.var(dim=-1, keepdim=True)",
        "LayerNorm with the unbiased variance",
    ),
    edit(
        "post_ln_instead_of_pre_ln",
        "return x + self.dropout(sublayer(self.norm(x)))",
        "return self.norm(x + self.dropout(sublayer(x)))",
        "Post-LN instead of Pre-LN",
    ),
]

VARIANTS = []
