"""Part 7 (model): realistic mistakes and correct variants."""

from tests.mistakes import edit

MISTAKES = [
    edit(
        "token_embeddings_not_scaled",
        "return self.position(self.token(tokens) * math.sqrt(self.d_model))",
        "return self.position(self.token(tokens))",
        "token embeddings not scaled",
    ),
    edit(
        "decoder_without_the_causal_mask",
        "            tgt_mask = target_mask(tgt, self.config.pad_id)\n",
        "            tgt_mask = None\n",
        "decoder without the causal mask",
    ),
    edit(
        "source_padding_not_masked",
        (
            "            src_mask = padding_mask(src, self.config.pad_id)\n"
            "        return self.decode("
        ),
        "            src_mask = None\n        return self.decode(",
        "source padding not masked",
    ),
]

VARIANTS = []
