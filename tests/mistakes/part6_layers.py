"""Part 6 (layers): realistic mistakes and correct variants.

An edit replaces the first occurrence of its text: the encoder's constructor lines come
before the decoder's identical ones, so a decoder mistake quotes a line only it has.
"""

from tests.mistakes import Edit, edit

MEAN = "        mean = x.mean(dim=-1, keepdim=True)\n"
VARIANCE = "        variance = (x - mean).pow(2).mean(dim=-1, keepdim=True)\n"
NORMALISE = (
    "        return self.weight * (x - mean) / torch.sqrt(variance + self.eps) + self.bias\n"
)
FEED_FORWARD = "        return self.linear2(self.dropout(self.activation(self.linear1(x))))\n"
RESIDUAL = "        return x + self.dropout(sublayer(self.norm(x)))\n"
ATTENTION = "self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)"
CROSS_ATTENTION = "self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout)"
FFN = "self.feed_forward = FeedForward(d_model, d_ff, dropout, activation)"
DECODER_FFN = CROSS_ATTENTION + "\n        " + FFN
ENCODER_SUBLAYERS = (
    "        self.sublayer1 = SublayerConnection(d_model, dropout, eps)\n"
    "        self.sublayer2 = SublayerConnection(d_model, dropout, eps)\n"
)
DECODER_SUBLAYERS = ENCODER_SUBLAYERS + (
    "        self.sublayer3 = SublayerConnection(d_model, dropout, eps)\n"
)
ENCODER_FORWARD = (
    "        x = self.sublayer1(x, lambda y: self.self_attn(y, y, y, mask))\n"
    "        return self.sublayer2(x, self.feed_forward)\n"
)
DECODER_SELF = "        x = self.sublayer1(x, lambda y: self.self_attn(y, y, y, tgt_mask))\n"
DECODER_CROSS = (
    "        x = self.sublayer2(x, lambda y: self.cross_attn(y, memory, memory, src_mask))\n"
)
DECODER_FEED = "        return self.sublayer3(x, self.feed_forward)\n"

MISTAKES = [
    # ------------------------------------------------------------ LayerNorm
    edit(
        "layernorm_with_eps_outside_the_square_root",
        "torch.sqrt(variance + self.eps)",
        "(torch.sqrt(variance) + self.eps)",
        "LayerNorm with eps outside the square root (the textbook's bug)",
    ),
    edit(
        "layernorm_with_the_unbiased_variance",
        VARIANCE,
        "        variance = x.var(dim=-1, keepdim=True)\n",
        "LayerNorm with the unbiased variance",
    ),
    edit(
        "layernorm_without_eps",
        "torch.sqrt(variance + self.eps)",
        "torch.sqrt(variance)",
        "LayerNorm ignores eps: a row of equal values divides 0 by 0",
    ),
    Edit(
        "layernorm_over_the_whole_tensor",
        (
            (MEAN, "        mean = x.mean()\n"),
            (VARIANCE, "        variance = (x - mean).pow(2).mean()\n"),
        ),
        "LayerNorm takes the mean and variance of the whole tensor instead of each position's "
        "features",
    ),
    Edit(
        "layernorm_over_the_first_dimension",
        (
            (MEAN, "        mean = x.mean(dim=0, keepdim=True)\n"),
            (VARIANCE, "        variance = (x - mean).pow(2).mean(dim=0, keepdim=True)\n"),
        ),
        "LayerNorm normalises over dim 0 (the batch) instead of the last dimension",
    ),
    edit(
        "layernorm_without_gain_and_bias",
        NORMALISE,
        "        return (x - mean) / torch.sqrt(variance + self.eps)\n",
        "LayerNorm never applies its weight and bias",
    ),
    edit(
        "layernorm_weight_starts_at_zero",
        "self.weight = nn.Parameter(torch.ones(d_model))",
        "self.weight = nn.Parameter(torch.zeros(d_model))",
        "LayerNorm's weight starts at 0, so a fresh layer outputs its bias whatever x is",
    ),
    Edit(
        "layernorm_weights_are_plain_tensors",
        (
            (
                "self.weight = nn.Parameter(torch.ones(d_model))",
                "self.weight = torch.ones(d_model)",
            ),
            ("self.bias = nn.Parameter(torch.zeros(d_model))", "self.bias = torch.zeros(d_model)"),
        ),
        "LayerNorm's weight and bias are plain tensors: not parameters, never trained or saved",
    ),
    # ------------------------------------------------------------ FeedForward
    edit(
        "feed_forward_without_activation",
        FEED_FORWARD,
        "        return self.linear2(self.dropout(self.linear1(x)))\n",
        "FeedForward has no activation between its linears",
    ),
    edit(
        "feed_forward_activation_after_linear2",
        FEED_FORWARD,
        "        return self.activation(self.linear2(self.dropout(self.linear1(x))))\n",
        "FeedForward applies the activation after linear2 instead of between the linears",
    ),
    edit(
        "feed_forward_always_relu",
        FEED_FORWARD,
        "        return self.linear2(self.dropout(torch.relu(self.linear1(x))))\n",
        "FeedForward always uses ReLU, whatever activation it was given",
    ),
    edit(
        "feed_forward_always_gelu",
        FEED_FORWARD,
        "        return self.linear2(self.dropout(nn.functional.gelu(self.linear1(x))))\n",
        "FeedForward always uses GELU, whatever activation it was given",
    ),
    edit(
        "feed_forward_dropout_after_linear2",
        FEED_FORWARD,
        "        return self.dropout(self.linear2(self.activation(self.linear1(x))))\n",
        "FeedForward's dropout is applied to its output instead of to the hidden units",
    ),
    edit(
        "feed_forward_dropout_on_the_input",
        FEED_FORWARD,
        "        return self.linear2(self.activation(self.linear1(self.dropout(x))))\n",
        "FeedForward's dropout is applied to its input instead of to the hidden units",
    ),
    edit(
        "feed_forward_dropout_before_the_activation",
        FEED_FORWARD,
        "        return self.linear2(self.activation(self.dropout(self.linear1(x))))\n",
        "FeedForward's dropout is applied before the activation instead of after it",
    ),
    edit(
        "feed_forward_without_dropout",
        FEED_FORWARD,
        "        return self.linear2(self.activation(self.linear1(x)))\n",
        "FeedForward never applies its dropout",
    ),
    Edit(
        "feed_forward_hidden_width_d_model",
        (
            (
                "self.linear1 = nn.Linear(d_model, d_ff)",
                "self.linear1 = nn.Linear(d_model, d_model)",
            ),
            (
                "self.linear2 = nn.Linear(d_ff, d_model)",
                "self.linear2 = nn.Linear(d_model, d_model)",
            ),
        ),
        "FeedForward's hidden layer has d_model units instead of d_ff",
    ),
    # ------------------------------------------------------------ SublayerConnection
    edit(
        "post_ln_instead_of_pre_ln",
        RESIDUAL,
        "        return self.norm(x + self.dropout(sublayer(x)))\n",
        "Post-LN instead of Pre-LN",
    ),
    edit(
        "no_residual",
        RESIDUAL,
        "        return self.dropout(sublayer(self.norm(x)))\n",
        "SublayerConnection forgets the residual: it returns the sublayer's output alone",
    ),
    edit(
        "residual_from_the_normalised_x",
        RESIDUAL,
        "        normed = self.norm(x)\n        return normed + self.dropout(sublayer(normed))\n",
        "the residual adds the normalised x instead of x itself",
    ),
    edit(
        "norm_after_the_sublayer",
        RESIDUAL,
        "        return x + self.dropout(self.norm(sublayer(x)))\n",
        "the norm is applied to the sublayer's output instead of its input",
    ),
    edit(
        "dropout_on_the_residual_sum",
        RESIDUAL,
        "        return self.dropout(x + sublayer(self.norm(x)))\n",
        "SublayerConnection's dropout is applied to x + sublayer(norm(x)), residual included",
    ),
    edit(
        "dropout_on_the_sublayer_input",
        RESIDUAL,
        "        return x + sublayer(self.dropout(self.norm(x)))\n",
        "SublayerConnection's dropout is applied to the sublayer's input instead of its output",
    ),
    edit(
        "sublayer_connection_without_dropout",
        RESIDUAL,
        "        return x + sublayer(self.norm(x))\n",
        "SublayerConnection never applies its dropout",
    ),
    edit(
        "sublayer_dropout_also_in_eval_mode",
        RESIDUAL,
        "        return x + nn.functional.dropout(sublayer(self.norm(x)), self.dropout.p)\n",
        "F.dropout is called without training=self.training, so it also drops in eval mode",
    ),
    # ------------------------------------------------------------ EncoderLayer
    edit(
        "encoder_attention_without_dropout",
        ATTENTION,
        "self.self_attn = MultiHeadAttention(d_model, num_heads)",
        "EncoderLayer does not pass dropout to its self-attention",
    ),
    edit(
        "encoder_feed_forward_without_dropout",
        FFN,
        "self.feed_forward = FeedForward(d_model, d_ff, activation=activation)",
        "EncoderLayer does not pass dropout to its feed-forward",
    ),
    edit(
        "encoder_sublayers_without_dropout",
        ENCODER_SUBLAYERS,
        "        self.sublayer1 = SublayerConnection(d_model, eps=eps)\n"
        "        self.sublayer2 = SublayerConnection(d_model, eps=eps)\n",
        "EncoderLayer does not pass dropout to its residual connections",
    ),
    edit(
        "encoder_activation_not_passed",
        FFN,
        "self.feed_forward = FeedForward(d_model, d_ff, dropout)",
        "EncoderLayer does not pass its activation to the feed-forward (always GELU)",
    ),
    edit(
        "encoder_eps_not_passed",
        ENCODER_SUBLAYERS,
        "        self.sublayer1 = SublayerConnection(d_model, dropout)\n"
        "        self.sublayer2 = SublayerConnection(d_model, dropout)\n",
        "EncoderLayer does not pass eps to its layer norms (always 1e-5)",
    ),
    edit(
        "encoder_mask_dropped",
        "self.self_attn(y, y, y, mask)",
        "self.self_attn(y, y, y)",
        "EncoderLayer's self-attention ignores the padding mask",
    ),
    edit(
        "encoder_attends_from_the_unnormalised_x",
        "lambda y: self.self_attn(y, y, y, mask)",
        "lambda y: self.self_attn(x, x, x, mask)",
        "EncoderLayer's self-attention reads x from outside the lambda, so it never sees the "
        "normalised input",
    ),
    edit(
        "encoder_feed_forward_first",
        ENCODER_FORWARD,
        "        x = self.sublayer1(x, self.feed_forward)\n"
        "        return self.sublayer2(x, lambda y: self.self_attn(y, y, y, mask))\n",
        "EncoderLayer runs the feed-forward before the self-attention",
    ),
    edit(
        "encoder_reuses_sublayer1",
        "        return self.sublayer2(x, self.feed_forward)\n",
        "        return self.sublayer1(x, self.feed_forward)\n",
        "EncoderLayer wraps both sublayers in sublayer1, so sublayer2's norm is never used",
    ),
    # ------------------------------------------------------------ DecoderLayer
    edit(
        "decoder_cross_attention_without_dropout",
        CROSS_ATTENTION,
        "self.cross_attn = MultiHeadAttention(d_model, num_heads)",
        "DecoderLayer does not pass dropout to its cross-attention",
    ),
    edit(
        "decoder_feed_forward_without_dropout",
        DECODER_FFN,
        CROSS_ATTENTION + "\n        self.feed_forward = FeedForward(d_model, d_ff)",
        "DecoderLayer passes neither dropout nor the activation to its feed-forward",
    ),
    edit(
        "decoder_activation_not_passed",
        DECODER_FFN,
        CROSS_ATTENTION + "\n        self.feed_forward = FeedForward(d_model, d_ff, dropout)",
        "DecoderLayer does not pass its activation to the feed-forward (always GELU)",
    ),
    edit(
        "decoder_eps_not_passed",
        DECODER_FFN + "\n" + DECODER_SUBLAYERS,
        DECODER_FFN + "\n"
        "        self.sublayer1 = SublayerConnection(d_model, dropout)\n"
        "        self.sublayer2 = SublayerConnection(d_model, dropout)\n"
        "        self.sublayer3 = SublayerConnection(d_model, dropout)\n",
        "DecoderLayer does not pass eps to its layer norms (always 1e-5)",
    ),
    edit(
        "decoder_causal_mask_dropped",
        DECODER_SELF,
        "        x = self.sublayer1(x, lambda y: self.self_attn(y, y, y))\n",
        "DecoderLayer's self-attention ignores tgt_mask, so it sees later targets",
    ),
    edit(
        "decoder_memory_mask_dropped",
        DECODER_CROSS,
        "        x = self.sublayer2(x, lambda y: self.cross_attn(y, memory, memory))\n",
        "DecoderLayer's cross-attention ignores src_mask, so it attends to padded memory",
    ),
    Edit(
        "decoder_masks_swapped",
        (
            (
                DECODER_SELF,
                "        x = self.sublayer1(x, lambda y: self.self_attn(y, y, y, src_mask))\n",
            ),
            (
                DECODER_CROSS,
                "        x = self.sublayer2(x, lambda y: self.cross_attn(y, memory, memory, "
                "tgt_mask))\n",
            ),
        ),
        "DecoderLayer gives src_mask to the self-attention and tgt_mask to the cross-attention",
    ),
    edit(
        "cross_attention_ignores_the_memory",
        DECODER_CROSS,
        "        x = self.sublayer2(x, lambda y: self.cross_attn(y, y, y))\n",
        "the cross-attention attends to the decoder's own positions instead of the memory",
    ),
    edit(
        "cross_attention_queries_from_memory",
        DECODER_CROSS,
        "        x = self.sublayer2(x, lambda y: self.cross_attn(memory, y, y, src_mask))\n",
        "the cross-attention takes its queries from the memory and its keys from x",
    ),
    edit(
        "self_attention_reads_the_memory",
        DECODER_SELF,
        "        x = self.sublayer1(x, lambda y: self.self_attn(y, memory, memory, src_mask))\n",
        "the decoder's first attention reads the memory: it attends to the encoder twice",
    ),
    Edit(
        "decoder_cross_attention_first",
        (
            (
                DECODER_SELF + DECODER_CROSS,
                "        x = self.sublayer1(x, lambda y: self.cross_attn(y, memory, memory, "
                "src_mask))\n"
                "        x = self.sublayer2(x, lambda y: self.self_attn(y, y, y, tgt_mask))\n",
            ),
        ),
        "DecoderLayer runs the cross-attention before the masked self-attention",
    ),
    edit(
        "decoder_reuses_sublayer2",
        DECODER_FEED,
        "        return self.sublayer2(x, self.feed_forward)\n",
        "DecoderLayer wraps the feed-forward in sublayer2, so sublayer3's norm is never used",
    ),
    edit(
        "decoder_forgets_the_feed_forward",
        DECODER_FEED,
        "        return x\n",
        "DecoderLayer stops after the cross-attention: the feed-forward never runs",
    ),
]

VARIANTS = [
    Edit(
        "layernorm_with_var_mean_and_rsqrt",
        (
            (
                MEAN + VARIANCE,
                "        variance, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)\n",
            ),
            (
                NORMALISE,
                "        return self.weight * (x - mean) * torch.rsqrt(variance + self.eps)"
                " + self.bias\n",
            ),
        ),
        "LayerNorm with torch.var_mean and torch.rsqrt",
    ),
    edit(
        "layernorm_with_addcmul",
        NORMALISE,
        "        normalised = (x - mean) / torch.sqrt(variance + self.eps)\n"
        "        return torch.addcmul(self.bias, self.weight, normalised)\n",
        "LayerNorm's gain and bias applied with torch.addcmul",
    ),
    edit(
        "functional_dropout",
        FEED_FORWARD,
        "        hidden = self.activation(self.linear1(x))\n"
        "        hidden = nn.functional.dropout(hidden, self.dropout.p, self.training)\n"
        "        return self.linear2(hidden)\n",
        "FeedForward calls F.dropout with training=self.training",
    ),
    edit(
        "sublayer_connection_step_by_step",
        RESIDUAL,
        "        normed = self.norm(x)\n"
        "        out = sublayer(normed)\n"
        "        out = self.dropout(out)\n"
        "        return x + out\n",
        "SublayerConnection written one step a line",
    ),
    Edit(
        "named_helpers_with_a_loop",
        (
            (
                ENCODER_FORWARD,
                "        def attend(y: torch.Tensor) -> torch.Tensor:\n"
                "            return self.self_attn(y, y, y, mask)\n"
                "\n"
                "        steps = ((self.sublayer1, attend), (self.sublayer2, self.feed_forward))\n"
                "        for connection, sublayer in steps:\n"
                "            x = connection(x, sublayer)\n"
                "        return x\n",
            ),
            (
                DECODER_SELF + DECODER_CROSS + DECODER_FEED,
                "        def attend_self(y: torch.Tensor) -> torch.Tensor:\n"
                "            return self.self_attn(y, y, y, tgt_mask)\n"
                "\n"
                "        def attend_memory(y: torch.Tensor) -> torch.Tensor:\n"
                "            return self.cross_attn(y, memory, memory, src_mask)\n"
                "\n"
                "        x = self.sublayer1(x, attend_self)\n"
                "        x = self.sublayer2(x, attend_memory)\n"
                "        return self.sublayer3(x, self.feed_forward)\n",
            ),
        ),
        "the layers name their attention helpers and loop over (connection, sublayer) pairs",
    ),
    Edit(
        "keyword_constructors",
        (
            *(
                (
                    f"{name} = MultiHeadAttention(d_model, num_heads, dropout)",
                    f"{name} = MultiHeadAttention(d_model=d_model, num_heads=num_heads,"
                    " dropout=dropout)",
                )
                for name in ("self.self_attn", "self.self_attn", "self.cross_attn")
            ),
            *(
                (
                    FFN,
                    "self.feed_forward = FeedForward(d_model, d_ff, dropout=dropout,"
                    " activation=activation)",
                ),
            )
            * 2,
            *(
                (
                    f"self.sublayer{n} = SublayerConnection(d_model, dropout, eps)",
                    f"self.sublayer{n} = SublayerConnection(d_model, eps=eps, dropout=dropout)",
                )
                for n in (1, 2, 1, 2, 3)
            ),
        ),
        "the layers build their submodules with keyword arguments",
    ),
]
