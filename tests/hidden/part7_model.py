"""Part 7 hidden checks."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies
from tests.checks.part7_model import PAD, build, configs, model_inputs

pytestmark = pytest.mark.part7


@given(inputs=model_inputs(positional="learned"))
def test_model_learned_positions_are_causal(model, device, inputs):
    config, src, tgt = inputs
    transformer = build(model, config, device)
    before = harness.tensor(transformer(src.to(device), tgt.to(device)), "the logits")
    changed = tgt.clone()
    changed[:, -1] = (changed[:, -1] % (config["tgt_vocab_size"] - 1)) + 1
    after = harness.expect_shape(
        transformer(src.to(device), changed.to(device)), before.shape, "the logits"
    )
    harness.expect_close(
        after[:, :-1],
        before[:, :-1],
        "the logits before the last target position after changing the last token",
        reference="the logits before the change",
    )
    padded = torch.cat([src, torch.full((src.shape[0], 1), PAD)], dim=1)
    harness.expect_close(
        transformer(padded.to(device), tgt.to(device)),
        before,
        "the logits with one more padding token in the source",
        reference="the logits before",
    )


@st.composite
def inputs_with_pad_id(draw):
    """(config, src (B, S) padded with a pad_id that is not 0, tgt (B, T) without padding)."""
    config = draw(configs())
    pad = draw(st.integers(1, min(config["src_vocab_size"], config["tgt_vocab_size"]) - 1))
    config["pad_id"] = pad
    src, _, _ = draw(strategies.token_batches(config["src_vocab_size"], pad, max_len=6))
    tgt, _, _ = draw(strategies.token_batches(config["tgt_vocab_size"], pad, max_len=5, min_real=5))
    return config, src, tgt[:1].expand(src.shape[0], -1).clone()


@given(inputs=inputs_with_pad_id(), extra=st.integers(1, 3))
def test_model_masks_the_configs_pad_id(model, device, inputs, extra):
    config, src, tgt = inputs
    pad = config["pad_id"]
    transformer = build(model, config, device)
    before = harness.tensor(transformer(src.to(device), tgt.to(device)), "the logits")
    padded = torch.cat([src, torch.full((src.shape[0], extra), pad)], dim=1)
    harness.expect_close(
        transformer(padded.to(device), tgt.to(device)),
        before,
        f"the logits after appending {extra} tokens {pad} (the config's pad_id) to the source",
        reference="the logits before (masks come from config.pad_id, which need not be 0)",
    )


def half_dtypes(device: str) -> list[torch.dtype]:
    return [torch.float16, torch.bfloat16] if device.startswith("cuda") else [torch.bfloat16]


@given(inputs=model_inputs())
def test_model_runs_in_half_precision(model, device, inputs):
    config, src, tgt = inputs
    # d_model 16: with only a few features, LayerNorm of a half-precision row is too noisy
    # for any tolerance to separate rounding from mistakes.
    config = {**config, "d_model": 16, "num_heads": 2}
    transformer = build(model, config, device)
    src, tgt = src.to(device), tgt.to(device)
    expected = harness.tensor(transformer(src, tgt), "the float32 logits")
    for dtype in half_dtypes(device):
        transformer.to(dtype)
        logits = harness.expect_finite(transformer(src, tgt), f"the logits in {dtype}")
        # Measured worst case over 30 bfloat16 models: 0.045.
        harness.expect_close(
            logits.float(),
            expected,
            f"the logits of the model cast to {dtype}",
            atol=0.15,
            rtol=0.05,
            reference="the same model in float32",
        )
        transformer.to(torch.float32)
