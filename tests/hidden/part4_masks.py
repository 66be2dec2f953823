"""Part 4 hidden checks."""

import pytest
import torch
from hypothesis import given

from tests import harness, strategies
from tests.checks.part4_masks import expected_causal

pytestmark = pytest.mark.part4


@given(batch=strategies.token_batches(pad_id=2))
def test_masks_follow_the_device(masks, device, batch):
    tokens = batch[0].to(device)
    length = tokens.shape[1]
    padding = (batch[0] != 2)[:, None, None, :]
    expected = {
        "padding_mask": padding,
        "target_mask": padding & expected_causal(length)[:, None],
        "causal_mask": expected_causal(length),
    }
    for name, mask in (
        ("padding_mask", masks.padding_mask(tokens, pad_id=2)),
        ("target_mask", masks.target_mask(tokens, pad_id=2)),
        ("causal_mask", masks.causal_mask(tokens.shape[1], device=device)),
    ):
        mask = harness.tensor(mask, name)
        harness.expect(
            mask.device.type == torch.device(device).type,
            f"{name} was created on {mask.device}, expected {device}",
        )
        harness.expect(
            mask.dtype == torch.bool, f"{name} has dtype {mask.dtype}, expected torch.bool"
        )
        harness.expect_equal(mask, expected[name], name)


@given(
    mask=strategies.masks((3, 5), allow_empty_rows=False), scores=strategies.tensors((3, 5), 100.0)
)
def test_to_additive_float16_no_overflow(masks, device, mask, scores):
    additive = harness.tensor(masks.to_additive(mask.to(device), torch.float16), "to_additive")
    total = scores.to(device, torch.float16) + additive.to(device)
    weights = torch.softmax(total.float(), dim=-1)
    harness.expect_finite(weights, "softmax(float16 scores + to_additive(mask, float16))")
    expected = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    harness.expect_close(weights.cpu(), expected, "masked float16 softmax", atol=2e-2, rtol=2e-2)
