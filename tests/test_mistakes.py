"""Checks catch the mistakes students make, and accept correct code written differently.

Each case copies ``solutions/`` and rewrites one piece of one module. A *mistake* must fail
at least one graded check of its part; a *variant* (a different but correct way to write
the same thing) must pass every graded check of its part, hidden ones included.
"""

import shutil
from pathlib import Path

import pytest

from autograder import profiles
from autograder.loader import load_implementation
from autograder.rubric import load_rubric
from autograder.runner import check_function, run_check

# The mistakes overflow and divide by zero on purpose: their warnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")

RUBRIC = load_rubric()
SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"

# (part module, text in the solution, replacement, what a student did)
MISTAKES = [
    (
        "softmax_attention",
        "shifted = x - x.max(axis=axis, keepdims=True)",
        "shifted = x",
        "softmax without subtracting the maximum",
    ),
    (
        "softmax_attention",
        "exp / exp.sum(axis=axis, keepdims=True)",
        "exp / exp.sum(axis=0, keepdims=True)",
        "softmax normalised over axis 0",
    ),
    (
        "softmax_attention",
        "return weights @ X, weights",
        "return weights.T @ X, weights",
        "weights applied transposed",
    ),
    (
        "softmax_attention",
        "return weights @ (X @ W_content), weights",
        "return weights @ (X @ W_similarity), weights",
        "content mixed with the similarity projection",
    ),
    (
        "qkv",
        "scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])",
        "scores = query @ key.transpose(-2, -1)",
        "no scaling",
    ),
    (
        "qkv",
        "scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])",
        "scores = query @ key.transpose(-2, -1) / query.shape[-1]",
        "scaled by d_k",
    ),
    (
        "qkv",
        "weights = torch.softmax(scores, dim=-1)",
        "weights = torch.softmax(scores, dim=-2)",
        "softmax over the queries",
    ),
    (
        "qkv",
        "scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)",
        "scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)",
        "inverted mask",
    ),
    (
        "qkv",
        "        weights = weights.masked_fill(~mask, 0.0)\n",
        "        pass\n",
        "fully masked rows attend uniformly",
    ),
    (
        "qkv",
        "    weights = torch.softmax(scores, dim=-1)\n    if mask is not None:\n"
        "        weights = weights.masked_fill(~mask, 0.0)\n",
        "    if mask is not None:\n        scores = scores.masked_fill(~mask, float('-inf'))\n"
        "    weights = torch.softmax(scores, dim=-1)\n",
        "NaN on fully masked rows",
    ),
    (
        "qkv",
        "return scaled_dot_product_attention(self.q(x), self.k(x), self.v(x), mask)",
        "return scaled_dot_product_attention(self.k(x), self.q(x), self.v(x), mask)",
        "queries and keys swapped",
    ),
    (
        "qkv",
        "return dropped @ value, weights",
        "return dropped @ value, dropped",
        "weights returned after dropout",
    ),
    (
        "multihead",
        "return x.view(batch, length, num_heads, d_model // num_heads).transpose(1, 2)",
        "return x.reshape(batch, num_heads, length, d_model // num_heads)",
        "heads reshaped without the transpose",
    ),
    (
        "multihead",
        "return x.transpose(1, 2).reshape(batch, length, heads * d_k)",
        "return x.reshape(batch, length, heads * d_k)",
        "heads merged without the transpose",
    ),
    (
        "multihead",
        "return self.w_o(merge_heads(heads))",
        "return merge_heads(heads)",
        "no output projection",
    ),
    (
        "multihead",
        "k = split_heads(self.w_k(key), self.num_heads)",
        "k = split_heads(self.w_k(query), self.num_heads)",
        "keys projected from the query",
    ),
    (
        "masks",
        "return (tokens != pad_id)[:, None, None, :]",
        "return (tokens != 0)[:, None, None, :]",
        "pad_id ignored",
    ),
    (
        "masks",
        "return torch.ones(size, size, dtype=torch.bool, device=device).tril().unsqueeze(0)",
        "return torch.ones(size, size, dtype=torch.bool, device=device).triu().unsqueeze(0)",
        "causal mask upside down",
    ),
    (
        "masks",
        "return torch.ones(size, size, dtype=torch.bool, device=device).tril().unsqueeze(0)",
        "return torch.ones(size, size, dtype=torch.bool, device=device).tril(-1).unsqueeze(0)",
        "causal mask without the diagonal",
    ),
    (
        "masks",
        "return padding_mask(tokens, pad_id) & causal_mask(tokens.shape[1], tokens.device)",
        "return causal_mask(tokens.shape[1], tokens.device)[None].expand(len(tokens), 1, -1, -1)",
        "target mask without padding",
    ),
    (
        "masks",
        "return zeros.masked_fill(~mask, torch.finfo(dtype).min)",
        "return zeros.masked_fill(~mask, -1e9)",
        "additive mask of -1e9 (overflows in float16)",
    ),
]

MISTAKES += [
    (
        "positional",
        "encoding[:, 0::2] = torch.sin(position * div_term)",
        "encoding[:, 0::2] = torch.cos(position * div_term)",
        "cos and sin swapped",
    ),
    (
        "layers",
        "torch.sqrt(variance + self.eps)",
        "(torch.sqrt(variance) + self.eps)",
        "LayerNorm with eps outside the square root (the textbook's bug)",
    ),
    (
        "layers",
        "variance = (x - mean).pow(2).mean(dim=-1, keepdim=True)",
        "variance = x.var(dim=-1, keepdim=True)",
        "LayerNorm with the unbiased variance",
    ),
    (
        "layers",
        "return x + self.dropout(sublayer(self.norm(x)))",
        "return self.norm(x + self.dropout(sublayer(x)))",
        "Post-LN instead of Pre-LN",
    ),
    (
        "model",
        "return self.position(self.token(tokens) * math.sqrt(self.d_model))",
        "return self.position(self.token(tokens))",
        "token embeddings not scaled",
    ),
    (
        "model",
        "            tgt_mask = target_mask(tgt, self.config.pad_id)\n",
        "            tgt_mask = None\n",
        "decoder without the causal mask",
    ),
    (
        "model",
        "            src_mask = padding_mask(src, self.config.pad_id)\n        return self.decode(",
        "            src_mask = None\n        return self.decode(",
        "source padding not masked",
    ),
    (
        "decoding",
        "kth = torch.topk(logits, k, dim=-1).values[..., -1:]",
        "kth = torch.topk(logits, k + 1, dim=-1).values[..., -1:]",
        "top-k keeps k + 1",
    ),
    (
        "decoding",
        "next_token = logits.argmax(dim=-1).masked_fill(finished, pad_id)",
        "next_token = logits.argmax(dim=-1)",
        "greedy keeps writing after EOS",
    ),
]

VARIANTS = [
    (
        "softmax_attention",
        "    shifted = x - x.max(axis=axis, keepdims=True)\n    exp = np.exp(shifted)\n"
        "    return exp / exp.sum(axis=axis, keepdims=True)\n",
        "    top = np.max(x, axis=axis, keepdims=True)\n"
        "    log_total = top + np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True))\n"
        "    return np.exp(x - log_total)\n",
        "softmax through log-sum-exp",
    ),
    (
        "qkv",
        "    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])\n",
        "    scale = math.sqrt(query.shape[-1])\n"
        "    scores = torch.einsum('...qd,...kd->...qk', query / scale, key)\n",
        "scores with einsum",
    ),
    (
        "qkv",
        "        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)\n",
        "        scores = scores + torch.where(mask, 0.0, float('-inf')).to(scores.dtype)\n"
        "        scores = scores.nan_to_num(neginf=torch.finfo(scores.dtype).min)\n",
        "additive mask",
    ),
    (
        "qkv",
        "        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)\n",
        "        scores = scores.masked_fill(~mask, float('-inf'))\n",
        "-inf fill, zeroed after the softmax",
    ),
    (
        "multihead",
        "    return x.view(batch, length, num_heads, d_model // num_heads).transpose(1, 2)\n",
        "    return x.reshape(batch, length, num_heads, -1).permute(0, 2, 1, 3)\n",
        "reshape and permute",
    ),
    (
        "multihead",
        "    return x.transpose(1, 2).reshape(batch, length, heads * d_k)\n",
        "    return torch.cat([x[:, h] for h in range(heads)], dim=-1)\n",
        "concatenate the heads",
    ),
    (
        "masks",
        "    return torch.ones(size, size, dtype=torch.bool, device=device).tril().unsqueeze(0)\n",
        "    positions = torch.arange(size, device=device)\n"
        "    return (positions[None, :] <= positions[:, None])[None]\n",
        "causal mask by comparison",
    ),
]


def implementation_with(tmp_path: Path, module: str, old: str, new: str):
    folder = tmp_path / "submission"
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / f"{module}.py"
    source = path.read_text()
    assert old in source, f"the solution of {module} no longer contains {old!r}"
    path.write_text(source.replace(old, new, 1))
    return load_implementation(folder)


def verdicts(implementation, module: str):
    profiles.use("grading")
    part = RUBRIC.part_of_module(module)
    loaded = implementation.module(module)
    return [
        run_check(check_function(check), {module: loaded})
        for check in RUBRIC.checks_of(part.number)
    ]


@pytest.mark.parametrize(
    ("module", "old", "new", "mistake"), MISTAKES, ids=[m[3] for m in MISTAKES]
)
def test_a_mistake_fails_its_part(tmp_path, module, old, new, mistake):
    results = verdicts(implementation_with(tmp_path, module, old, new), module)
    assert not all(v.passed for v in results), f"no check of {module} catches: {mistake}"


@pytest.mark.parametrize(
    ("module", "old", "new", "variant"), VARIANTS, ids=[v[3] for v in VARIANTS]
)
def test_a_correct_variant_passes_its_part(tmp_path, module, old, new, variant):
    failed = [
        v for v in verdicts(implementation_with(tmp_path, module, old, new), module) if not v.passed
    ]
    assert not failed, f"{variant} is correct but fails: " + "; ".join(
        f"{v.check}: {v.message}" for v in failed
    )
