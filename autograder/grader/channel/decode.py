"""The decoder: the trust boundary. Everything the grader accepts from the worker passes here.

A message from the worker is untrusted bytes. The decoder turns them into plain data, new
proxies (for the worker's objects) and the grader's own objects (handles sent back), and
refuses anything else with :class:`ProtocolError`, which ends that worker. What one message
may cost the grader is bounded before it is spent:

- its size (:attr:`Limits.message_bytes`, checked before it is read);
- how many values it holds (:attr:`Limits.items`): an empty list is 5 bytes on the wire
  but a hundred in memory, so the item count, not the byte count, bounds the memory of the
  decoded containers (about 200 bytes an item at most);
- how deeply it nests (:data:`wire.MAX_DEPTH`), and the digits of a big int;
- a tensor's bytes must be exactly its shape times its dtype's size, so a tensor costs
  what its bytes cost;
- the classes made for names the worker chooses come from bounded caches of the channel.

Nothing is ever unpickled or imported because of a message.
"""

from __future__ import annotations

import builtins
import collections
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from autograder.grader.channel.errors import ProtocolError, identifier
from autograder.grader.channel.wire import (
    DTYPE_BY_NAME,
    DTYPE_SIZES,
    DTYPES,
    EMPTY,
    FROMBUFFER,
    GENERATOR,
    HAS_GRAD,
    LINKED,
    MAX_DEPTH,
    NUMPY,
    REQUIRES_GRAD,
    SET_GENERATOR_STATE,
    TENSOR,
    D,
    I,
    Q,
)

if TYPE_CHECKING:
    from autograder.grader.channel.peer import Peer

__builtins__ = dict(vars(builtins))  # the runtime keeps its builtins whatever student code patches
_UNPACK = struct.unpack


B = struct.Struct("<B")
_TUPLE, _LIST, _STR, _INT, _KEPT_SLOT, _NONE, _TRUE, _FALSE, _KEPT_GROUP = b"([sikNTFm"
_RUN, _STATE = b"uy"
_CPU = I.pack(3) + b"cpu"


def _numel(shape: tuple[int, ...]) -> int:
    """The elements of a tensor of ``shape``; a negative dimension is a broken message."""
    numel = 1
    for dim in shape:
        if dim < 0:
            raise ProtocolError("a tensor with a negative dimension")
        numel *= dim
    return numel


@dataclass(frozen=True)
class Limits:
    """What one message may cost (see the module docstring)."""

    message_bytes: int = 64 * 2**20
    items: int = 2**18
    int_digits: int = 5000
    namedtuple_fields: int = 64


class Decoder:
    """Reads one message; refuses anything malformed with :class:`ProtocolError`."""

    def __init__(self, peer: Peer, data: bytearray, limits: Limits) -> None:
        self.peer = peer
        self.data = data
        self.view = memoryview(data)
        self.at = 0
        self.items_left = limits.items
        self.limits = limits
        self.linked: list[torch.Tensor] = []
        self.generators: list[torch.Generator] = []
        self.missing: int | None = None
        self.kept_stores: list[tuple[int, torch.Tensor]] = []

    def take(self, size: int) -> memoryview:
        end = self.at + size
        if size < 0 or end > len(self.data):
            raise ProtocolError("a message ended early")
        chunk = self.view[self.at : end]
        self.at = end
        return chunk

    def str(self) -> str:
        size = self._int(I)
        return str(self.take(size), "utf-8", "surrogatepass")

    def count(self) -> int:
        size = self._int(I)
        if size > self.items_left:
            raise ProtocolError(
                f"a container of {size} items, more than the {self.limits.items} a message may hold"
            )
        return size

    def _int(self, what: struct.Struct) -> Any:
        at = self.at
        end = at + what.size
        if end > len(self.data):
            raise ProtocolError("a message ended early")
        self.at = end
        return what.unpack_from(self.data, at)[0]

    def value(self, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError(f"a value nests more than {MAX_DEPTH} levels deep")
        self.items_left -= 1
        if self.items_left < 0:
            raise ProtocolError(f"a message of more than {self.limits.items} values")
        at = self.at
        if at >= len(self.data):
            raise ProtocolError("a message ended early")
        code = self.data[at]
        self.at = at + 1
        # The common tags first, compared as numbers: a call's message has dozens of values.
        if code in (_TUPLE, _LIST):
            items = [self.value(depth + 1) for _ in range(self.count())]
            return tuple(items) if code == _TUPLE else items
        if code == _STR:
            return self.str()
        if code == _INT:
            return self._int(Q)
        if code == _KEPT_SLOT:
            slot = self._int(Q)
            flags = self._int(B)
            tensor = self.peer.received_tensors.get(slot)
            if flags & LINKED and (TENSOR.is_floating_point(tensor) or TENSOR.is_complex(tensor)):
                self.linked.append(tensor)
            return tensor
        if code == _NONE:
            return None
        if code == _KEPT_GROUP:
            return self.kept_group()
        if code == _RUN:
            kind = self.take(1)[0]
            tensors = self.run()
            return tuple(tensors) if kind else tensors
        if code == _STATE:
            keys = [self.str() for _ in range(self.count())]
            self.items_left -= len(keys)
            tensors = self.run()
            if len(tensors) != len(keys) or len(set(keys)) != len(keys):
                raise ProtocolError("a dict of tensors whose keys do not match its tensors")
            return dict(zip(keys, tensors, strict=True))
        if code == _TRUE:
            return True
        if code == _FALSE:
            return False
        tag = bytes((code,))
        if tag == b"I":
            text = self.str()
            if len(text) > self.limits.int_digits:
                raise ProtocolError(f"an integer with more than {self.limits.int_digits} digits")
            try:
                return int(text)
            except ValueError:
                raise ProtocolError("a big integer that is not a number") from None
        if tag == b"f":
            return D.unpack(self.take(8))[0]
        if tag == b"c":
            real, imag = D.unpack(self.take(8))[0], D.unpack(self.take(8))[0]
            return complex(real, imag)
        if tag == b"b":
            (size,) = I.unpack(self.take(4))
            return bytes(self.take(size))
        if tag == b"t":
            return self.tensor(depth)
        if tag == b"K":
            slot = Q.unpack(self.take(8))[0]
            if bytes(self.take(1)) != b"t":
                raise ProtocolError("a kept value that is not a tensor")
            tensor = self.tensor(depth)
            if not isinstance(tensor, torch.Tensor):
                raise ProtocolError("a kept value that is not a tensor")
            self.kept_stores.append((slot, tensor))
            return tensor
        if tag == b"{":
            result = {}
            for _ in range(self.count()):
                key = self.value(depth + 1)
                try:
                    result[key] = self.value(depth + 1)
                except TypeError as error:
                    raise ProtocolError(f"a dict key is not hashable: {error}") from None
            return result
        if tag in (b"S", b"z"):
            try:
                items = {self.value(depth + 1) for _ in range(self.count())}
            except TypeError as error:
                raise ProtocolError(f"a set item is not hashable: {error}") from None
            return items if tag == b"S" else frozenset(items)
        if tag == b":":
            return slice(self.value(depth + 1), self.value(depth + 1), self.value(depth + 1))
        if tag == b".":
            return Ellipsis
        if tag == b"D":
            name = self.str()
            if name not in DTYPE_BY_NAME:
                raise ProtocolError(f"unknown dtype {name[:40]!r}")
            return DTYPE_BY_NAME[name]
        if tag == b"V":
            try:
                return torch.device(self.str())
            except (RuntimeError, ValueError) as error:
                raise ProtocolError(f"bad device: {str(error)[:200]}") from None
        if tag == b"n":
            name = identifier(self.str(), "namedtuple")
            fields = self.value(depth + 1)
            items = self.value(depth + 1)
            return self.namedtuple(name, fields, items)
        if tag == b"g":
            return self.generator(depth)
        if tag == b"R":
            handle = Q.unpack(self.take(8))[0]
            found = self.peer.exported(handle)
            if found is None:
                self.missing = handle
            return found
        if tag == b"H":
            handle = Q.unpack(self.take(8))[0]
            flags = self.take(1)[0]
            return self.peer.proxy(handle, flags, self.str())
        raise ProtocolError(f"unknown tag {tag!r} in a message")

    def kept_group(self) -> tuple[torch.Tensor, ...]:
        """A tuple of kept tensors: their slots, then a flags byte for each."""
        size = self.count()
        self.items_left -= size
        slots = _UNPACK(f"<{size}q", self.take(8 * size))
        flags = self.take(size)
        received = self.peer.received_tensors
        tensors = tuple(received.get(slot) for slot in slots)
        for tensor, flag in zip(tensors, flags, strict=True):
            if flag & LINKED and (TENSOR.is_floating_point(tensor) or TENSOR.is_complex(tensor)):
                self.linked.append(tensor)
        return tensors

    def run(self) -> list[torch.Tensor]:
        """Plain tensors of one dtype: each one's shape, then all their bytes (tag ``u``)."""
        dtype_index = self.take(1)[0]
        if dtype_index >= len(DTYPES):
            raise ProtocolError(f"unknown dtype number {dtype_index}")
        dtype, element = DTYPES[dtype_index], DTYPE_SIZES[dtype_index]
        count = self.count()
        self.items_left -= count
        shapes = []
        sizes = []
        for _ in range(count):
            ndim = self.take(1)[0]
            shape = _UNPACK(f"<{ndim}q", self.take(8 * ndim))
            shapes.append(shape)
            sizes.append(_numel(shape) * element)
        (total,) = Q.unpack(self.take(8))
        if total != sum(sizes) or not total:
            raise ProtocolError(f"a run of tensors of {sum(sizes)} bytes with {total} bytes")
        start = self.at
        self.take(total)
        # One copy of the run (aligned for the dtype), then one copy of each tensor out of it:
        # views would share one storage and one version counter.
        base = TENSOR.clone(FROMBUFFER(self.data, dtype=torch.uint8, count=total, offset=start))
        tensors = []
        offset = 0
        for shape, size in zip(shapes, sizes, strict=True):
            piece = TENSOR.view(TENSOR.narrow(base, 0, offset, size), dtype)
            tensors.append(TENSOR.clone(TENSOR.reshape(piece, shape)))
            offset += size
        return tensors

    def namedtuple(self, name: str, fields: Any, items: Any) -> tuple[Any, ...]:
        """A named tuple rebuilt from data (a local class with the same name and fields)."""
        if (
            not isinstance(fields, tuple)
            or not isinstance(items, tuple)
            or len(fields) != len(items)
            or len(fields) > self.limits.namedtuple_fields
            or not all(identifier(f, "") and not f.startswith("_") for f in fields)
            or len(set(fields)) != len(fields)
        ):
            return tuple(items) if isinstance(items, tuple) else ()
        key = (name, fields)
        cls = self.peer.namedtuple_classes.get(key)
        if cls is None:
            cls = self.peer.namedtuple_classes.put(key, collections.namedtuple(name, fields))
        return cls(*items)

    def generator(self, depth: int) -> torch.Generator:
        device = self.str()
        if bytes(self.take(1)) != b"t":
            raise ProtocolError("a generator's state is not a tensor")
        state = self.tensor(depth + 1)
        try:
            generator = GENERATOR(device=device)
            SET_GENERATOR_STATE(generator, state)
        except (RuntimeError, TypeError, ValueError) as error:
            raise ProtocolError(f"a generator that cannot be rebuilt: {str(error)[:200]}") from None
        self.generators.append(generator)
        return generator

    def tensor(self, depth: int) -> Any:
        dtype_index, flags, ndim = self.take(3)
        if dtype_index >= len(DTYPES):
            raise ProtocolError(f"unknown dtype number {dtype_index}")
        dtype = DTYPES[dtype_index]
        shape = _UNPACK(f"<{ndim}q", self.take(8 * ndim))
        if self.data[self.at : self.at + len(_CPU)] == _CPU:
            self.at += len(_CPU)  # nearly every tensor: no text to decode
            device = "cpu"
        else:
            device = self.str()
        (size,) = Q.unpack(self.take(8))
        numel = _numel(shape)
        element = DTYPE_SIZES[dtype_index]
        if numel * element != size:
            raise ProtocolError(f"a tensor of shape {shape} and dtype {dtype} with {size} bytes")
        start = self.at
        self.take(size)
        if numel:
            flat = FROMBUFFER(self.data, dtype=torch.uint8, count=size, offset=start)
            result = TENSOR.reshape(TENSOR.view(TENSOR.clone(flat), dtype), shape)
        else:
            result = EMPTY(shape, dtype=dtype)
        if flags & NUMPY:
            return TENSOR.numpy(result)
        if device != "cpu":
            try:
                result = TENSOR.to(result, device)
            except (RuntimeError, AssertionError, ValueError) as error:
                raise ProtocolError(f"cannot place a tensor on {device[:40]}: {error}") from None
        floating = TENSOR.is_floating_point(result) or TENSOR.is_complex(result)
        if flags & REQUIRES_GRAD and floating:
            TENSOR.requires_grad_(result, True)
        if flags & HAS_GRAD:
            if bytes(self.take(1)) != b"t":
                raise ProtocolError("a tensor's gradient is not a tensor")
            grad = self.tensor(depth + 1)
            if isinstance(grad, torch.Tensor) and grad.shape == result.shape:
                result.grad = TENSOR.to(grad, result.dtype)
        if flags & LINKED and floating:
            self.linked.append(result)
        return result
