"""Part 7 (model): realistic mistakes and correct variants."""

from tests.mistakes import Edit, edit

SCALE = "return self.position(self.token(tokens) * math.sqrt(self.d_model))"
SINUSOIDAL = "self.position = PositionalEncoding(config.d_model, config.max_len, config.dropout)"
ENCODER_LAYERS = (
    "        self.embeddings = Embeddings(config.src_vocab_size, config)\n"
    "        self.layers = nn.ModuleList(\n"
    "            EncoderLayer(\n"
)
ENCODER_LOOP = "            x = layer(x, src_mask)\n        return self.norm(x)\n"
DECODER_LOOP = "            x = layer(x, memory, src_mask, tgt_mask)\n        return self.norm(x)\n"
DEFAULT_TGT = "            tgt_mask = target_mask(tgt, self.config.pad_id)\n"
DEFAULT_SRC = (
    "        if src_mask is None:\n"
    "            src_mask = padding_mask(src, self.config.pad_id)\n"
    "        return self.decode("
)
FORWARD = "        return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)\n"
GENERATOR = "        return self.generator(self.decoder(tgt, memory, src_mask, tgt_mask))\n"

MISTAKES = [
    edit(
        "token_embeddings_not_scaled",
        SCALE,
        "return self.position(self.token(tokens))",
        "the token embeddings are not multiplied by sqrt(d_model)",
    ),
    edit(
        "token_embeddings_scaled_by_d_model",
        SCALE,
        "return self.position(self.token(tokens) * self.d_model)",
        "the token embeddings are multiplied by d_model instead of sqrt(d_model)",
    ),
    edit(
        "embeddings_divided_by_sqrt_d_model",
        SCALE,
        "return self.position(self.token(tokens) / math.sqrt(self.d_model))",
        "the token embeddings are divided by sqrt(d_model) instead of multiplied",
    ),
    edit(
        "positions_scaled_too",
        SCALE,
        "return self.position(self.token(tokens)) * math.sqrt(self.d_model)",
        "the sum of tokens and positions is scaled, so the positions are scaled too",
    ),
    edit(
        "learned_positions_ignored",
        '        if config.positional == "learned":\n',
        "        if False:\n",
        "positional='learned' is ignored: the sinusoidal encoding is always used",
    ),
    edit(
        "max_len_not_passed_on",
        SINUSOIDAL,
        "self.position = PositionalEncoding(config.d_model, dropout=config.dropout)",
        "the sinusoidal encoding gets its default max_len instead of the config's",
    ),
    edit(
        "embedding_dropout_not_passed_on",
        SINUSOIDAL,
        "self.position = PositionalEncoding(config.d_model, config.max_len)",
        "the positional encoding gets no dropout",
    ),
    Edit(
        "embedding_dropout_applied_twice",
        (
            (
                "        self.token = nn.Embedding(vocab_size, config.d_model)\n",
                "        self.token = nn.Embedding(vocab_size, config.d_model)\n"
                "        self.dropout = nn.Dropout(config.dropout)\n",
            ),
            (
                SCALE,
                "return self.dropout(self.position(self.token(tokens) * math.sqrt(self.d_model)))",
            ),
        ),
        "Embeddings apply their own dropout after the positions' (dropout twice)",
    ),
    edit(
        "layers_get_no_dropout",
        (
            "            EncoderLayer(\n"
            "                config.d_model,\n"
            "                config.num_heads,\n"
            "                config.d_ff,\n"
            "                config.dropout,\n"
        ),
        (
            "            EncoderLayer(\n"
            "                config.d_model,\n"
            "                config.num_heads,\n"
            "                config.d_ff,\n"
            "                0.0,\n"
        ),
        "the encoder layers get no dropout",
    ),
    edit(
        "decoder_layers_get_no_dropout",
        (
            "            DecoderLayer(\n"
            "                config.d_model,\n"
            "                config.num_heads,\n"
            "                config.d_ff,\n"
            "                config.dropout,\n"
        ),
        (
            "            DecoderLayer(\n"
            "                config.d_model,\n"
            "                config.num_heads,\n"
            "                config.d_ff,\n"
            "                0.0,\n"
        ),
        "the decoder layers get no dropout",
    ),
    edit(
        "activation_not_passed_on",
        (
            "                config.dropout,\n"
            "                config.activation,\n"
            "                config.layer_norm_eps,\n"
            "            )\n"
            "            for _ in range(config.num_encoder_layers)\n"
        ),
        (
            "                config.dropout,\n"
            "            )\n"
            "            for _ in range(config.num_encoder_layers)\n"
        ),
        "the encoder layers get the default activation and eps instead of the config's",
    ),
    edit(
        "final_norm_eps_not_passed_on",
        "        self.norm = LayerNorm(config.d_model, config.layer_norm_eps)\n",
        "        self.norm = LayerNorm(config.d_model)\n",
        "the encoder's final LayerNorm gets the default eps instead of the config's",
    ),
    edit(
        "encoder_layers_shared",
        "            for _ in range(config.num_encoder_layers)\n        )\n",
        (
            "        )\n"
            "        shared = list(self.layers[:1])\n"
            "        self.layers = nn.ModuleList(shared * config.num_encoder_layers)\n"
        ),
        "the encoder repeats one layer instead of num_encoder_layers different layers",
    ),
    edit(
        "encoder_without_final_norm",
        ENCODER_LOOP,
        "            x = layer(x, src_mask)\n        return x\n",
        "the encoder does not apply its final LayerNorm",
    ),
    edit(
        "decoder_without_final_norm",
        DECODER_LOOP,
        "            x = layer(x, memory, src_mask, tgt_mask)\n        return x\n",
        "the decoder does not apply its final LayerNorm",
    ),
    edit(
        "encoder_norm_inside_the_loop",
        ENCODER_LOOP,
        "            x = self.norm(layer(x, src_mask))\n        return x\n",
        "the encoder's final LayerNorm is applied after every layer",
    ),
    edit(
        "decoder_embeds_with_the_source_vocabulary",
        "        self.embeddings = Embeddings(config.tgt_vocab_size, config)\n",
        "        self.embeddings = Embeddings(config.src_vocab_size, config)\n",
        "the decoder's embeddings have src_vocab_size rows instead of tgt_vocab_size",
    ),
    edit(
        "decoder_masks_swapped",
        DECODER_LOOP,
        "            x = layer(x, memory, tgt_mask, src_mask)\n        return self.norm(x)\n",
        "the decoder passes the target mask to the cross-attention and the source mask to the "
        "self-attention",
    ),
    edit(
        "cross_attention_unmasked",
        DECODER_LOOP,
        "            x = layer(x, memory, None, tgt_mask)\n        return self.norm(x)\n",
        "the decoder's cross-attention ignores the source mask",
    ),
    edit(
        "decoder_without_the_causal_mask",
        DEFAULT_TGT,
        "            tgt_mask = padding_mask(tgt, self.config.pad_id)\n",
        "decode's default target mask hides padding but not the future",
    ),
    Edit(
        "target_mask_without_padding",
        (
            (
                "from .masks import padding_mask, target_mask",
                "from .masks import causal_mask, padding_mask, target_mask",
            ),
            (DEFAULT_TGT, "            tgt_mask = causal_mask(tgt.shape[1], tgt.device)\n"),
        ),
        "decode's default target mask hides the future but not the target padding",
    ),
    edit(
        "source_padding_not_masked",
        DEFAULT_SRC,
        "        return self.decode(",
        "forward builds no source padding mask",
    ),
    edit(
        "source_mask_from_pad_id_zero",
        "            src_mask = padding_mask(src, self.config.pad_id)\n        return self.decode(",
        "            src_mask = padding_mask(src)\n        return self.decode(",
        "forward builds the source mask for pad id 0 instead of config.pad_id",
    ),
    edit(
        "target_mask_from_pad_id_zero",
        DEFAULT_TGT,
        "            tgt_mask = target_mask(tgt)\n",
        "decode builds the target mask for pad id 0 instead of config.pad_id",
    ),
    edit(
        "given_source_mask_ignored",
        DEFAULT_SRC,
        "        src_mask = padding_mask(src, self.config.pad_id)\n        return self.decode(",
        "forward always builds the padding mask, ignoring a src_mask it is given",
    ),
    edit(
        "given_target_mask_ignored",
        "        if tgt_mask is None:\n" + DEFAULT_TGT,
        "        tgt_mask = target_mask(tgt, self.config.pad_id)\n",
        "decode always builds the target mask, ignoring a tgt_mask it is given",
    ),
    edit(
        "memory_detached",
        FORWARD,
        (
            "        memory = self.encode(src, src_mask).detach()\n"
            "        return self.decode(tgt, memory, src_mask, tgt_mask)\n"
        ),
        "the memory is detached, so the encoder learns nothing",
    ),
    edit(
        "generator_without_bias",
        "self.generator = nn.Linear(config.d_model, config.tgt_vocab_size)",
        "self.generator = nn.Linear(config.d_model, config.tgt_vocab_size, bias=False)",
        "the generator has no bias",
    ),
    edit(
        "decode_returns_the_decoder_states",
        GENERATOR,
        "        return self.decoder(tgt, memory, src_mask, tgt_mask)\n",
        "decode returns the decoder's states instead of logits",
    ),
    edit(
        "generator_gives_log_probabilities",
        GENERATOR,
        (
            "        logits = self.generator(self.decoder(tgt, memory, src_mask, tgt_mask))\n"
            "        return torch.log_softmax(logits, dim=-1)\n"
        ),
        "decode returns log-probabilities instead of logits",
    ),
]

VARIANTS = [
    Edit(
        "scale_as_a_power_and_explicit_masks",
        (
            (SCALE, "return self.position(self.token(tokens) * self.d_model**0.5)"),
            (
                "            src_mask = padding_mask(src, self.config.pad_id)\n"
                "        return self.decode(",
                "            src_mask = (src != self.config.pad_id).unsqueeze(1).unsqueeze(2)\n"
                "        return self.decode(",
            ),
            (
                DEFAULT_TGT,
                "            length = tgt.shape[1]\n"
                "            future = torch.triu(\n"
                "                torch.ones(length, length, dtype=torch.bool, device=tgt.device),\n"
                "                diagonal=1,\n"
                "            )\n"
                "            tgt_mask = (tgt != self.config.pad_id)[:, None, None, :] & ~future\n",
            ),
        ),
        "sqrt(d_model) as a power, masks built by comparisons and torch.triu",
    ),
    Edit(
        "layers_from_a_list_and_forward_without_encode",
        (
            (
                "        self.layers = nn.ModuleList(\n"
                "            EncoderLayer(\n"
                "                config.d_model,\n"
                "                config.num_heads,\n"
                "                config.d_ff,\n"
                "                config.dropout,\n"
                "                config.activation,\n"
                "                config.layer_norm_eps,\n"
                "            )\n"
                "            for _ in range(config.num_encoder_layers)\n"
                "        )\n",
                "        layers = []\n"
                "        for _ in range(config.num_encoder_layers):\n"
                "            layers.append(\n"
                "                EncoderLayer(\n"
                "                    d_model=config.d_model,\n"
                "                    num_heads=config.num_heads,\n"
                "                    d_ff=config.d_ff,\n"
                "                    dropout=config.dropout,\n"
                "                    activation=config.activation,\n"
                "                    eps=config.layer_norm_eps,\n"
                "                )\n"
                "            )\n"
                "        self.layers = nn.ModuleList(layers)\n",
            ),
            (
                FORWARD,
                "        memory = self.encoder(src, src_mask)\n"
                "        if tgt_mask is None:\n"
                "            tgt_mask = target_mask(tgt, self.config.pad_id)\n"
                "        return self.generator(self.decoder(tgt, memory, src_mask, tgt_mask))\n",
            ),
        ),
        "encoder layers appended to a list with keyword arguments; forward calls the encoder "
        "and decoder directly",
    ),
    Edit(
        "layers_applied_by_index",
        (
            (
                "        for layer in self.layers:\n            x = layer(x, src_mask)\n",
                "        for index in range(len(self.layers)):\n"
                "            x = self.layers[index](x, mask=src_mask)\n",
            ),
            (
                "        x = self.embeddings(tgt)\n        for layer in self.layers:\n",
                "        x = self.embeddings(tgt)\n"
                "        for _, layer in enumerate(self.layers):\n",
            ),
        ),
        "encoder layers applied by index with a keyword mask",
    ),
    Edit(
        "embedding_scale_kept_as_a_buffer",
        (
            (
                "        self.token = nn.Embedding(vocab_size, config.d_model)\n",
                "        self.token = nn.Embedding(vocab_size, config.d_model)\n"
                "        self.register_buffer(\n"
                '            "scale", torch.tensor(config.d_model**0.5), persistent=False\n'
                "        )\n",
            ),
            (SCALE, "return self.position(self.token(tokens) * self.scale)"),
        ),
        "sqrt(d_model) kept as a non-persistent buffer",
    ),
]
