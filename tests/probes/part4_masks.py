"""Probes of part 4 (masks): causal, padding and target masks, additive masks."""

import torch

from tests.probes import Probes

PROBES = Probes()

TOKENS = torch.tensor([[5, 3, 0, 0], [3, 4, 7, 0], [0, 6, 3, 2]])
"""Padding (0) at the end, none, and at the start; id 3 stands for another pad_id."""


@PROBES.add
def causal_mask_of_four(m):
    return m.causal_mask(4)


@PROBES.add
def causal_mask_of_one(m):
    return m.causal_mask(1)


@PROBES.add
def causal_mask_on_a_device(m):
    return m.causal_mask(3, device="cpu")


@PROBES.add
def padding_mask(m):
    return m.padding_mask(TOKENS)


@PROBES.add
def padding_mask_with_pad_id_3(m):
    return m.padding_mask(TOKENS, pad_id=3)


@PROBES.add
def target_mask(m):
    return m.target_mask(TOKENS)


@PROBES.add
def target_mask_with_pad_id_3(m):
    return m.target_mask(TOKENS, pad_id=3)


@PROBES.add
def additive_float32(m):
    return m.to_additive(torch.tensor([[True, False, True], [False, False, True]]))


@PROBES.add
def additive_float64(m):
    return m.to_additive(torch.tensor([True, False, False, True]), torch.float64)


@PROBES.add
def additive_float16(m):
    return m.to_additive(torch.ones(2, 3, dtype=torch.bool).tril(), torch.float16)


@PROBES.add
def additive_of_a_target_mask(m):
    mask = torch.ones(1, 1, 3, 3, dtype=torch.bool).tril()
    return m.to_additive(mask, torch.float32)
