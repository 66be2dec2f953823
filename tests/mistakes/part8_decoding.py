"""Part 8 (decoding): realistic mistakes and correct variants."""

from tests.mistakes import edit

MISTAKES = [
    edit(
        "top_k_keeps_k_1",
        "kth = torch.topk(logits, k, dim=-1).values[..., -1:]",
        "kth = torch.topk(logits, k + 1, dim=-1).values[..., -1:]",
        "top-k keeps k + 1",
    ),
    edit(
        "greedy_keeps_writing_after_eos",
        "next_token = logits.argmax(dim=-1).masked_fill(finished, pad_id)",
        "next_token = logits.argmax(dim=-1)",
        "greedy keeps writing after EOS",
    ),
]

VARIANTS = []
