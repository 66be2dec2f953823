"""Part 4 checks: causal, padding and target masks, and additive masks."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, reference, strategies

pytestmark = pytest.mark.part4

PAD_IDS = st.sampled_from([0, 1, 3, 11])


def expected_causal(size: int) -> torch.Tensor:
    rows = torch.arange(size)
    return (rows[None, :] <= rows[:, None])[None]


@given(size=strategies.dims(1, 9))
def test_causal_mask_is_lower_triangular(masks, device, size):
    mask = masks.causal_mask(size, device=device)
    mask = harness.expect_equal(
        mask, expected_causal(size), f"causal_mask({size}) (True where key j <= query i)"
    )


@given(x=strategies.sequences(d_model=4), t=st.integers(0, 5), seed=strategies.SEEDS)
def test_causal_mask_hides_the_future(masks, device, x, t, seed):
    x = x.to(device)
    length = x.shape[1]
    t = min(t, length - 1)
    mask = harness.tensor(masks.causal_mask(length, device=device), f"causal_mask({length})")
    before, _ = reference.attention(x, x, x, mask)
    changed = x.clone()
    changed[:, t + 1 :] = strategies.random_tensor(tuple(changed[:, t + 1 :].shape), seed).to(
        device
    )
    after, _ = reference.attention(changed, changed, changed, mask)
    harness.expect_close(
        after[:, : t + 1],
        before[:, : t + 1],
        f"attention outputs at positions 0..{t} after changing positions after {t}",
        reference="the outputs before the change (the future must stay hidden)",
    )


@given(batch=strategies.token_batches(pad_id=PAD_IDS))
def test_padding_mask_marks_real_tokens(masks, device, batch):
    tokens, _, pad = batch
    tokens = tokens.to(device)
    mask = masks.padding_mask(tokens, pad_id=pad)
    expected = (tokens != pad).cpu()[:, None, None, :]
    harness.expect_equal(
        mask,
        expected,
        f"padding_mask(tokens, pad_id={pad}) (True for real tokens, shape (B, 1, 1, T))",
    )


@given(batch=strategies.token_batches(pad_id=PAD_IDS), seed=strategies.SEEDS)
def test_padding_mask_hides_padding(masks, device, batch, seed):
    tokens, _, pad = batch
    x = strategies.random_tensor((*tokens.shape, 4), seed).to(device)
    tokens = tokens.to(device)
    mask = harness.tensor(masks.padding_mask(tokens, pad_id=pad), "padding_mask")
    is_pad = (tokens == pad)[..., None]
    heads_x = x[:, None]
    before, _ = reference.attention(heads_x, heads_x, heads_x, mask)
    changed = torch.where(is_pad, strategies.random_tensor(tuple(x.shape), seed + 1).to(device), x)
    heads_c = changed[:, None]
    after, _ = reference.attention(heads_c, heads_c, heads_c, mask)
    real = ~is_pad[:, None]
    harness.expect_close(
        torch.where(real, after, 0.0),
        torch.where(real, before, 0.0),
        "outputs at real positions after changing the padded positions",
        reference="the outputs before the change (padding must stay hidden)",
    )


@given(batch=strategies.token_batches(pad_id=PAD_IDS))
def test_target_mask_combines_padding_and_causal(masks, device, batch):
    tokens, _, pad = batch
    tokens = tokens.to(device)
    length = tokens.shape[1]
    expected = (tokens != pad).cpu()[:, None, None, :] & expected_causal(length)[:, None]
    harness.expect_equal(
        masks.target_mask(tokens, pad_id=pad),
        expected,
        f"target_mask(tokens, pad_id={pad}) (shape (B, 1, T, T))",
    )


@given(
    mask=strategies.masks((2, 3, 4)).filter(lambda m: m.numel() > 0),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.float16]),
)
def test_to_additive_blocks_with_large_negatives(masks, device, mask, dtype):
    mask = mask.to(device)
    additive = harness.tensor(masks.to_additive(mask, dtype), f"to_additive(mask, {dtype})")
    harness.expect(
        additive.dtype == dtype, f"to_additive(mask, {dtype}) has dtype {additive.dtype}"
    )
    additive = harness.expect_shape(additive, mask.shape, "to_additive(mask)").cpu()
    allowed, blocked = additive[mask.cpu()], additive[~mask.cpu()]
    harness.expect(bool((allowed == 0).all()), "to_additive must be 0 where the mask is True")
    lowest = torch.finfo(dtype).min
    harness.expect(
        bool(((blocked == float("-inf")) | (blocked == lowest)).all()),
        f"to_additive must be -inf or {lowest:g} (the lowest {dtype}) where the mask is "
        f"False, got {blocked.unique().tolist()[:4]}",
    )
