"""Part 5 (positional): realistic mistakes and correct variants."""

from tests.mistakes import Edit, edit

SIN = "    encoding[:, 0::2] = torch.sin(position * div_term)\n"
COS = "    encoding[:, 1::2] = torch.cos(position * div_term[: d_model // 2])\n"
DIV_TERM = (
    "        torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model)\n"
)
POSITION = "    position = torch.arange(max_len, dtype=torch.float64)[:, None]\n"
BUFFER = 'self.register_buffer("pe", sinusoidal_encoding(max_len, d_model))'
ADD_PE = "return self.dropout(x + self.pe[: x.shape[1]].to(x.dtype))"
LEARNED_POSITIONS = "positions = torch.arange(x.shape[1], device=x.device)"
ADD_LEARNED = "return self.dropout(x + self.embedding(positions).to(x.dtype))"
ROTATED = (
    "    rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)\n"
    "    return rotated.flatten(-2)\n"
)
PAIRS = "    even, odd = x[..., 0::2], x[..., 1::2]\n"
FREQUENCIES = (
    "    frequencies = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float64) / d)\n"
)
ROPE_BODY = (
    "    d = x.shape[-1]\n"
    "    if positions is None:\n"
    "        positions = torch.arange(x.shape[-2], device=x.device)\n"
    + FREQUENCIES
    + "    angles = positions.to(x.device, torch.float64)[:, None] * frequencies\n"
    "    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)\n"
    + PAIRS
    + ROTATED
)
OFFSETS = (
    "            torch.arange(key_len, device=device)[None, :]\n"
    "            - torch.arange(query_len, device=device)[:, None]\n"
)
CLAMP = (
    "        offsets = offsets.clamp(-self.max_distance, self.max_distance) + self.max_distance\n"
)
BIAS_OUT = "        return self.bias(offsets).permute(2, 0, 1).unsqueeze(0)\n"

MISTAKES = [
    # ------------------------------------------------------------ sinusoidal_encoding
    edit(
        "cos_and_sin_swapped",
        SIN,
        "    encoding[:, 0::2] = torch.cos(position * div_term)\n",
        "cos and sin swapped",
    ),
    Edit(
        "sines_then_cosines_in_halves",
        (
            (
                SIN,
                "    half = (d_model + 1) // 2\n"
                "    encoding[:, :half] = torch.sin(position * div_term)\n",
            ),
            (COS, "    encoding[:, half:] = torch.cos(position * div_term[: d_model // 2])\n"),
        ),
        "all the sines come first and all the cosines after them, instead of alternating "
        "sin, cos column by column",
    ),
    edit(
        "exponent_i_instead_of_2i",
        DIV_TERM,
        "        torch.arange(0, (d_model + 1) // 2, dtype=torch.float64)"
        " * (-math.log(10000.0) / d_model)\n",
        "the frequency of pair i is 1 / 10000^(i/d_model) instead of 1 / 10000^(2i/d_model)",
    ),
    edit(
        "exponent_with_the_wrong_sign",
        DIV_TERM,
        "        torch.arange(0, d_model, 2, dtype=torch.float64)"
        " * (math.log(10000.0) / d_model)\n",
        "the frequencies are 10000^(2i/d_model) instead of 1 / 10000^(2i/d_model): they grow "
        "instead of shrinking",
    ),
    edit(
        "log10_instead_of_natural_log",
        DIV_TERM,
        "        torch.arange(0, d_model, 2, dtype=torch.float64)"
        " * (-math.log10(10000.0) / d_model)\n",
        "exp(-log10(10000) * 2i / d_model) is used: log10 where the natural log belongs, so "
        "the base is e^4 instead of 10000",
    ),
    edit(
        "positions_start_at_1",
        POSITION,
        "    position = torch.arange(1, max_len + 1, dtype=torch.float64)[:, None]\n",
        "the positions are numbered 1..max_len instead of 0..max_len-1",
    ),
    # ------------------------------------------------------------ PositionalEncoding
    edit(
        "table_is_a_parameter",
        BUFFER,
        "self.pe = nn.Parameter(sinusoidal_encoding(max_len, d_model))",
        "the table is an nn.Parameter, so the optimiser trains the fixed encoding",
    ),
    edit(
        "table_is_a_plain_attribute",
        BUFFER,
        "self.pe = sinusoidal_encoding(max_len, d_model)",
        "the table is a plain attribute: it is not saved with the model and .to(device) "
        "leaves it behind",
    ),
    edit(
        "table_recomputed_in_float32",
        ADD_PE,
        "return self.dropout(x + sinusoidal_encoding(x.shape[1], self.d_model).to(x.device))",
        "forward recomputes a float32 table and adds it, so a float16 or bfloat16 input comes "
        "out as float32",
    ),
    edit(
        "table_sliced_by_batch_size",
        ADD_PE,
        "return self.dropout(x + self.pe[: x.shape[0]].to(x.dtype))",
        "the table is sliced by the batch size x.shape[0] instead of the length x.shape[1]",
    ),
    edit(
        "input_scaled_by_sqrt_d_model",
        ADD_PE,
        "return self.dropout(x * math.sqrt(self.d_model) + self.pe[: x.shape[1]].to(x.dtype))",
        "x is multiplied by sqrt(d_model) before the encoding is added (that scaling belongs to "
        "the token embedding, not to PositionalEncoding)",
    ),
    edit(
        "dropout_before_adding",
        ADD_PE,
        "return self.dropout(x) + self.pe[: x.shape[1]].to(x.dtype)",
        "dropout is applied to x before the encoding is added, instead of to the sum",
    ),
    edit(
        "dropout_also_in_eval_mode",
        ADD_PE,
        "return nn.functional.dropout(x + self.pe[: x.shape[1]].to(x.dtype), self.dropout.p)",
        "F.dropout is called without training=self.training, so it also drops in eval mode",
    ),
    edit(
        "no_dropout",
        ADD_PE,
        "return x + self.pe[: x.shape[1]].to(x.dtype)",
        "PositionalEncoding never applies its dropout",
    ),
    # ------------------------------------------------------------ LearnedPositionalEmbedding
    edit(
        "learned_positions_start_at_1",
        LEARNED_POSITIONS,
        "positions = torch.arange(1, x.shape[1] + 1, device=x.device)",
        "the learned embedding looks up positions 1..T instead of 0..T-1",
    ),
    edit(
        "learned_table_detached",
        ADD_LEARNED,
        "return self.dropout(x + self.embedding(positions).detach().to(x.dtype))",
        "the position vectors are detached, so the learned table never gets a gradient",
    ),
    edit(
        "learned_without_dropout",
        ADD_LEARNED,
        "return x + self.embedding(positions).to(x.dtype)",
        "LearnedPositionalEmbedding never applies its dropout",
    ),
    # ------------------------------------------------------------ apply_rotary
    edit(
        "rope_sign_slip",
        ROTATED,
        "    rotated = torch.stack((even * cos - odd * sin, even * sin - odd * cos), dim=-1)\n"
        "    return rotated.flatten(-2)\n",
        "the second coordinate is a*sin - b*cos instead of a*sin + b*cos: not a rotation",
    ),
    edit(
        "rope_rotates_backwards",
        ROTATED,
        "    rotated = torch.stack((even * cos + odd * sin, odd * cos - even * sin), dim=-1)\n"
        "    return rotated.flatten(-2)\n",
        "each pair is rotated by minus the angle",
    ),
    edit(
        "rope_ignores_positions",
        "    if positions is None:\n"
        "        positions = torch.arange(x.shape[-2], device=x.device)\n",
        "    positions = torch.arange(x.shape[-2], device=x.device)\n",
        "apply_rotary ignores the positions it is given and always uses 0..T-1",
    ),
    edit(
        "rope_ignores_base",
        FREQUENCIES,
        "    frequencies = 10000.0 ** (-torch.arange(0, d, 2, device=x.device,"
        " dtype=torch.float64) / d)\n",
        "apply_rotary ignores its base argument and always uses 10000",
    ),
    edit(
        "rope_frequency_exponent_i",
        FREQUENCIES,
        "    frequencies = base ** (-torch.arange(d // 2, device=x.device,"
        " dtype=torch.float64) / d)\n",
        "the frequency of pair i is base^(-i/d) instead of base^(-2i/d)",
    ),
    Edit(
        "rope_rotates_halves",
        (
            (PAIRS, "    even, odd = x[..., : d // 2], x[..., d // 2 :]\n"),
            (
                ROTATED,
                "    return torch.cat((even * cos - odd * sin, even * sin + odd * cos), dim=-1)\n",
            ),
        ),
        "feature i is paired with feature i + d/2 (the 'rotate half' layout) instead of the "
        "pairs (2i, 2i+1) this course uses",
    ),
    # ------------------------------------------------------------ RelativePositionBias
    edit(
        "relative_offset_query_minus_key",
        OFFSETS,
        "            torch.arange(query_len, device=device)[:, None]\n"
        "            - torch.arange(key_len, device=device)[None, :]\n",
        "the offset is query - key instead of key - query",
    ),
    edit(
        "relative_offset_not_shifted",
        CLAMP,
        "        offsets = offsets.clamp(0, 2 * self.max_distance)\n",
        "the offsets are clamped to [0, 2 * max_distance] instead of being clipped to "
        "[-max_distance, max_distance] and shifted by max_distance",
    ),
    edit(
        "relative_bias_heads_last",
        BIAS_OUT,
        "        return self.bias(offsets).unsqueeze(0)\n",
        "the bias comes out as (1, query_len, key_len, num_heads) instead of "
        "(1, num_heads, query_len, key_len)",
    ),
    edit(
        "relative_bias_queries_and_keys_transposed",
        BIAS_OUT,
        "        return self.bias(offsets).permute(2, 1, 0).unsqueeze(0)\n",
        "the bias comes out as (1, num_heads, key_len, query_len): queries and keys swapped",
    ),
]

VARIANTS = [
    Edit(
        "annotated_transformer_float32_table",
        (
            (POSITION, "    position = torch.arange(0, max_len).unsqueeze(1)\n"),
            (
                DIV_TERM,
                "        torch.arange(0, d_model, 2) * -(math.log(10000.0) / d_model)\n",
            ),
            (
                "    encoding = torch.zeros(max_len, d_model, dtype=torch.float64)\n",
                "    encoding = torch.zeros(max_len, d_model)\n",
            ),
            ("    return encoding.float()\n", "    return encoding\n"),
        ),
        "the Annotated Transformer's table, computed in float32",
    ),
    Edit(
        "stacked_sin_cos_with_a_power",
        (
            (
                SIN + COS + "    return encoding.float()\n",
                "    angles = position / torch.pow(10000.0, div_term)\n"
                "    pairs = torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1)\n"
                "    return pairs.flatten(1)[:, :d_model].float()\n",
            ),
            (DIV_TERM, "        torch.arange(0, d_model, 2, dtype=torch.float64) / d_model\n"),
            ("    div_term = torch.exp(\n", "    div_term = (\n"),
        ),
        "sin and cos stacked on a last axis and flattened, angles divided by a power of 10000",
    ),
    Edit(
        "buffer_with_a_batch_axis",
        (
            (
                BUFFER,
                'self.register_buffer("pe", sinusoidal_encoding(max_len, d_model).unsqueeze(0))',
            ),
            (ADD_PE, "return self.dropout(x + self.pe[:, : x.shape[1]].to(x.dtype))"),
        ),
        "the table is kept as a (1, max_len, d_model) buffer",
    ),
    Edit(
        "learned_table_sliced_from_the_weight",
        (
            (LEARNED_POSITIONS + "\n        ", ""),
            (
                ADD_LEARNED,
                "return self.dropout(x + self.embedding.weight[: x.shape[1]].to(x.dtype))",
            ),
        ),
        "the learned vectors are the first T rows of embedding.weight",
    ),
    edit(
        "rope_with_complex_numbers",
        "    angles = positions.to(x.device, torch.float64)[:, None] * frequencies\n"
        "    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)\n"
        + PAIRS
        + ROTATED,
        "    angles = positions.to(x.device, torch.float64)[:, None] * frequencies\n"
        "    pairs = x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous()\n"
        "    turned = torch.view_as_complex(pairs) * torch.polar(torch.ones_like(angles), angles)\n"
        "    return torch.view_as_real(turned).flatten(-2).to(x.dtype)\n",
        "RoPE as a multiplication by e^(i * angle) of complex numbers",
    ),
    edit(
        "rope_written_into_an_empty_tensor",
        PAIRS + ROTATED,
        "    out = torch.empty_like(x)\n"
        "    out[..., 0::2] = x[..., 0::2] * cos - x[..., 1::2] * sin\n"
        "    out[..., 1::2] = x[..., 0::2] * sin + x[..., 1::2] * cos\n"
        "    return out\n",
        "RoPE writes the even and odd features of an empty tensor",
    ),
    edit(
        "relative_bias_with_loops",
        "        device = self.bias.weight.device\n"
        "        offsets = (\n" + OFFSETS + "        )\n" + CLAMP + BIAS_OUT,
        "        rows = []\n"
        "        for q in range(query_len):\n"
        "            row = []\n"
        "            for k in range(key_len):\n"
        "                offset = min(max(k - q, -self.max_distance), self.max_distance)\n"
        "                row.append(self.bias.weight[offset + self.max_distance])\n"
        "            rows.append(torch.stack(row))\n"
        "        return torch.stack(rows).permute(2, 0, 1)[None]\n",
        "the bias built position by position with Python loops",
    ),
]
