"""Part 8 checks: greedy, beam search, sampling, top-k and top-p.

The models here are tiny lookup tables written for the checks (any object with ``encode`` and
``decode`` will do), so decoding is graded on its own, whatever the student's Transformer.
"""

import itertools

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests import harness, strategies

pytestmark = pytest.mark.part8

PAD, BOS, EOS = 0, 1, 2


class TableModel(torch.nn.Module):
    """Next-token logits looked up from the previous token, one table per source.

    ``tables`` is ``(sources, vocab, vocab)``: source row b uses ``tables[src[b, 0]]`` and
    the logits after token ``t`` are ``table[t]``.
    """

    def __init__(self, tables: torch.Tensor) -> None:
        super().__init__()
        self.tables = tables

    def extra_repr(self) -> str:
        # What a failure report prints as the smallest failing model.
        return f"tables={[[[round(x, 2) for x in row] for row in t] for t in self.tables.tolist()]}"

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        return src[:, :1, None].float()

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None) -> torch.Tensor:
        table = self.tables.to(tgt.device)[memory[:, 0, 0].long()]
        return torch.gather(table, 1, tgt[..., None].expand(-1, -1, table.shape[-1]))


@st.composite
def table_models(draw, sources: int = 1):
    """Random tables whose logits in a row are at least 0.6 apart.

    Near-ties would make "the most likely token" depend on rounding (argmax of the logits
    and of their log-softmax could disagree), and a correct decoder could then fail.
    """
    vocab = draw(st.integers(4, 7))
    generator = torch.Generator().manual_seed(draw(strategies.SEEDS))
    ranks = torch.stack(
        [torch.randperm(vocab, generator=generator) for _ in range(sources * vocab)]
    )
    tables = ranks.reshape(sources, vocab, vocab).float() * 0.6
    tables[:, :, PAD] = -1e4  # a model never proposes padding
    tables[:, :, BOS] = -1e4
    return TableModel(tables)


def table_greedy(model: TableModel, source: int, max_len: int) -> list[int]:
    tokens = [BOS]
    while len(tokens) < max_len and tokens[-1] != EOS:
        tokens.append(int(model.tables[source, tokens[-1]].argmax()))
    return tokens


def rows(value, what: str, max_len: int) -> list[list[int]]:
    """The sequences as lists, trailing padding removed; checks BOS, length and padding."""
    tokens = harness.tensor(value, what)
    harness.expect(tokens.dim() == 2, f"{what} should be (B, L), got shape {tuple(tokens.shape)}")
    harness.expect(
        not tokens.is_floating_point() and tokens.dtype != torch.bool,
        f"{what} should hold integer token ids, got dtype {tokens.dtype}",
    )
    harness.expect(tokens.shape[1] <= max_len, f"{what} is longer than max_len={max_len}")
    result = []
    for row in tokens.cpu().tolist():
        harness.expect(row[0] == BOS, f"{what}: a sequence does not start with BOS: {row}")
        if EOS in row:
            after = row[row.index(EOS) + 1 :]
            harness.expect(
                all(t == PAD for t in after), f"{what}: tokens after EOS must be padding, got {row}"
            )
            row = row[: row.index(EOS) + 1]
        else:
            while row and row[-1] == PAD:
                row.pop()
        result.append(row)
    return result


MAX_LEN = 8


@given(model=table_models(sources=3))
def test_greedy_takes_the_most_likely_token(decoding, device, model):
    src = torch.tensor([[0, 5], [1, 5], [2, 0]], device=device)
    got = rows(decoding.greedy_decode(model, src, MAX_LEN, BOS, EOS), "greedy_decode", MAX_LEN)
    expected = [table_greedy(model, s, MAX_LEN) for s in range(3)]
    harness.expect(
        got == expected,
        f"greedy_decode gave {got}, expected {expected} (the argmax of the logits at every step)",
    )


@given(model=table_models(sources=2))
def test_beam_size_one_is_greedy(decoding, device, model):
    src = torch.tensor([[0], [1]], device=device)
    greedy = rows(decoding.greedy_decode(model, src, MAX_LEN, BOS, EOS), "greedy_decode", MAX_LEN)
    beam = rows(
        decoding.beam_search(model, src, MAX_LEN, BOS, EOS, beam_size=1),
        "beam_search(beam_size=1)",
        MAX_LEN,
    )
    harness.expect(
        beam == greedy, f"beam_search with beam_size=1 gave {beam}, greedy gave {greedy}"
    )


def trap_model() -> TableModel:
    """BOS -> A (0.55) or B (0.45); A -> A, B or EOS (about a third each); B -> EOS (0.9).

    Greedy takes A and wanders; the best sequence is BOS B EOS (0.45 * 0.9 = 0.405).
    """
    a, b = 3, 4
    probabilities = torch.full((5, 5), 1e-6)
    probabilities[BOS, a], probabilities[BOS, b] = 0.55, 0.45
    probabilities[a, a], probabilities[a, b], probabilities[a, EOS] = 0.34, 0.33, 0.33
    probabilities[b, EOS], probabilities[b, a] = 0.9, 0.1
    probabilities[EOS, EOS] = 1.0
    return TableModel(probabilities.log()[None])


@given(beam_size=st.integers(2, 4))
def test_beam_search_finds_what_greedy_misses(decoding, device, beam_size):
    model = trap_model()
    src = torch.zeros(1, 1, dtype=torch.long, device=device)
    greedy = rows(decoding.greedy_decode(model, src, 6, BOS, EOS), "greedy_decode", 6)
    beam = rows(
        decoding.beam_search(model, src, 6, BOS, EOS, beam_size=beam_size),
        f"beam_search(beam_size={beam_size})",
        6,
    )
    harness.expect(
        greedy[0][:2] == [BOS, 3], f"greedy_decode should start BOS, A here; got {greedy}"
    )
    harness.expect(
        beam == [[BOS, 4, EOS]],
        f"beam_search(beam_size={beam_size}) gave {beam}; the most likely sequence is "
        f"[BOS, B, EOS] (probability 0.405), which greedy decoding misses "
        f"(ids: BOS=1, EOS=2, A=3, B=4)",
    )


def short_or_long_model() -> TableModel:
    """BOS -> EOS (0.45) or A (0.55); A -> EOS (0.75) or A (0.25).

    [BOS, EOS] is the most likely sequence (0.45 against 0.4125 for [BOS, A, EOS]), but per
    token [BOS, A, EOS] is better: log 0.4125 / 2 = -0.44 against log 0.45 / 1 = -0.80.
    """
    a = 3
    probabilities = torch.full((4, 4), 1e-6)
    probabilities[BOS, EOS], probabilities[BOS, a] = 0.45, 0.55
    probabilities[a, EOS], probabilities[a, a] = 0.75, 0.25
    probabilities[EOS, EOS] = 1.0
    return TableModel(probabilities.log()[None])


@given(beam_size=st.integers(2, 3))
def test_beam_search_length_penalty(decoding, device, beam_size):
    model = short_or_long_model()
    src = torch.zeros(1, 1, dtype=torch.long, device=device)
    for alpha, expected in ((0.0, [BOS, EOS]), (1.0, [BOS, 3, EOS])):
        call = f"beam_search(beam_size={beam_size}, length_penalty={alpha})"
        got = rows(
            decoding.beam_search(
                model, src, 6, BOS, EOS, beam_size=beam_size, length_penalty=alpha
            ),
            call,
            6,
        )
        harness.expect(
            got == [expected],
            f"{call} gave {got}, expected {[expected]}: [BOS, EOS] has the higher probability "
            f"(0.45 against 0.41 for [BOS, A, EOS]), [BOS, A, EOS] the higher log-probability "
            f"per token (log p / length ** length_penalty; ids: BOS=1, EOS=2, A=3)",
        )


@given(model=table_models(sources=3), beam_size=st.integers(1, 3))
def test_beam_search_decodes_a_batch_row_by_row(decoding, device, model, beam_size):
    src = torch.tensor([[0], [1], [2]], device=device)
    together = rows(
        decoding.beam_search(model, src, MAX_LEN, BOS, EOS, beam_size=beam_size),
        "beam_search of a batch",
        MAX_LEN,
    )
    alone = [
        rows(
            decoding.beam_search(model, src[i : i + 1], MAX_LEN, BOS, EOS, beam_size=beam_size),
            "beam_search of one row",
            MAX_LEN,
        )[0]
        for i in range(3)
    ]
    harness.expect(
        together == alone, f"beam_search of the batch gave {together}, row by row it gave {alone}"
    )


@given(
    logits=strategies.tensors(st.tuples(strategies.dims(1, 3), strategies.dims(2, 9))),
    k=st.integers(1, 9),
)
def test_top_k_keeps_exactly_k(decoding, device, logits, k):
    k = min(k, logits.shape[-1])
    filtered = harness.expect_shape(
        decoding.top_k_filter(logits.to(device), k), logits.shape, f"top_k_filter(logits, {k})"
    ).cpu()
    kept = torch.isfinite(filtered)
    harness.expect(
        bool((kept.sum(-1) == k).all()),
        f"top_k_filter(logits, {k}) kept {kept.sum(-1).tolist()} tokens per row",
    )
    largest = torch.zeros_like(kept).scatter(-1, logits.topk(k, dim=-1).indices, True)
    harness.expect(bool((kept == largest).all()), f"top_k_filter must keep the {k} largest logits")
    harness.expect_close(filtered[kept], logits[kept], "the kept logits", reference="unchanged")
    harness.expect(bool((filtered[~kept] == float("-inf")).all()), "dropped logits must be -inf")


MASS_TOLERANCE = 1e-5
"""Probability mass within this of p may fall either way: float32 sums round differently."""


def expect_nucleus(kept: torch.Tensor, probabilities: torch.Tensor, p: float, what: str) -> None:
    """``kept`` (vocab,) is the smallest set of likeliest tokens whose probability reaches p."""
    kept_list = kept.nonzero().flatten().tolist()
    harness.expect(bool(kept.any()), f"{what} kept no token at all; it must keep at least one")
    if not kept.all():
        harness.expect(
            probabilities[kept].min() >= probabilities[~kept].max() - 1e-7,
            f"{what} kept {kept_list} but dropped a likelier token (probabilities "
            f"{[round(x, 4) for x in probabilities.tolist()]}): keep the most likely first",
        )
    mass = float(probabilities[kept].sum())
    harness.expect(
        mass >= p - MASS_TOLERANCE,
        f"{what} kept {kept_list}, whose probability {mass:.6g} does not reach p={p:.6g}",
    )
    without_smallest = mass - float(probabilities[kept].min())
    harness.expect(
        without_smallest < p + MASS_TOLERANCE,
        f"{what} kept {kept_list} (probability {mass:.6g}), but the set is not the smallest: "
        f"without its least likely token it still holds {without_smallest:.6g} >= p={p:.6g}",
    )


@given(
    logits=strategies.tensors(st.tuples(strategies.dims(1, 3), strategies.dims(2, 9)), scale=2.0),
    p=st.floats(0.05, 1.0),
)
def test_top_p_keeps_the_smallest_set_reaching_p(decoding, device, logits, p):
    filtered = harness.expect_shape(
        decoding.top_p_filter(logits.to(device), p), logits.shape, f"top_p_filter(logits, {p:.3g})"
    ).cpu()
    kept = torch.isfinite(filtered)
    probabilities = torch.softmax(logits.double(), dim=-1)
    for row in range(logits.shape[0]):
        expect_nucleus(kept[row], probabilities[row], p, f"top_p_filter(p={p:.3g}) on row {row}")
    harness.expect_close(filtered[kept], logits[kept], "the kept logits", reference="unchanged")
    harness.expect(bool((filtered[~kept] == float("-inf")).all()), "dropped logits must be -inf")


@given(model=table_models(sources=2), seed=strategies.SEEDS)
def test_sampling_is_seeded_and_stays_in_the_top_k(decoding, device, model, seed):
    src = torch.tensor([[0], [1]] * 4, device=device)

    def draw() -> list[list[int]]:
        generator = torch.Generator(device=device).manual_seed(seed)
        return rows(
            decoding.sample(model, src, MAX_LEN, BOS, EOS, top_k=2, generator=generator),
            "sample(top_k=2)",
            MAX_LEN,
        )

    first = draw()
    harness.expect(draw() == first, "two samples with the same generator seed differ")
    for index, sequence in enumerate(first):
        table = model.tables[index % 2]
        for previous, token in itertools.pairwise(sequence):
            allowed = table[previous].topk(2).indices.tolist()
            harness.expect(
                token in allowed,
                f"sample(top_k=2) drew token {token} after {previous}, which is not "
                f"among the two most likely ({allowed})",
            )


def nucleus(logits: torch.Tensor, p: float) -> set[int]:
    """The tokens a top-p sampler may draw, counting boundary cases within the tolerance."""
    probabilities = torch.softmax(logits.double(), dim=-1)
    order = probabilities.argsort(descending=True)
    before = probabilities[order].cumsum(0) - probabilities[order]
    return set(order[before < p + MASS_TOLERANCE].tolist())


@given(model=table_models(sources=2), p=st.sampled_from([0.3, 0.6, 0.9]), seed=strategies.SEEDS)
def test_sampling_stays_in_the_nucleus(decoding, device, model, p, seed):
    src = torch.tensor([[0], [1]] * 4, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    sampled = rows(
        decoding.sample(model, src, MAX_LEN, BOS, EOS, top_p=p, generator=generator),
        f"sample(top_p={p})",
        MAX_LEN,
    )
    for index, sequence in enumerate(sampled):
        table = model.tables[index % 2]
        for previous, token in itertools.pairwise(sequence):
            allowed = sorted(nucleus(table[previous], p))
            harness.expect(
                token in allowed,
                f"sample(top_p={p}) drew token {token} after {previous}, outside the smallest "
                f"set of likeliest tokens reaching probability {p} ({allowed})",
            )


@given(model=table_models(sources=2), seed=strategies.SEEDS)
def test_tiny_temperature_and_top_k_one_are_greedy(decoding, device, model, seed):
    src = torch.tensor([[0], [1]], device=device)
    greedy = rows(decoding.greedy_decode(model, src, MAX_LEN, BOS, EOS), "greedy_decode", MAX_LEN)
    for kwargs in ({"temperature": 1e-4}, {"top_k": 1}):
        generator = torch.Generator(device=device).manual_seed(seed)
        sampled = rows(
            decoding.sample(model, src, MAX_LEN, BOS, EOS, generator=generator, **kwargs),
            f"sample({kwargs})",
            MAX_LEN,
        )
        harness.expect(sampled == greedy, f"sample with {kwargs} gave {sampled}, greedy {greedy}")


@given(model=table_models(sources=2), seed=strategies.SEEDS)
def test_finished_sequences_stay_finished(decoding, device, model, seed):
    model.tables[0, BOS, EOS] = 50.0  # the first source ends at once
    src = torch.tensor([[0], [1]], device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    for name, result in (
        ("greedy_decode", decoding.greedy_decode(model, src, MAX_LEN, BOS, EOS)),
        ("beam_search", decoding.beam_search(model, src, MAX_LEN, BOS, EOS, beam_size=2)),
        ("sample", decoding.sample(model, src, MAX_LEN, BOS, EOS, generator=generator)),
    ):
        sequences = rows(result, name, MAX_LEN)  # checks the padding after EOS
        harness.expect(
            sequences[0] == [BOS, EOS],
            f"{name}: the first sequence should be [BOS, EOS], got {sequences[0]}",
        )


@pytest.mark.contract
def test_decoding_rejects_bad_arguments(decoding):
    model = short_or_long_model()
    src = torch.zeros(1, 1, dtype=torch.long)
    logits = torch.zeros(2, 5)
    for call, function, args, kwargs, word in (
        ("top_k_filter(logits, 0)", decoding.top_k_filter, (logits, 0), {}, "k"),
        ("top_k_filter(logits of 5, 6)", decoding.top_k_filter, (logits, 6), {}, "k"),
        ("top_p_filter(logits, 0.0)", decoding.top_p_filter, (logits, 0.0), {}, "p"),
        ("top_p_filter(logits, 1.5)", decoding.top_p_filter, (logits, 1.5), {}, "p"),
        (
            "greedy_decode(max_len=0)",
            decoding.greedy_decode,
            (model, src, 0, BOS, EOS),
            {},
            "max_len",
        ),
        (
            "greedy_decode(src of 1 dimension)",
            decoding.greedy_decode,
            (model, src[0], 4, BOS, EOS),
            {},
            "src",
        ),
        (
            "beam_search(beam_size=0)",
            decoding.beam_search,
            (model, src, 4, BOS, EOS),
            {"beam_size": 0},
            "beam_size",
        ),
        (
            "sample(temperature=0)",
            decoding.sample,
            (model, src, 4, BOS, EOS),
            {"temperature": 0.0},
            "temperature",
        ),
    ):
        harness.expect_raises(ValueError, function, *args, mentions=(word,), what=call, **kwargs)
