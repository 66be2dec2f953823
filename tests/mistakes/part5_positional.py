"""Part 5 (positional): realistic mistakes and correct variants."""

from tests.mistakes import edit

MISTAKES = [
    edit(
        "cos_and_sin_swapped",
        "encoding[:, 0::2] = torch.sin(position * div_term)",
        "encoding[:, 0::2] = torch.cos(position * div_term)",
        "cos and sin swapped",
    ),
]

VARIANTS = []
