"""Probes of part 8 (decoding): top-k and top-p filters, greedy, beam search, sampling.

The model is a lookup table (the logits after token t are a fixed row per source), so
decoding is probed on its own. One probe per documented behaviour: the filters (k, p, the
most likely token always kept, any leading dimensions, refusals), greedy's most likely
token and its stop at EOS with padding after, the source padding mask given to the model,
beam search (beam 1, wider beams, the length penalty, a batch), and sampling (seeded,
temperature, top-k and top-p, finished rows padded), told by facts that hold for any seed.
"""

import itertools

import torch

from tests.probes import Probes
from tests.probes.inputs import error_facts, floats

PROBES = Probes()
PAD, BOS, EOS = 0, 1, 2


class TableModel(torch.nn.Module):
    """Logits after token t are ``tables[source][t]``, the source being ``src[b, 0]``.

    It keeps the source masks it was given, so a probe sees what decoding passed on.
    """

    def __init__(self, seed: int, sources: int = 3, vocab: int = 6) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        ranks = torch.stack(
            [torch.randperm(vocab, generator=generator) for _ in range(sources * vocab)]
        )
        self.tables = ranks.reshape(sources, vocab, vocab).double() * 0.7
        self.tables[:, :, PAD] = -1e4
        self.tables[:, :, BOS] = -1e4
        self.masks: list[torch.Tensor | None] = []
        self.decode_masks: list[torch.Tensor | None] = []

    def encode(self, src, src_mask=None):
        self.masks.append(None if src_mask is None else torch.as_tensor(src_mask).clone())
        return src[:, :1, None].double()

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None):
        mask = None if src_mask is None else torch.as_tensor(src_mask).clone()
        self.decode_masks.append(mask)
        table = self.tables[memory[:, 0, 0].long()]
        return torch.gather(table, 1, tgt[..., None].expand(-1, -1, table.shape[-1]))


SRC = torch.tensor([[0, 4, 5], [1, 3, 0], [2, 0, 0]])
GIVEN_MASK = (SRC != 4)[:, None, None, :]
"""A source mask that is not the padding mask: decoding must pass on the one it is given."""


def _masks_seen(model: TableModel) -> tuple:
    """The source masks the model got: at the first encode, the first and the last decode."""
    decoded = model.decode_masks
    return model.masks[:1], decoded[:1], decoded[-1:], len(model.masks)


def _allowed(logits: torch.Tensor, temperature=1.0, top_k=None, top_p=None, p_first=False):
    """Which tokens sampling may draw from ``logits`` (the documented order: the temperature,
    then top-k, then top-p; ``p_first`` swaps the filters)."""
    logits = logits.double() / temperature
    filters = [("k", top_k), ("p", top_p)]
    for kind, value in reversed(filters) if p_first else filters:
        if value is None:
            continue
        if kind == "k":
            kth = torch.topk(logits, value, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        else:
            ordered, order = torch.sort(logits, dim=-1, descending=True)
            probabilities = torch.softmax(ordered, dim=-1)
            drop = probabilities.cumsum(-1) - probabilities >= value
            drop = torch.zeros_like(drop).scatter(-1, order, drop)
            logits = logits.masked_fill(drop, float("-inf"))
    return torch.isfinite(logits)


def _inside(tokens: torch.Tensor, model: TableModel, allowed: torch.Tensor) -> bool:
    """Whether every drawn token (up to EOS) is allowed after the token before it, and only
    padding follows EOS."""
    for b, row in enumerate(tokens.tolist()):
        for before, after in itertools.pairwise(row):
            if before in (EOS, PAD):
                if after != PAD:
                    return False
                continue
            if not bool(allowed[b, before, after]):
                return False
    return True


@PROBES.add
def top_k_of_two(m):
    return m.top_k_filter(floats(1, 2, 6), 2)


@PROBES.add
def top_k_of_one_and_of_all(m):
    logits = floats(2, 3, 5)
    return m.top_k_filter(logits, 1), m.top_k_filter(logits, 5)


@PROBES.add
def top_k_with_leading_dimensions(m):
    return m.top_k_filter(floats(3, 2, 2, 4), 3)


@PROBES.add
def top_k_with_ties(m):
    logits = torch.tensor([[1.0, 3.0, 3.0, 0.5, 3.0], [2.0, 2.0, 1.0, 0.0, -1.0]])
    return m.top_k_filter(logits, 2), m.top_k_filter(logits, 1)


@PROBES.add
def top_k_larger_than_the_vocabulary(m):
    return error_facts(lambda: m.top_k_filter(floats(4, 2, 4), 5), 5)


@PROBES.add
def top_p_half(m):
    return m.top_p_filter(floats(5, 3, 6, scale=2.0), 0.5)


@PROBES.add
def top_p_most_and_all(m):
    logits = floats(6, 2, 6, scale=2.0)
    return m.top_p_filter(logits, 0.9), m.top_p_filter(logits, 1.0), m.top_p_filter(logits, 1e-3)


@PROBES.add
def top_p_refusals(m):
    logits = floats(7, 2, 4)
    return error_facts(lambda: m.top_p_filter(logits, 0.0)), error_facts(
        lambda: m.top_p_filter(logits, 1.5)
    )


@PROBES.add
def greedy(m):
    return m.greedy_decode(TableModel(8), SRC, 7, BOS, EOS)


@PROBES.add
def greedy_other_tables(m):
    return m.greedy_decode(TableModel(9, vocab=5), SRC, 9, BOS, EOS)


@PROBES.add
def greedy_source_mask(m):
    model, given = TableModel(10), TableModel(10)
    m.greedy_decode(model, SRC, 4, BOS, EOS, pad_id=3)
    m.greedy_decode(given, SRC, 4, BOS, EOS, src_mask=GIVEN_MASK)
    return _masks_seen(model), _masks_seen(given)


@PROBES.add
def greedy_short(m):
    return m.greedy_decode(TableModel(11), SRC, 2, BOS, EOS), m.greedy_decode(
        TableModel(11), SRC, 1, BOS, EOS
    )


@PROBES.add
def beam_of_one(m):
    return m.beam_search(TableModel(12), SRC, 7, BOS, EOS, beam_size=1)


@PROBES.add
def beam_of_three(m):
    return m.beam_search(TableModel(13), SRC, 7, BOS, EOS, beam_size=3)


@PROBES.add
def beam_with_length_penalty(m):
    return m.beam_search(TableModel(14, vocab=5), SRC, 8, BOS, EOS, beam_size=4, length_penalty=1.0)


@PROBES.add
def beam_source_mask(m):
    model, given = TableModel(15), TableModel(15)
    m.beam_search(model, SRC, 4, BOS, EOS, beam_size=2, pad_id=3)
    m.beam_search(given, SRC, 4, BOS, EOS, beam_size=2, src_mask=GIVEN_MASK[:1])
    return _masks_seen(model), _masks_seen(given)


@PROBES.add
def beams_of_many_tables(m):
    """Beams that finish at different times, with and without the length penalty."""
    found = []
    for seed in range(6):
        for beam_size, penalty in ((2, 0.0), (3, 1.0), (4, 0.5), (3, 2.0)):
            model = TableModel(100 + seed, vocab=5 + seed % 2)
            found.append(
                m.beam_search(model, SRC, 7, BOS, EOS, beam_size=beam_size, length_penalty=penalty)
            )
    return found


def _sample(m, seed, **options):
    generator = torch.Generator().manual_seed(seed)
    return m.sample(TableModel(16), SRC, 8, BOS, EOS, generator=generator, **options)


@PROBES.add
def sampling_is_seeded(m):
    first, again = _sample(m, 1), _sample(m, 1)
    return bool(torch.equal(first, again)), first.shape[0]


@PROBES.add
def sampling_top_k_one_and_cold_are_greedy(m):
    greedy = m.greedy_decode(TableModel(16), SRC, 8, BOS, EOS)
    return (
        bool(torch.equal(_sample(m, 2, top_k=1), greedy)),
        bool(torch.equal(_sample(m, 3, temperature=1e-4), greedy)),
        bool(torch.equal(_sample(m, 4, top_p=1e-3), greedy)),
    )


@PROBES.add
def sampling_stays_in_the_top_two(m):
    model = TableModel(16)
    allowed = model.tables.topk(2, dim=-1).indices
    inside = []
    for seed in range(5):
        tokens = _sample(m, 10 + seed, top_k=2)
        for b in range(tokens.shape[0]):
            row = tokens[b].tolist()
            for before, after in itertools.pairwise(row):
                if before in (EOS, PAD):
                    inside.append(after == PAD)
                    break
                inside.append(after in allowed[b, before].tolist())
    return all(inside)


@PROBES.add
def sampling_source_mask(m):
    model, given = TableModel(18), TableModel(18)
    m.sample(model, SRC, 4, BOS, EOS, pad_id=3, generator=torch.Generator().manual_seed(0))
    m.sample(
        given, SRC, 4, BOS, EOS, src_mask=GIVEN_MASK, generator=torch.Generator().manual_seed(0)
    )
    return _masks_seen(model), _masks_seen(given)


SETTINGS = (
    {"temperature": 3.0, "top_p": 0.6},
    {"temperature": 0.5, "top_p": 0.6},
    {"temperature": 2.0, "top_k": 3},
    {"top_k": 2, "top_p": 0.6},
    {},
)


@PROBES.add
def sampling_draws_from_the_right_tokens(m):
    """For each setting, over many seeds: every token is allowed by the documented order
    (temperature, top-k, top-p); every token is allowed by the filters without the
    temperature or in the other order; the samples are all greedy's."""
    model = TableModel(16)
    greedy = m.greedy_decode(TableModel(16), SRC, 8, BOS, EOS)
    facts = []
    for options in SETTINGS:
        drawn = [_sample(m, 200 + seed, **options) for seed in range(10)]
        documented = _allowed(model.tables, **options)
        cold = {**options, "temperature": 1.0}
        facts.append(
            (
                all(_inside(t, model, documented) for t in drawn),
                all(_inside(t, model, _allowed(model.tables, **cold)) for t in drawn),
                all(
                    _inside(t, model, _allowed(model.tables, **options, p_first=True))
                    for t in drawn
                ),
                all(torch.equal(t, greedy) for t in drawn),
            )
        )
    return facts


@PROBES.add
def decoding_refusals(m):
    model = TableModel(17)
    return (
        error_facts(lambda: m.greedy_decode(model, SRC, 0, BOS, EOS)),
        error_facts(lambda: m.sample(model, SRC, 5, BOS, EOS, temperature=0.0)),
        error_facts(lambda: m.beam_search(model, SRC, 5, BOS, EOS, beam_size=0)),
        error_facts(lambda: m.greedy_decode(model, SRC[0], 5, BOS, EOS)),
    )
