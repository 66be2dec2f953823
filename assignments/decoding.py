"""Part 8: turning a trained model into sequences - greedy, beam search and sampling.

A decoder gives a distribution over the next token given the tokens so far. Greedy
decoding takes the most likely token each step; beam search keeps the ``beam_size`` best
prefixes by total log-probability and so can find a sequence whose first token was not the
most likely; sampling draws each token at random, sharpened or flattened by a temperature
and restricted to the k most likely tokens (top-k) or to the smallest set holding
probability p (top-p, nucleus sampling).

Every function works with any ``model`` that has ``encode(src, src_mask) -> memory`` and
``decode(tgt, memory, src_mask) -> logits (B, T, vocab)``, such as part 7's Transformer.

Shapes: ``src`` ``(B, S)`` token ids; results ``(B, L)`` with ``L <= max_len``, each row
starting with ``bos_id``; after a row's ``eos_id`` only ``pad_id`` follows.
"""

import torch

from ._validate import check_positive, check_tensor


def _check_decoding(src: torch.Tensor, max_len: int) -> None:
    check_tensor("src", src, min_dim=2, max_dim=2)
    check_positive("max_len", max_len)


def _source_mask(src: torch.Tensor, pad_id: int, src_mask: torch.Tensor | None) -> torch.Tensor:
    """The padding mask of ``src``, ``(B, 1, 1, S)``, unless one is given."""
    return (src != pad_id)[:, None, None, :] if src_mask is None else src_mask


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row; the others become ``-inf``.

    Args:
        logits: ``(..., vocab)``.
        k: how many to keep (at most vocab).

    Returns:
        ``(..., vocab)``; entries tied with the k-th largest are kept too.
    """
    check_tensor("logits", logits, min_dim=1)
    check_positive("k", k)
    if k > logits.shape[-1]:
        raise ValueError(f"k={k} is larger than the vocabulary of logits {tuple(logits.shape)}")
    # HINT: compare every logit with the k-th largest of its row.
    # YOUR CODE HERE
    raise NotImplementedError("top_k_filter is not implemented yet")


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probability reaches ``p``.

    The most likely token is always kept, so a row never loses every candidate.

    Args:
        logits: ``(..., vocab)``.
        p: probability mass to keep, in (0, 1].

    Returns:
        ``(..., vocab)`` with the tokens outside the set at ``-inf``.
    """
    check_tensor("logits", logits, min_dim=1)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must be in (0, 1], got {p!r}")
    # HINT: a token is dropped when the likelier tokens before it already reach p.
    # YOUR CODE HERE
    raise NotImplementedError("top_p_filter is not implemented yet")


def _pad_after_eos(tokens: torch.Tensor, eos_id: int, pad_id: int) -> torch.Tensor:
    """Replace everything after each row's first EOS by padding."""
    seen = (tokens == eos_id).long().cumsum(dim=1)
    after = (seen - (tokens == eos_id).long()) > 0
    return tokens.masked_fill(after, pad_id)


@torch.no_grad()
def greedy_decode(
    model: torch.nn.Module,
    src: torch.Tensor,
    max_len: int,
    bos_id: int,
    eos_id: int,
    pad_id: int = 0,
    src_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The most likely token at every step, until EOS or ``max_len`` tokens.

    Returns:
        ``(B, L)``, ``L <= max_len``, BOS first, padding after EOS.
    """
    _check_decoding(src, max_len)
    # HINT: encode once; decode the whole prefix each step and keep the last position's logits.
    # YOUR CODE HERE
    raise NotImplementedError("greedy_decode is not implemented yet")


@torch.no_grad()
def beam_search(
    model: torch.nn.Module,
    src: torch.Tensor,
    max_len: int,
    bos_id: int,
    eos_id: int,
    beam_size: int = 4,
    length_penalty: float = 0.0,
    pad_id: int = 0,
    src_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Keep the ``beam_size`` best prefixes of every source; return the best sequence.

    A finished prefix (it ended with EOS) is carried on with padding at no cost. The best
    sequence maximises ``log p(sequence) / length ** length_penalty``, the length counting
    the tokens after BOS up to and including EOS (``length_penalty=0``: the plain
    log-probability).

    Returns:
        ``(B, L)``, ``L <= max_len``, BOS first, padding after EOS.
    """
    _check_decoding(src, max_len)
    check_positive("beam_size", beam_size)
    # HINT: run the B * beam_size prefixes as one batch, with a score (B, beam_size) each.
    # HINT: at the start only one beam is alive (the others score -inf), or all would repeat.
    # HINT: a finished prefix may only continue with pad_id, at no cost.
    # YOUR CODE HERE
    raise NotImplementedError("beam_search is not implemented yet")


@torch.no_grad()
def sample(
    model: torch.nn.Module,
    src: torch.Tensor,
    max_len: int,
    bos_id: int,
    eos_id: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    pad_id: int = 0,
    src_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Draw every token from ``softmax(logits / temperature)``, optionally top-k/top-p filtered.

    The filters apply to the logits after the temperature (top-k first, then top-p). The same
    ``generator`` state gives the same samples; it must be on ``src``'s device.

    Returns:
        ``(B, L)``, ``L <= max_len``, BOS first, padding after EOS.
    """
    _check_decoding(src, max_len)
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    # YOUR CODE HERE
    raise NotImplementedError("sample is not implemented yet")
