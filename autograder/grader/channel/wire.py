"""The message format, and the encoder: what a process writes on the channel.

A message is an 8-byte length and a body. The body is one value, written as a one-byte tag
and its contents:

======  =================================================================================
tag     value
======  =================================================================================
N T F   None, True, False
i I     an int (8 bytes), a big int (decimal text)
f c     a float, a complex
s b     a str (UTF-8), bytes
( [     a tuple, a list: a 4-byte count, then the items
{       a dict: a count, then key and value pairs
S z     a set, a frozenset
n       a named tuple: its name, its field names, its items
: .     a slice, Ellipsis
D V     a dtype (by name), a device
t       a tensor: dtype, flags, shape, device, raw bytes (and its .grad when flagged)
K k     a tensor the receiver keeps: its slot, then the tensor; a kept one: its slot, flags
        (:mod:`.kept`)
m       a tuple of kept tensors: a count, their slots, then a flags byte for each
u       a list (0) or tuple (1) of plain tensors of one dtype: a run (dtype, count, each
        one's shape, then all their bytes at once)
y       a dict of str keys to such tensors (a state dict): a count, the keys, then a run
g       a torch.Generator: its device and state (the final state comes back with the answer)
H       a handle: an object that stays with the sender (id, flags, type name)
R       a handle of the receiver's own object, sent back to it
======  =================================================================================

The runtime keeps its own references to the builtins, torch and NumPy functions it uses, so
student code that patches them in the worker cannot break the channel.
"""

from __future__ import annotations

import builtins
import collections
import struct
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from autograder.grader.channel.kept import Kept, KeptGroup
from autograder.grader.channel.proxies import RemoteObject

if TYPE_CHECKING:
    from autograder.grader.channel.peer import Peer

__builtins__ = dict(vars(builtins))  # the runtime keeps its builtins whatever student code patches
_PACK = struct.pack

MAX_DEPTH = 64
"""How deeply values may nest: deeper data is refused rather than recursing without bound."""

DTYPES: list[torch.dtype] = [
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.complex64,
    torch.complex128,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.bool,
    *(getattr(torch, n) for n in ("uint16", "uint32", "uint64") if hasattr(torch, n)),
]
DTYPE_INDEX = {dtype: i for i, dtype in enumerate(DTYPES)}
DTYPE_SIZES = [torch.empty((), dtype=dtype).element_size() for dtype in DTYPES]
DTYPE_BY_NAME = {str(dtype).removeprefix("torch."): dtype for dtype in DTYPES}

# Tensor flags.
REQUIRES_GRAD = 1  # a leaf that requires grad (a parameter): the copy requires grad too
HAS_GRAD = 2  # followed by the tensor's .grad
LINKED = 4  # part of a call's autograd graph: an input to track, or an output to connect
NUMPY = 8  # a NumPy array carried as a tensor

# Handle flags.
CALLABLE = 1
MODULE = 2
PINNED = 4
NN_MODULE = 8  # a torch.nn.Module: its proxy calls the standard module methods in one trip

Q = struct.Struct("<q")
D = struct.Struct("<d")
I = struct.Struct("<I")  # noqa: E741 - the format's name for a 4-byte count
_CPU = I.pack(3) + b"cpu"  # the device of nearly every tensor, as Encoder.str writes it

# The runtime's own references (see the module docstring).
TENSOR = torch._C.TensorBase
EMPTY: Callable[..., torch.Tensor] = torch.empty
FROMBUFFER: Callable[..., torch.Tensor] = torch.frombuffer
FROM_NUMPY: Callable[..., torch.Tensor] = torch.from_numpy
CONTIGUOUS_ARRAY: Callable[..., np.ndarray] = np.ascontiguousarray
FLATTEN: Callable[..., torch.Tensor] = torch._C._nn.flatten_dense_tensors
NO_GRAD = torch.no_grad
GENERATOR = torch.Generator
GENERATOR_STATE = torch.Generator.get_state
SET_GENERATOR_STATE = torch.Generator.set_state
PARAMETER = torch.nn.Parameter
NP_GENERIC = np.generic
NP_ARRAY = np.ndarray


def _runnable(values: list[Any] | tuple[Any, ...]) -> bool:
    """Whether ``values`` can travel as a run (:meth:`Encoder.run`): plain CPU tensors of one
    dtype with elements, none needing gradients (those carry flags of their own)."""
    first = values[0]
    if type(first) is not torch.Tensor:
        return False
    dtype = first.dtype
    if dtype not in DTYPE_INDEX:
        return False
    for tensor in values:
        if (
            type(tensor) is not torch.Tensor
            or tensor.dtype != dtype
            or tensor.requires_grad
            or tensor.device.type != "cpu"
            or tensor.layout != torch.strided
            or TENSOR.is_conj(tensor)
            or TENSOR.is_neg(tensor)
            or not TENSOR.numel(tensor)
        ):
            return False
    return True


class Encoder:
    """Writes one message; collects the tensors that must be linked into autograd.

    Args:
        peer: the sending end (it exports the objects that travel as handles).
        link: link tensors that require grad into the call's autograd graph.
        graph_inputs: in an answer, the ids of the request's linked tensors (returned
            inputs are linked; other leaves, the parameters, travel as copies with .grad).
    """

    def __init__(self, peer: Peer, link: bool, graph_inputs: set[int] | None = None) -> None:
        self.peer = peer
        self.link = link
        self.graph_inputs = graph_inputs
        self.chunks: list[Any] = []
        self.linked: list[torch.Tensor] = []
        self.generators: list[torch.Generator] = []
        self.kept_stores: list[tuple[int, torch.Tensor]] = []
        self.kept_groups: list[list[torch.Tensor]] = []
        self._kept_here: set[int] = set()

    def str(self, text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")
        self.chunks.append(I.pack(len(data)))
        self.chunks.append(data)

    def value(self, value: Any, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise ValueError(f"the value nests more than {MAX_DEPTH} levels deep")
        chunks = self.chunks
        kind = type(value)
        if value is None:
            chunks.append(b"N")
        elif kind is bool:
            chunks.append(b"T" if value else b"F")
        elif kind is int:
            if -(2**63) <= value < 2**63:
                chunks.append(b"i" + Q.pack(value))
            else:
                chunks.append(b"I")
                self.str(str(value))
        elif kind is float:
            chunks.append(b"f" + D.pack(value))
        elif kind is complex:
            chunks.append(b"c" + D.pack(value.real) + D.pack(value.imag))
        elif kind is str:
            chunks.append(b"s")
            self.str(value)
        elif kind in (bytes, bytearray):
            chunks.append(b"b" + I.pack(len(value)))
            chunks.append(bytes(value))
        elif kind is torch.Tensor or kind is PARAMETER:
            self.tensor(value, depth)
        elif kind is Kept:
            self.kept(value.tensor, depth)
        elif kind is KeptGroup:
            self.kept_group(value.tensors, depth)
        elif isinstance(value, RemoteObject):
            self.peer.check_own_proxy(value)
            chunks.append(b"R" + Q.pack(value._id))
        elif kind is tuple or kind is list:
            if len(value) > 1 and _runnable(value):
                chunks.append(b"u" + (b"\x01" if kind is tuple else b"\x00"))
                self.run(value)
                return
            chunks.append((b"(" if kind is tuple else b"[") + I.pack(len(value)))
            for item in value:
                self.value(item, depth + 1)
        elif kind is dict or kind is OrderedDict or kind is collections.defaultdict:
            values = list(value.values())
            if len(values) > 1 and all(type(k) is str for k in value) and _runnable(values):
                chunks.append(b"y" + I.pack(len(values)))
                for key in value:
                    self.str(key)
                self.run(values)
                return
            chunks.append(b"{" + I.pack(len(value)))
            for key, item in value.items():
                self.value(key, depth + 1)
                self.value(item, depth + 1)
        elif kind is set or kind is frozenset:
            chunks.append((b"S" if kind is set else b"z") + I.pack(len(value)))
            for item in value:
                self.value(item, depth + 1)
        elif kind is slice:
            chunks.append(b":")
            for part in (value.start, value.stop, value.step):
                self.value(part, depth + 1)
        elif value is Ellipsis:
            chunks.append(b".")
        elif kind is torch.dtype:
            chunks.append(b"D")
            self.str(str(value).removeprefix("torch."))
        elif kind is torch.device:
            chunks.append(b"V")
            self.str(str(value))
        elif kind is torch.Size:
            self.value(tuple(value), depth)
        elif kind is GENERATOR:
            # A copy travels; the receiver's final state is written back after the call.
            chunks.append(b"g")
            self.str(str(value.device))
            self.tensor(GENERATOR_STATE(value), depth + 1)
            self.generators.append(value)
        elif kind is NP_ARRAY and value.dtype.kind in "biufc" and value.dtype.byteorder in "=|<":
            self.tensor(FROM_NUMPY(CONTIGUOUS_ARRAY(value)), depth, numpy=True)
        elif isinstance(value, NP_GENERIC) and value.dtype.kind in "biufc":
            self.value(value.item(), depth)
        elif isinstance(value, tuple) and hasattr(value, "_fields"):
            chunks.append(b"n")
            self.str(type(value).__name__)
            self.value(tuple(str(f) for f in value._fields), depth + 1)
            self.value(tuple(value), depth + 1)
        elif isinstance(value, torch.Tensor) and self.peer.coerce_subclasses:
            self.tensor(TENSOR.as_subclass(value, torch.Tensor), depth)
        elif isinstance(value, tuple) and self.peer.coerce_subclasses:
            self.value(tuple(value), depth)
        elif isinstance(value, list) and self.peer.coerce_subclasses:
            self.value(list(value), depth)
        elif isinstance(value, dict) and self.peer.coerce_subclasses:
            self.value(dict(value), depth)
        else:
            handle, flags = self.peer.export(value)
            chunks.append(b"H" + Q.pack(handle) + bytes((flags,)))
            self.str(type(value).__name__)

    def tensor(self, value: torch.Tensor, depth: int, numpy: bool = False) -> None:
        layout, device = value.layout, value.device
        if layout != torch.strided or value.is_quantized or device.type == "meta":
            raise ValueError(f"a {layout} tensor on {device} cannot be sent")
        dtype = DTYPE_INDEX.get(value.dtype)
        if dtype is None:
            raise ValueError(f"tensors of dtype {value.dtype} cannot be sent")
        flags = NUMPY if numpy else 0
        grad = None
        if value.requires_grad and not numpy:
            if self.link and (
                self.graph_inputs is None or not value.is_leaf or id(value) in self.graph_inputs
            ):
                flags |= LINKED
                self.linked.append(value)
            elif value.is_leaf:
                flags |= REQUIRES_GRAD
                grad = value.grad
                if grad is not None:
                    flags |= HAS_GRAD
        data = TENSOR.detach(value)
        on_cpu = device.type == "cpu"
        if not on_cpu:
            data = TENSOR.cpu(data)
        if TENSOR.is_conj(data) or TENSOR.is_neg(data):
            data = TENSOR.resolve_neg(TENSOR.resolve_conj(data))
        data = TENSOR.contiguous(data)
        shape = data.shape
        ndim = len(shape)
        self.chunks.append(_PACK(f"<cBBB{ndim}q", b"t", dtype, flags, ndim, *shape))
        if on_cpu:
            self.chunks.append(_CPU)
        else:
            self.str(str(device))
        # Flattened: contiguous() keeps stride 0 on size-1 dimensions of an expanded tensor,
        # which cannot be viewed as bytes; a flat one can (once its stride is 1).
        count = TENSOR.numel(data)
        flat = TENSOR.reshape(data, (-1,))
        if count and TENSOR.stride(flat, 0) != 1:
            # One element may keep a stride of 0, which no byte view accepts: copy it.
            flat = TENSOR.copy_(EMPTY(count, dtype=data.dtype), flat)
        raw = TENSOR.numpy(TENSOR.view(flat, torch.uint8)) if count else b""
        self.chunks.append(Q.pack(len(raw)))
        self.chunks.append(raw)
        if grad is not None:
            self.tensor(grad, depth + 1)

    def run(self, tensors: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> None:
        """Plain tensors of one dtype (:func:`_runnable`): their shapes, then all their bytes
        at once (one copy for the run, where each tensor alone costs a dozen steps)."""
        chunks = self.chunks
        chunks.append(bytes((DTYPE_INDEX[tensors[0].dtype],)) + I.pack(len(tensors)))
        for tensor in tensors:
            shape = tensor.shape
            chunks.append(_PACK(f"<B{len(shape)}q", len(shape), *shape))
        with NO_GRAD():
            flat = FLATTEN(tensors)
        raw = TENSOR.numpy(TENSOR.view(flat, torch.uint8))
        chunks.append(Q.pack(len(raw)))
        chunks.append(raw)

    def kept(self, value: Any, depth: int) -> None:
        """A tensor the receiver may keep: only its slot when it already holds it as it is."""
        kind = type(value)
        if (
            (kind is not torch.Tensor and kind is not PARAMETER)
            or self.graph_inputs is not None
            or id(value) in self._kept_here
            or (value.requires_grad and not value.is_leaf)
        ):
            # Answers, non-leaves and a second use in one message travel whole, as before.
            self.value(value, depth)
            return
        sent = self.peer.sent_tensors
        slot = sent.holding(value)
        if slot is not None:
            flags = 0
            if value.requires_grad and self.link:
                flags = LINKED
                self.linked.append(value)
            self.chunks.append(b"k" + Q.pack(slot) + bytes((flags,)))
        else:
            slot = sent.plan(value)
            if slot is None:
                self.tensor(value, depth)
                return
            self.chunks.append(b"K" + Q.pack(slot))
            self.tensor(value, depth)
            self.kept_stores.append((slot, value))
        self._kept_here.add(id(value))

    def kept_group(self, tensors: list[torch.Tensor], depth: int) -> None:
        """Tensors that travel together: their slots alone when the receiver holds them all."""
        slots = None
        if self.graph_inputs is None and not any(id(t) in self._kept_here for t in tensors):
            slots = self.peer.sent_tensors.holding_group(tensors)
        if slots is None:
            self.value(tuple(Kept(t) for t in tensors), depth)
            self.kept_groups.append(tensors)
            return
        flags = bytearray()
        for tensor in tensors:
            if tensor.requires_grad and self.link:
                flags.append(LINKED)
                self.linked.append(tensor)
            else:
                flags.append(0)
            self._kept_here.add(id(tensor))
        self.chunks.append(b"m" + I.pack(len(slots)) + _PACK(f"<{len(slots)}q", *slots))
        self.chunks.append(bytes(flags))

    def message(self, value: Any) -> bytes:
        """The whole message for ``value``: its length, then its body."""
        self.value(value)
        body = b"".join(self.chunks)
        return Q.pack(len(body)) + body
