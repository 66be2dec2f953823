"""Part 8 hidden checks."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies
from tests.checks.part8_decoding import (
    BOS,
    EOS,
    SOURCE,
    TableModel,
    one_source,
    probability_model,
    rows,
    table_models,
)

pytestmark = pytest.mark.part8


@given(model=table_models(), seed=strategies.SEEDS)
def test_sampling_follows_the_distribution(decoding, device, model, seed):
    draws = 4000
    src = torch.full((draws, 1), SOURCE, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    sampled = rows(
        decoding.sample(model, src, 2, BOS, EOS, generator=generator), "sample", 2, model
    )
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


def costly_after_eos_model() -> TableModel:
    """BOS -> EOS (0.52) or A (0.48); A -> A (0.9) or EOS (0.1); after EOS, five-way uniform.

    [BOS, EOS] is the most likely sequence (0.52). A beam search that keeps extending it past
    EOS pays log(1/5) a step and ends up preferring [BOS, A, A, A, A, A] (0.31).
    """
    a = 3
    probabilities = torch.full((5, 5), 1e-6)
    probabilities[BOS, EOS], probabilities[BOS, a] = 0.52, 0.48
    probabilities[a, a], probabilities[a, EOS] = 0.9, 0.1
    probabilities[EOS, :] = 0.2
    return probability_model(probabilities)


@given(beam_size=st.integers(2, 4), padded=st.booleans())
def test_beam_search_stops_finished_hypotheses(decoding, device, beam_size, padded):
    model = costly_after_eos_model()
    src = one_source(padded, device)
    call = f"beam_search(beam_size={beam_size}, max_len=6)"
    got = rows(decoding.beam_search(model, src, 6, BOS, EOS, beam_size=beam_size), call, 6, model)
    harness.expect(
        got == [[BOS, EOS]],
        f"{call} gave {got}, expected [[BOS, EOS]] (probability 0.52; ids: BOS=1, EOS=2, "
        f"A=3): a hypothesis that reached EOS is finished, and the model's scores for "
        f"tokens after EOS must not count against it",
    )
