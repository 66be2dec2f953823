"""Part 8 hidden checks."""

import pytest
import torch
from hypothesis import given

from tests import harness, strategies
from tests.checks.part8_decoding import BOS, EOS, rows, table_models

pytestmark = pytest.mark.part8


@given(model=table_models(), seed=strategies.SEEDS)
def test_sampling_follows_the_distribution(decoding, device, model, seed):
    draws = 4000
    src = torch.zeros(draws, 1, dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    sampled = rows(decoding.sample(model, src, 2, BOS, EOS, generator=generator), "sample", 2)
    first = torch.tensor([row[1] for row in sampled])
    vocab = model.tables.shape[-1]
    frequencies = torch.bincount(first, minlength=vocab).double() / draws
    expected = torch.softmax(model.tables[0, BOS].double(), -1)
    harness.expect_close(
        frequencies,
        expected,
        f"the frequencies of {draws} first tokens",
        atol=0.04,
        rtol=0,
        reference="softmax of the model's logits",
    )
