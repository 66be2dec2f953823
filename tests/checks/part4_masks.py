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


def usable_mask(value, scores_shape: tuple[int, ...], what: str) -> torch.Tensor:
    """The student's mask as a tensor that attention can use: boolean, broadcastable."""
    mask = harness.tensor(value, what)
    harness.expect(
        mask.dtype == torch.bool,
        f"{what} has dtype {mask.dtype}, expected torch.bool (True = may attend)",
    )
    try:
        broadcast = torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        broadcast = None
    harness.expect(
        broadcast == torch.Size(scores_shape),
        f"{what} of shape {tuple(mask.shape)} does not broadcast to the attention scores of "
        f"shape {scores_shape}",
    )
    return mask


@given(x=strategies.sequences(d_model=4), t=st.integers(0, 5), seed=strategies.SEEDS)
def test_causal_mask_hides_the_future(masks, device, x, t, seed):
    # Attention with the student's mask is computed twice and compared: in float64, so that
    # rounding cannot differ between the two.
    x = x.to(device, torch.float64)
    batch, length, _ = x.shape
    t = min(t, length - 1)
    mask = usable_mask(
        masks.causal_mask(length, device=device), (batch, length, length), f"causal_mask({length})"
    ).to(device)
    before, _ = reference.attention(x, x, x, mask)
    expected, _ = reference.attention(x, x, x, expected_causal(length).to(device))
    harness.expect_close(
        before,
        expected,
        f"attention outputs with causal_mask({length})",
        reference="attention in which position i sees positions 0..i, itself included",
    )
    changed = x.clone()
    changed[:, t + 1 :] = strategies.random_tensor(tuple(changed[:, t + 1 :].shape), seed).to(
        device, torch.float64
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
    # Two attentions with the student's mask are compared: in float64 (the rounding rule).
    tokens, _, pad = batch
    x = strategies.random_tensor((*tokens.shape, 4), seed).to(device, torch.float64)
    tokens = tokens.to(device)
    size, length = tokens.shape
    mask = usable_mask(
        masks.padding_mask(tokens, pad_id=pad),
        (size, 1, length, length),
        f"padding_mask(tokens, pad_id={pad})",
    ).to(device)
    is_pad = (tokens == pad)[..., None]
    real = ~is_pad[:, None]
    heads_x = x[:, None]
    before, _ = reference.attention(heads_x, heads_x, heads_x, mask)
    expected, _ = reference.attention(heads_x, heads_x, heads_x, (tokens != pad)[:, None, None, :])
    harness.expect_close(
        torch.where(real, before, 0.0),
        torch.where(real, expected, 0.0),
        f"attention outputs at real positions with padding_mask(tokens, pad_id={pad})",
        reference="attention to the real tokens only",
    )
    noise = strategies.random_tensor(tuple(x.shape), seed + 1).to(device, torch.float64)
    changed = torch.where(is_pad, noise, x)
    heads_c = changed[:, None]
    after, _ = reference.attention(heads_c, heads_c, heads_c, mask)
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
    what = f"to_additive(mask, {dtype})"
    additive = harness.tensor(masks.to_additive(mask, dtype), what)
    harness.expect(additive.dtype == dtype, f"{what} has dtype {additive.dtype}")
    additive = harness.expect_shape(additive, mask.shape, what).cpu()
    lowest = torch.finfo(dtype).min
    harness.expect(
        not bool((additive == float("-inf")).any()),
        f"{what} is -inf where the mask is False: a row blocked everywhere then becomes "
        f"0/0 = NaN after the softmax. Use the lowest finite value, torch.finfo(dtype).min "
        f"({lowest:g}).",
    )
    expected = torch.zeros(mask.shape, dtype=dtype).masked_fill(~mask.cpu(), lowest)
    harness.expect_equal(
        additive,
        expected,
        f"{what} (0 where the mask is True, {lowest:g}, the lowest {dtype}, where it is False)",
    )
