"""Tensors the receiver keeps between messages, so that an unchanged one is not sent again.

A shell's forward runs in the grader with the shell's current parameters (:mod:`.shells`),
so every call used to copy every parameter of the submodule across, although between two
calls they rarely change. The worker now wraps them in :class:`Kept`: the first time, a
tensor travels whole into a numbered slot of the grader (tag ``K``); after that, as long as
it is the same tensor with the same bits, dtype, shape, device and ``requires_grad``, only its
slot travels (tag ``k``), linked into autograd like a tensor sent whole.

Both ends bound the slots the same way (at most :data:`MAX_SLOTS` slots and
:data:`MAX_BYTES` bytes, oldest evicted first) and apply a message's stores only once the
whole message is written or read, in order; so the sender always knows what the receiver
holds, and the grader's memory for them is bounded whatever the worker sends.
"""

from __future__ import annotations

import builtins
import itertools
import weakref
from collections import OrderedDict
from typing import Any

import torch

from autograder.grader.channel.errors import ProtocolError

__builtins__ = dict(vars(builtins))  # the runtime keeps its builtins whatever student code patches

MAX_SLOTS = 4096
MAX_BYTES = 64 * 2**20
MAX_GROUPS = 256
_EQUAL = torch.equal
_UINT8 = torch.uint8
_TENSOR = torch._C.TensorBase
_FLATTEN = torch._C._nn.flatten_dense_tensors
_NO_GRAD = torch.no_grad
_STRIDED = torch.strided


class Kept:
    """Marks a tensor in a message as one the receiver may keep (see the module docstring)."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


class KeptGroup:
    """Marks tensors that travel together as a tuple, call after call (a shell's parameters).

    When the receiver holds every one of them as it is now, the whole tuple travels as their
    slots (tag ``m``), checked with one comparison of all their bits instead of one per
    tensor; otherwise each travels as a :class:`Kept` tensor.
    """

    __slots__ = ("tensors",)

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        self.tensors = tensors


def _bytes_of(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor's elements as a flat ``uint8`` tensor (a copy only if not contiguous)."""
    flat = _TENSOR.contiguous(_TENSOR.reshape(_TENSOR.detach(tensor), (-1,)))
    return _TENSOR.view(flat, _UINT8)


def _group_bytes(tensors: list[torch.Tensor]) -> torch.Tensor | None:
    """All the tensors' elements, one after the other, as a flat ``uint8`` copy (one copy for
    the group, not one per tensor); None when they do not share a dtype and a device."""
    first = tensors[0]
    dtype, device = first.dtype, first.device
    for tensor in tensors:
        if tensor.dtype != dtype or tensor.device != device or tensor.layout != _STRIDED:
            return None
    with _NO_GRAD():
        flat = _FLATTEN(tensors)
    return _TENSOR.view(flat, _UINT8)


class _Slots:
    """Which slots are held and their sizes; evicts the oldest beyond the limits."""

    def __init__(self) -> None:
        self.sizes: OrderedDict[int, int] = OrderedDict()
        self.total = 0

    def store(self, slot: int, size: int) -> list[int]:
        """Record ``slot`` (newest) with ``size`` bytes; return the slots evicted."""
        self.total -= self.sizes.pop(slot, 0)
        self.sizes[slot] = size
        self.total += size
        evicted = []
        while len(self.sizes) > MAX_SLOTS or self.total > MAX_BYTES:
            gone, freed = self.sizes.popitem(last=False)
            self.total -= freed
            evicted.append(gone)
        return evicted


class SentTensors:
    """The sender's record of what the receiver holds."""

    def __init__(self) -> None:
        self._slots = _Slots()
        self._by_id: dict[int, tuple[Any, int, torch.Tensor, bool]] = {}
        self._owner: dict[int, int] = {}
        self._ids = itertools.count(1)
        # Snapshots of groups (KeptGroup): by the tensors' ids, their references, the slots,
        # what each one's kind was and all their bits; a handful (one per shell in use).
        self._groups: OrderedDict[tuple[int, ...], tuple[Any, ...]] = OrderedDict()

    def holding(self, tensor: torch.Tensor) -> int | None:
        """The slot where the receiver holds ``tensor`` as it is now, or None."""
        entry = self._by_id.get(id(tensor))
        if entry is None:
            return None
        ref, slot, saved, requires_grad = entry
        if ref() is not tensor or requires_grad != tensor.requires_grad:
            return None
        if tensor.dtype != saved[0] or tensor.shape != saved[1] or tensor.device != saved[2]:
            return None
        return slot if _EQUAL(_bytes_of(tensor), saved[3]) else None

    def holding_group(self, tensors: list[torch.Tensor]) -> list[int] | None:
        """The slots where the receiver holds every one of ``tensors`` as it is now, or None.

        The same test as :meth:`holding` for each tensor (the same object, kind and bits),
        with the bits of the whole group compared at once.
        """
        if not tensors:
            return None
        key = tuple(map(id, tensors))
        entry = self._groups.get(key)
        if entry is None:
            return None
        refs, slots, kinds, saved = entry
        by_id = self._by_id
        for tensor, ref, slot, kind in zip(tensors, refs, slots, kinds, strict=True):
            if ref() is not tensor:
                return None
            if kind != (tensor.dtype, tensor.shape, tensor.device, tensor.requires_grad):
                return None
            held = by_id.get(id(tensor))
            if held is None or held[1] != slot:
                return None
        now = _group_bytes(tensors)
        if now is None or not _EQUAL(now, saved):
            return None
        self._groups.move_to_end(key)
        return slots

    def remember_group(self, tensors: list[torch.Tensor]) -> None:
        """After a message that sent the group: snapshot it if the receiver holds it whole."""
        key = tuple(map(id, tensors))
        if len(set(key)) != len(key):
            return  # a tensor twice travels as a copy the second time (Encoder.kept)
        slots = []
        for tensor in tensors:
            held = self._by_id.get(id(tensor))
            if held is None or held[0]() is not tensor:
                return
            slots.append(held[1])
        saved = _group_bytes(tensors) if tensors else None
        if saved is None:
            return
        kinds = [(t.dtype, t.shape, t.device, t.requires_grad) for t in tensors]
        refs = [weakref.ref(t) for t in tensors]
        self._groups[key] = (refs, slots, kinds, saved.clone())
        while len(self._groups) > MAX_GROUPS:
            self._groups.popitem(last=False)

    def plan(self, tensor: torch.Tensor) -> int | None:
        """A slot to store ``tensor`` in (None: too big to keep); :meth:`commit` applies it."""
        if tensor.layout != torch.strided or tensor.device.type == "meta":
            return None
        if tensor.numel() * tensor.element_size() > MAX_BYTES:
            return None
        entry = self._by_id.get(id(tensor))
        return entry[1] if entry is not None else next(self._ids)

    def commit(self, stores: list[tuple[int, torch.Tensor]]) -> None:
        """The message with these stores was written: the receiver now holds them."""
        for slot, tensor in stores:
            saved = (tensor.dtype, tensor.shape, tensor.device, _bytes_of(tensor).clone())
            self._by_id[id(tensor)] = (weakref.ref(tensor), slot, saved, tensor.requires_grad)
            self._owner[slot] = id(tensor)
            size = tensor.numel() * tensor.element_size()
            for gone in self._slots.store(slot, size):
                owner = self._owner.pop(gone, None)
                entry = self._by_id.get(owner) if owner is not None else None
                if entry is not None and entry[1] == gone:
                    del self._by_id[owner]


class ReceivedTensors:
    """The receiver's slots: the tensors it keeps for the sender's later messages."""

    def __init__(self) -> None:
        self._slots = _Slots()
        self._held: dict[int, tuple[torch.Tensor, int]] = {}

    def get(self, slot: int) -> torch.Tensor:
        """The tensor kept in ``slot``; a slot not held is a broken protocol."""
        entry = self._held.get(slot)
        if entry is None:
            raise ProtocolError(f"a kept tensor (slot {slot}) that this process does not hold")
        tensor, version = entry
        if tensor._version != version:
            raise ProtocolError(f"the kept tensor in slot {slot} was changed in place here")
        return tensor

    def commit(self, stores: list[tuple[int, torch.Tensor]]) -> None:
        """Keep the tensors a whole message stored, in order."""
        for slot, tensor in stores:
            self._held[slot] = (tensor, tensor._version)
            for gone in self._slots.store(slot, tensor.numel() * tensor.element_size()):
                self._held.pop(gone, None)
