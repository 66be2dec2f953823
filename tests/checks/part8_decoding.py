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
SOURCE = 10
"""Source row b starts with token ``SOURCE + i`` to use table i; its other tokens are
``SOURCE + 10`` or padding (source ids are the model's business, apart from padding)."""


def source_masks_agree(
    mask: torch.Tensor | None, expected: torch.Tensor, length: int
) -> torch.Tensor:
    """Per row of ``expected`` ``(B, S)``: does ``mask`` select the same keys for every query?

    ``None`` means no mask, right only for a row without padding; a mask must be boolean and
    broadcastable to ``(B, heads, length, S)``.
    """
    if mask is None:
        return expected.all(dim=-1)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.dim() > 4:
        return torch.zeros(expected.shape[0], dtype=torch.bool)
    batch, keys = expected.shape
    mask = mask.cpu().reshape((1,) * (4 - mask.dim()) + tuple(mask.shape))
    rows_of_mask, heads, queries, columns = mask.shape
    if rows_of_mask not in (1, batch) or queries not in (1, length) or columns != keys:
        return torch.zeros(batch, dtype=torch.bool)
    agree = mask.expand(batch, heads, length, keys) == expected[:, None, None, :]
    return agree.flatten(1).all(dim=1)


class TableModel(torch.nn.Module):
    """Next-token logits looked up from the previous token, one table per source.

    ``tables`` is ``(sources, vocab, vocab)``: source row b uses ``tables[src[b, 0] - SOURCE]``
    and the logits after token ``t`` are ``table[t]``. The model also checks the source mask
    that encode and decode get (the padding mask of ``src`` for ``pad_id``, or
    ``expected_mask`` when the check passes one to the decoder): with a wrong mask it gives
    the token ``alarm`` (the id after the vocabulary) a huge logit.
    """

    def __init__(self, tables: torch.Tensor, pad_id: int = PAD) -> None:
        super().__init__()
        self.tables = tables
        self.pad_id = pad_id
        self.alarm = tables.shape[-1]
        self.expected_mask: torch.Tensor | None = None

    def extra_repr(self) -> str:
        # What a failure report prints as the smallest failing model.
        return f"tables={[[[round(x, 2) for x in row] for row in t] for t in self.tables.tolist()]}"

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Memory ``(B, S, 3)``: the table, the expected mask, whether ``src_mask`` agreed."""
        device, src = src.device, src.cpu()
        expected = src != self.pad_id
        if self.expected_mask is not None:
            expected = self.expected_mask.cpu().reshape(src.shape)
        if src_mask is None and self.expected_mask is None:
            # Like part 7's Transformer: encode's mask defaults to the padding mask.
            right = torch.ones(src.shape[0], dtype=torch.bool)
        else:
            right = source_masks_agree(src_mask, expected, src.shape[1])
        table = (src[:, :1] - SOURCE).expand(src.shape).double()
        memory = torch.stack([table, expected.double(), right[:, None].expand(src.shape).double()])
        return memory.permute(1, 2, 0).to(device)

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None) -> torch.Tensor:
        device = tgt.device
        tgt, memory = tgt.cpu(), memory.cpu()
        table = self.tables[memory[:, 0, 0].long()]
        # After an alarm the alarm goes on (its id has no row in the table).
        previous = tgt.clamp(0, table.shape[-1] - 1)[..., None]
        logits = torch.gather(table, 1, previous.expand(-1, -1, table.shape[-1]))
        right = (memory[:, 0, 2] > 0.5) & source_masks_agree(
            src_mask, memory[:, :, 1] > 0.5, tgt.shape[1]
        )
        alarm = torch.where(right, -1e4, 1e4)[:, None, None].expand(*tgt.shape, 1)
        return torch.cat([logits, alarm.to(logits.dtype)], dim=-1).to(device)


@st.composite
def table_models(draw, sources: int = 1, pad_id: int = PAD):
    """Random tables whose logits in a row are at least 0.6 apart.

    Near-ties would make "the most likely token" depend on rounding (argmax of the logits
    and of their log-softmax could disagree), and a correct decoder could then fail.
    """
    vocab = draw(st.integers(max(4, pad_id + 1), 7))
    generator = torch.Generator().manual_seed(draw(strategies.SEEDS))
    ranks = torch.stack(
        [torch.randperm(vocab, generator=generator) for _ in range(sources * vocab)]
    )
    tables = ranks.reshape(sources, vocab, vocab).float() * 0.6
    tables[:, :, pad_id] = -1e4  # a model never proposes padding
    tables[:, :, BOS] = -1e4
    return TableModel(tables, pad_id)


@st.composite
def sources(draw, count: int, pad_id: int = PAD) -> torch.Tensor:
    """``(count, S)``: row i uses table i; rows with and without padding."""
    length = draw(st.integers(1, 4))
    lengths = torch.tensor([draw(st.integers(1, length)) for _ in range(count)])
    src = torch.full((count, length), SOURCE + 10)
    src[:, 0] = SOURCE + torch.arange(count)
    return src.masked_fill(torch.arange(length) >= lengths[:, None], pad_id)


def table_greedy(model: TableModel, source: int, max_len: int) -> list[int]:
    tokens = [BOS]
    while len(tokens) < max_len and tokens[-1] != EOS:
        tokens.append(int(model.tables[source, tokens[-1]].argmax()))
    return tokens


def rows(value, what: str, max_len: int, model: TableModel | None = None) -> list[list[int]]:
    """The sequences as lists, trailing padding removed; checks BOS, length and padding."""
    pad = PAD if model is None else model.pad_id
    tokens = harness.tensor(value, what)
    harness.expect(tokens.dim() == 2, f"{what} should be (B, L), got shape {tuple(tokens.shape)}")
    harness.expect(
        not tokens.is_floating_point() and tokens.dtype != torch.bool,
        f"{what} should hold integer token ids, got dtype {tokens.dtype}",
    )
    harness.expect(tokens.shape[1] <= max_len, f"{what} is longer than max_len={max_len}")
    if model is not None:
        harness.expect(
            not bool((tokens == model.alarm).any()),
            f"{what}: the source mask given to the model's encode or decode was wrong; it "
            f"should be the padding mask of src (True at tokens that are not pad_id={pad}), or "
            "the src_mask the decoder was given, with one row per row of the memory",
        )
    result = []
    for row in tokens.cpu().tolist():
        harness.expect(row[0] == BOS, f"{what}: a sequence does not start with BOS: {row}")
        if EOS in row:
            after = row[row.index(EOS) + 1 :]
            harness.expect(
                all(t == pad for t in after),
                f"{what}: tokens after EOS must be padding ({pad}), got {row}",
            )
            row = row[: row.index(EOS) + 1]
        else:
            while row and row[-1] == pad:
                row.pop()
        result.append(row)
    return result


MAX_LEN = 8


@st.composite
def explicit_masks(draw, src: torch.Tensor) -> torch.Tensor | None:
    """None, or a src_mask ``(B, 1, 1, S)`` that also hides some real tokens (never the first)."""
    if not draw(st.booleans()):
        return None
    generator = torch.Generator().manual_seed(draw(strategies.SEEDS))
    mask = torch.rand(src.shape, generator=generator) < 0.5
    mask[:, 0] = True
    return mask[:, None, None, :]


def given_mask(model: TableModel, mask: torch.Tensor | None, device: str) -> dict:
    """The keyword arguments passing ``mask`` to a decoder; the model expects it."""
    model.expected_mask = mask
    return {} if mask is None else {"src_mask": mask.to(device)}


@st.composite
def greedy_cases(draw):
    model = draw(table_models(sources=3))
    src = draw(sources(3))
    return model, src, draw(explicit_masks(src))


@given(case=greedy_cases())
def test_greedy_takes_the_most_likely_token(decoding, device, case):
    model, src, mask = case
    kwargs = given_mask(model, mask, device)
    call = "greedy_decode" + (" with a src_mask" if mask is not None else "")
    got = rows(
        decoding.greedy_decode(model, src.to(device), MAX_LEN, BOS, EOS, **kwargs),
        call,
        MAX_LEN,
        model,
    )
    expected = [table_greedy(model, s, MAX_LEN) for s in range(3)]
    harness.expect(
        got == expected,
        f"{call} gave {got}, expected {expected} (the argmax of the logits at every step)",
    )


@given(model=table_models(sources=2), src=sources(2))
def test_beam_size_one_is_greedy(decoding, device, model, src):
    src = src.to(device)
    expected = [table_greedy(model, s, MAX_LEN) for s in range(2)]
    greedy = rows(
        decoding.greedy_decode(model, src, MAX_LEN, BOS, EOS), "greedy_decode", MAX_LEN, model
    )
    beam = rows(
        decoding.beam_search(model, src, MAX_LEN, BOS, EOS, beam_size=1),
        "beam_search(beam_size=1)",
        MAX_LEN,
        model,
    )
    harness.expect(
        greedy == expected, f"greedy_decode gave {greedy}, expected {expected} (the argmax)"
    )
    harness.expect(
        beam == greedy, f"beam_search with beam_size=1 gave {beam}, greedy gave {greedy}"
    )


def probability_model(probabilities: torch.Tensor, pad_id: int = PAD) -> TableModel:
    """A one-source table model with these next-token probabilities ``(vocab, vocab)``."""
    return TableModel(probabilities.log()[None], pad_id)


def one_source(padded: bool, device: str, pad_id: int = PAD) -> torch.Tensor:
    """``(1, 2)``: table 0, with or without a padding token."""
    return torch.tensor([[SOURCE, pad_id if padded else SOURCE + 10]], device=device)


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
    return probability_model(probabilities)


@given(beam_size=st.integers(2, 4), padded=st.booleans())
def test_beam_search_finds_what_greedy_misses(decoding, device, beam_size, padded):
    model = trap_model()
    src = one_source(padded, device)
    greedy = rows(decoding.greedy_decode(model, src, 6, BOS, EOS), "greedy_decode", 6, model)
    beam = rows(
        decoding.beam_search(model, src, 6, BOS, EOS, beam_size=beam_size),
        f"beam_search(beam_size={beam_size})",
        6,
        model,
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
    return probability_model(probabilities)


def length_count_model() -> TableModel:
    """BOS -> EOS (0.52) or A (0.48); A -> EOS (0.66) or A (0.34).

    With length_penalty=1, [BOS, A, EOS] (log 0.3168 / 2 = -0.575) beats [BOS, EOS]
    (log 0.52 / 1 = -0.654) when the length counts the tokens after BOS, EOS included; counting
    BOS too (-0.383 against -0.327) or leaving EOS out would pick [BOS, EOS].
    """
    a = 3
    probabilities = torch.full((4, 4), 1e-6)
    probabilities[BOS, EOS], probabilities[BOS, a] = 0.52, 0.48
    probabilities[a, EOS], probabilities[a, a] = 0.66, 0.34
    probabilities[EOS, EOS] = 1.0
    return probability_model(probabilities)


@given(beam_size=st.integers(2, 3), padded=st.booleans())
def test_beam_search_length_penalty(decoding, device, beam_size, padded):
    src = one_source(padded, device)
    for name, model in (("", short_or_long_model()), ("second ", length_count_model())):
        for alpha, expected in ((0.0, [BOS, EOS]), (1.0, [BOS, 3, EOS])):
            call = f"beam_search(beam_size={beam_size}, length_penalty={alpha})"
            got = rows(
                decoding.beam_search(
                    model, src, 6, BOS, EOS, beam_size=beam_size, length_penalty=alpha
                ),
                call,
                6,
                model,
            )
            probabilities = torch.softmax(model.tables[0].double(), -1)
            short = float(probabilities[BOS, EOS])
            long = float(probabilities[BOS, 3] * probabilities[3, EOS])
            harness.expect(
                got == [expected],
                f"{call} on the {name}test model gave {got}, expected {[expected]}: "
                f"[BOS, EOS] has the higher probability ({short:.4g} against {long:.4g} for "
                f"[BOS, A, EOS]), [BOS, A, EOS] the higher log p / length ** length_penalty, "
                f"the length counting the tokens after BOS, EOS included "
                f"(ids: BOS=1, EOS=2, A=3)",
            )


@st.composite
def batch_cases(draw):
    model = draw(table_models(sources=3))
    src = draw(sources(3))
    return model, src, draw(explicit_masks(src)), draw(st.integers(1, 3))


@given(case=batch_cases())
def test_beam_search_decodes_a_batch_row_by_row(decoding, device, case):
    model, src, mask, beam_size = case
    kwargs = given_mask(model, mask, device)
    together = rows(
        decoding.beam_search(model, src.to(device), MAX_LEN, BOS, EOS, beam_size, **kwargs),
        f"beam_search(beam_size={beam_size}) of a batch",
        MAX_LEN,
        model,
    )
    alone = []
    for i in range(3):
        kwargs = given_mask(model, None if mask is None else mask[i : i + 1], device)
        alone += rows(
            decoding.beam_search(
                model, src[i : i + 1].to(device), MAX_LEN, BOS, EOS, beam_size, **kwargs
            ),
            f"beam_search(beam_size={beam_size}) of one row",
            MAX_LEN,
            model,
        )
    harness.expect(
        together == alone, f"beam_search of the batch gave {together}, row by row it gave {alone}"
    )
    if beam_size == 1:
        expected = [table_greedy(model, s, MAX_LEN) for s in range(3)]
        harness.expect(
            together == expected,
            f"beam_search(beam_size=1) gave {together}, expected the greedy {expected}",
        )


@st.composite
def logits_with_ties(draw):
    """``(B, V)`` logits; sometimes rounded so that some of them are tied."""
    logits = draw(strategies.tensors(st.tuples(strategies.dims(1, 3), strategies.dims(2, 9))))
    return logits.round() if draw(st.booleans()) else logits


@given(logits=logits_with_ties(), k=st.integers(1, 9))
def test_top_k_keeps_exactly_k(decoding, device, logits, k):
    k = min(k, logits.shape[-1])
    filtered = harness.expect_shape(
        decoding.top_k_filter(logits.to(device), k), logits.shape, f"top_k_filter(logits, {k})"
    ).cpu()
    kept = torch.isfinite(filtered)
    kth = logits.topk(k, dim=-1).values[..., -1:]
    expected = logits >= kth
    harness.expect(
        bool((kept == expected).all()),
        f"top_k_filter(logits, {k}) kept {kept.int().tolist()}, expected {expected.int().tolist()} "
        f"(1 = kept) for logits {logits.tolist()}: the {k} largest, and those tied with the "
        f"{k}-th largest",
    )
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


@given(model=table_models(sources=2), src=sources(2), seed=strategies.SEEDS)
def test_sampling_is_seeded_and_stays_in_the_top_k(decoding, device, model, src, seed):
    src = src.repeat(4, 1).to(device)

    def draw() -> list[list[int]]:
        generator = torch.Generator(device=device).manual_seed(seed)
        return rows(
            decoding.sample(model, src, MAX_LEN, BOS, EOS, top_k=2, generator=generator),
            "sample(top_k=2)",
            MAX_LEN,
            model,
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


def expect_first_tokens_in(decoding, device: str, probabilities: list[float], allowed, **kwargs):
    """200 first tokens drawn with ``kwargs`` from BOS -> EOS, 3, 4, 5 with ``probabilities``
    all lie in ``allowed``."""
    table = torch.full((6, 6), 1e-6)
    table[BOS, 2:] = torch.tensor(probabilities)
    table[2:, EOS] = 1.0
    model = probability_model(table)
    src = torch.full((200, 1), SOURCE, device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    call = f"sample({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    drawn = rows(
        decoding.sample(model, src, 2, BOS, EOS, generator=generator, **kwargs), call, 2, model
    )
    outside = sorted({row[1] for row in drawn} - set(allowed))
    harness.expect(
        not outside,
        f"{call} drew tokens {outside} after BOS, where the next-token probabilities are "
        f"{probabilities} for tokens 2, 3, 4, 5 and only {sorted(allowed)} may be drawn: the "
        "temperature divides the logits first, then top-k filters, then top-p",
    )


@given(
    model=table_models(sources=2),
    src=sources(2),
    p=st.sampled_from([0.3, 0.6, 0.9]),
    temperature=st.sampled_from([1.0, 0.5, 2.0]),
    seed=strategies.SEEDS,
)
def test_sampling_stays_in_the_nucleus(decoding, device, model, src, p, temperature, seed):
    src = src.repeat(4, 1).to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    call = f"sample(temperature={temperature}, top_p={p})"
    sampled = rows(
        decoding.sample(
            model, src, MAX_LEN, BOS, EOS, temperature=temperature, top_p=p, generator=generator
        ),
        call,
        MAX_LEN,
        model,
    )
    for index, sequence in enumerate(sampled):
        table = model.tables[index % 2]
        for previous, token in itertools.pairwise(sequence):
            allowed = sorted(nucleus(table[previous] / temperature, p))
            harness.expect(
                token in allowed,
                f"{call} drew token {token} after {previous}, outside the smallest set of "
                f"likeliest tokens reaching probability {p} after the temperature ({allowed})",
            )
    # The order of the steps: the temperature sharpens [0.4, 0.3, 0.2, 0.1] to put 0.53 on
    # token 2; top-k=2 leaves [0.57, 0.43], whose top-p=0.5 nucleus is token 2 alone.
    expect_first_tokens_in(decoding, device, [0.4, 0.3, 0.2, 0.1], [2], temperature=0.5, top_p=0.45)
    expect_first_tokens_in(decoding, device, [0.4, 0.3, 0.2, 0.1], [2], top_k=2, top_p=0.5)


@given(model=table_models(sources=2), src=sources(2), seed=strategies.SEEDS)
def test_tiny_temperature_and_top_k_one_are_greedy(decoding, device, model, src, seed):
    src = src.to(device)
    expected = [table_greedy(model, s, MAX_LEN) for s in range(2)]
    for kwargs in ({"temperature": 1e-4}, {"top_k": 1}):
        generator = torch.Generator(device=device).manual_seed(seed)
        sampled = rows(
            decoding.sample(model, src, MAX_LEN, BOS, EOS, generator=generator, **kwargs),
            f"sample({kwargs})",
            MAX_LEN,
            model,
        )
        harness.expect(
            sampled == expected, f"sample with {kwargs} gave {sampled}, greedy {expected}"
        )


@st.composite
def finishing_models(draw):
    """(model, pad_id): pad_id 0 or 3; the first source ends at once."""
    pad = draw(st.sampled_from([PAD, 3]))
    model = draw(table_models(sources=2, pad_id=pad))
    model.tables[0, BOS, EOS] = 50.0
    return model, pad


@given(case=finishing_models(), seed=strategies.SEEDS)
def test_finished_sequences_stay_finished(decoding, device, case, seed):
    model, pad = case
    src = torch.tensor([[SOURCE, pad], [SOURCE + 1, SOURCE + 10]], device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    kwargs = {"pad_id": pad}
    for name, result in (
        ("greedy_decode", decoding.greedy_decode(model, src, MAX_LEN, BOS, EOS, **kwargs)),
        (
            "beam_search",
            decoding.beam_search(model, src, MAX_LEN, BOS, EOS, beam_size=2, **kwargs),
        ),
        ("sample", decoding.sample(model, src, MAX_LEN, BOS, EOS, generator=generator, **kwargs)),
    ):
        sequences = rows(result, f"{name}(pad_id={pad})", MAX_LEN, model)  # padding after EOS
        harness.expect(
            sequences[0] == [BOS, EOS],
            f"{name}(pad_id={pad}): the first sequence should be [BOS, EOS], got {sequences[0]}",
        )
        if name == "greedy_decode":
            expected = table_greedy(model, 1, MAX_LEN)
            harness.expect(
                sequences[1] == expected,
                f"greedy_decode(pad_id={pad}): the second sequence should be {expected}, "
                f"got {sequences[1]}",
            )


@pytest.mark.contract
def test_decoding_rejects_bad_arguments(decoding):
    model = short_or_long_model()
    src = one_source(False, "cpu")
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
