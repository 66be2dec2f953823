"""Part 8 (decoding): realistic mistakes and correct variants."""

from tests.mistakes import Edit, edit

KTH = "kth = torch.topk(logits, k, dim=-1).values[..., -1:]"
TOP_K_FILL = 'return logits.masked_fill(logits < kth, float("-inf"))'
DROP_SORTED = "drop_sorted = probabilities.cumsum(dim=-1) - probabilities >= p"
UNSORT = "drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)"
GREEDY_STEP = (
    "        logits = model.decode(tokens, memory, src_mask)[:, -1]\n"
    "        next_token = logits.argmax(dim=-1).masked_fill(finished, pad_id)\n"
)
GREEDY_START = (
    "    src_mask = _source_mask(src, pad_id, src_mask)\n"
    "    memory = model.encode(src, src_mask)\n"
    "    tokens = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)\n"
    "    finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)\n"
    "    while tokens.shape[1] < max_len and not finished.all():\n"
    "        logits = model.decode(tokens, memory, src_mask)[:, -1]\n"
)
BEAM_MEMORY = "memory = model.encode(src, src_mask).repeat_interleave(beam_size, dim=0)"
BEAM_START = "    scores[:, 0] = 0.0  # all beams start identical: keep one so they do not repeat\n"
FINISHED_PAD = (
    '        log_probs[finished] = float("-inf")\n        log_probs[finished, pad_id] = 0.0\n'
)
LENGTHS = "        lengths = lengths[origin] + (~finished[origin]).float()\n"
NORMALISED = "    normalised = scores.reshape(-1) / lengths.clamp(min=1.0) ** length_penalty\n"
ORIGIN = (
    "        origin = chosen // vocab + torch.arange(batch, device=device)[:, None] * beam_size\n"
)
TEMPERATURE = (
    "        logits = model.decode(tokens, memory, src_mask)[:, -1].float() / temperature\n"
)
FILTERS = (
    "        if top_k is not None:\n"
    "            logits = top_k_filter(logits, top_k)\n"
    "        if top_p is not None:\n"
    "            logits = top_p_filter(logits, top_p)\n"
)
DRAW = "        next_token = torch.multinomial(probabilities, 1, generator=generator).squeeze(1)\n"
SAMPLE_PAD = "        next_token = next_token.masked_fill(finished, pad_id)\n"

MISTAKES = [
    edit("top_k_keeps_k_1", KTH, KTH.replace("k, dim", "k + 1, dim"), "top-k keeps k + 1 tokens"),
    edit(
        "top_k_drops_the_kth",
        TOP_K_FILL,
        'return logits.masked_fill(logits <= kth, float("-inf"))',
        "top-k drops the k-th largest logit too, keeping k - 1",
    ),
    Edit(
        "top_k_drops_ties",
        (
            (KTH, "keep = torch.topk(logits, k, dim=-1).indices"),
            (
                TOP_K_FILL,
                "drop = torch.ones_like(logits, dtype=torch.bool).scatter(-1, keep, False)\n"
                '    return logits.masked_fill(drop, float("-inf"))',
            ),
        ),
        "top-k keeps exactly the k indices torch.topk returns, dropping logits tied with the "
        "k-th largest",
    ),
    edit(
        "top_k_sets_zero",
        TOP_K_FILL,
        "return logits.masked_fill(logits < kth, 0.0)",
        "top-k sets the dropped logits to 0 instead of -inf",
    ),
    edit(
        "top_p_drops_the_token_reaching_p",
        DROP_SORTED,
        "drop_sorted = probabilities.cumsum(dim=-1) >= p",
        "top-p also drops the token whose probability makes the kept mass reach p",
    ),
    edit(
        "top_p_on_logits",
        "    probabilities = torch.softmax(sorted_logits, dim=-1)\n",
        "    probabilities = sorted_logits\n",
        "top-p sums the logits instead of the probabilities",
    ),
    edit(
        "top_p_mask_left_sorted",
        UNSORT,
        "drop = drop_sorted",
        "top-p applies the mask of the sorted tokens to the unsorted logits",
    ),
    edit(
        "top_p_sorted_ascending",
        "sorted_logits, order = torch.sort(logits, dim=-1, descending=True)",
        "sorted_logits, order = torch.sort(logits, dim=-1)",
        "top-p adds up the least likely tokens first",
    ),
    edit(
        "greedy_keeps_writing_after_eos",
        "next_token = logits.argmax(dim=-1).masked_fill(finished, pad_id)",
        "next_token = logits.argmax(dim=-1)",
        "greedy keeps writing tokens after EOS",
    ),
    edit(
        "greedy_reads_the_first_position",
        GREEDY_STEP,
        GREEDY_STEP.replace("[:, -1]", "[:, 0]"),
        "greedy takes the logits of the first position instead of the last",
    ),
    edit(
        "greedy_stops_when_one_row_ends",
        "    while tokens.shape[1] < max_len and not finished.all():\n"
        "        logits = model.decode(tokens, memory, src_mask)[:, -1]\n",
        "    while tokens.shape[1] < max_len and not finished.any():\n"
        "        logits = model.decode(tokens, memory, src_mask)[:, -1]\n",
        "greedy stops as soon as one sequence of the batch has ended",
    ),
    edit(
        "greedy_one_token_too_many",
        "    while tokens.shape[1] < max_len and not finished.all():\n"
        "        logits = model.decode(tokens, memory, src_mask)[:, -1]\n",
        "    while tokens.shape[1] <= max_len and not finished.all():\n"
        "        logits = model.decode(tokens, memory, src_mask)[:, -1]\n",
        "greedy returns max_len + 1 tokens",
    ),
    edit(
        "greedy_ignores_the_given_mask",
        GREEDY_START,
        GREEDY_START.replace(
            "    src_mask = _source_mask(src, pad_id, src_mask)\n",
            "    src_mask = _source_mask(src, pad_id, None)\n",
        ),
        "greedy builds the padding mask even when a src_mask is given",
    ),
    edit(
        "greedy_decodes_without_the_mask",
        GREEDY_STEP,
        GREEDY_STEP.replace(
            "model.decode(tokens, memory, src_mask)", "model.decode(tokens, memory)"
        ),
        "greedy passes no source mask to decode",
    ),
    edit(
        "greedy_mask_from_pad_id_zero",
        GREEDY_START,
        GREEDY_START.replace(
            "_source_mask(src, pad_id, src_mask)", "_source_mask(src, 0, src_mask)"
        ),
        "greedy builds the source mask for pad id 0 instead of pad_id",
    ),
    edit(
        "beam_all_beams_alive_at_the_start",
        BEAM_START,
        "    scores[:, :] = 0.0\n",
        "beam search starts every beam alive, so the beams repeat one another",
    ),
    edit(
        "beam_finished_hypotheses_keep_scoring",
        FINISHED_PAD,
        "",
        "beam search keeps adding the model's scores after a hypothesis reached EOS",
    ),
    edit(
        "beam_length_counts_bos",
        "    lengths = torch.zeros(batch * beam_size, device=device)\n",
        "    lengths = torch.ones(batch * beam_size, device=device)\n",
        "the length in the length penalty counts BOS",
    ),
    edit(
        "beam_length_without_eos",
        LENGTHS,
        (
            "        growing = ~finished[origin] & (next_token != eos_id)\n"
            "        lengths = lengths[origin] + growing.float()\n"
        ),
        "the length in the length penalty leaves EOS out",
    ),
    edit(
        "beam_length_counts_padding",
        NORMALISED,
        "    normalised = scores.reshape(-1) / tokens.shape[1] ** length_penalty\n",
        "the length penalty divides every beam by the same length (the tensor's, padding "
        "included), so beam search returns the beam with the best raw score",
    ),
    edit(
        "beam_memory_repeated_not_interleaved",
        BEAM_MEMORY,
        "memory = model.encode(src, src_mask).repeat(beam_size, 1, 1)",
        "beam search repeats the memory batch after batch instead of row by row",
    ),
    edit(
        "beam_origin_without_batch_offset",
        ORIGIN,
        "        origin = chosen // vocab\n",
        "beam search takes every row's beams from the first source's beams",
    ),
    edit(
        "beam_decodes_without_the_mask",
        "model.decode(tokens, memory, beam_mask)",
        "model.decode(tokens, memory)",
        "beam search passes no source mask to decode",
    ),
    edit(
        "temperature_multiplies",
        TEMPERATURE,
        TEMPERATURE.replace("/ temperature", "* temperature"),
        "the logits are multiplied by the temperature instead of divided",
    ),
    Edit(
        "filters_before_the_temperature",
        (
            (TEMPERATURE, TEMPERATURE.replace(" / temperature", "")),
            (FILTERS, FILTERS + "        logits = logits / temperature\n"),
        ),
        "top-k and top-p filter the logits before the temperature divides them",
    ),
    edit(
        "top_p_before_top_k",
        FILTERS,
        "        if top_p is not None:\n"
        "            logits = top_p_filter(logits, top_p)\n"
        "        if top_k is not None:\n"
        "            logits = top_k_filter(logits, top_k)\n",
        "sampling applies top-p before top-k",
    ),
    edit(
        "sampling_takes_the_argmax",
        DRAW,
        "        next_token = probabilities.argmax(dim=-1)\n",
        "sample takes the most likely token instead of drawing one",
    ),
    edit(
        "sampling_ignores_the_generator",
        DRAW,
        "        next_token = torch.multinomial(probabilities, 1).squeeze(1)\n",
        "sample draws from torch's global generator instead of the one it is given",
    ),
    edit(
        "sampling_keeps_writing_after_eos",
        SAMPLE_PAD,
        "",
        "sample keeps drawing tokens after EOS",
    ),
]

VARIANTS = [
    Edit(
        "gumbel_max_sampling",
        (
            (
                DRAW,
                "        uniform = torch.rand(\n"
                "            probabilities.shape,\n"
                "            generator=generator,\n"
                "            device=probabilities.device,\n"
                "        )\n"
                "        gumbel = -torch.log(-torch.log(uniform.clamp(1e-20, 1.0)))\n"
                "        next_token = (torch.log(probabilities) + gumbel).argmax(dim=-1)\n",
            ),
        ),
        "sampling by the Gumbel-max trick",
    ),
    Edit(
        "preallocated_greedy",
        (
            (
                GREEDY_START
                + "        next_token = logits.argmax(dim=-1).masked_fill(finished, pad_id)\n"
                "        tokens = torch.cat([tokens, next_token[:, None]], dim=1)\n"
                "        finished |= next_token == eos_id\n"
                "    return tokens\n",
                "    if src_mask is None:\n"
                "        src_mask = (src != pad_id).unsqueeze(1).unsqueeze(1)\n"
                "    memory = model.encode(src, src_mask)\n"
                "    batch = src.shape[0]\n"
                "    out = torch.full((batch, max_len), pad_id, device=src.device)\n"
                "    out[:, 0] = bos_id\n"
                "    done = torch.zeros(batch, dtype=torch.bool, device=src.device)\n"
                "    length = 1\n"
                "    for step in range(1, max_len):\n"
                "        if bool(done.all()):\n"
                "            break\n"
                "        logits = model.decode(out[:, :step], memory, src_mask)\n"
                "        best = torch.argmax(logits[:, step - 1, :], dim=-1)\n"
                "        out[:, step] = torch.where(done, torch.full_like(best, pad_id), best)\n"
                "        done = done | (out[:, step] == eos_id)\n"
                "        length = step + 1\n"
                "    return out[:, :length]\n",
            ),
        ),
        "greedy decoding into a preallocated tensor, trimmed at the end",
    ),
    Edit(
        "top_p_from_the_least_likely_up",
        (
            (
                "    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)\n"
                "    probabilities = torch.softmax(sorted_logits, dim=-1)\n",
                "    sorted_logits, order = torch.sort(logits, dim=-1)\n"
                "    probabilities = torch.softmax(sorted_logits, dim=-1)\n",
            ),
            (
                DROP_SORTED,
                "drop_sorted = probabilities.cumsum(dim=-1) <= 1 - p\n"
                "    drop_sorted[..., -1] = False",
            ),
        ),
        "top-p drops the least likely tokens while their total stays within 1 - p",
    ),
    Edit(
        "top_k_by_sorting_and_beam_by_loops",
        (
            (KTH, "kth = logits.sort(dim=-1, descending=True).values[..., k - 1 : k]"),
            (
                TOP_K_FILL,
                'return torch.where(logits >= kth, logits, torch.full_like(logits, float("-inf")))',
            ),
            (
                "        origin, next_token = origin.reshape(-1), (chosen % vocab).reshape(-1)\n",
                "        origin = origin.reshape(-1)\n"
                "        next_token = torch.remainder(chosen, vocab).reshape(-1)\n",
            ),
        ),
        "top-k by sorting and torch.where; beam tokens with torch.remainder",
    ),
]
