"""The grader's channel to the student's process: safe data, proxies, autograd across processes.

Two processes (the grader and the sandboxed worker) each hold a :class:`Peer` on a pair of
pipes. Messages are length-prefixed and written in a small hand-made binary format that can
only express plain data (None, bool, int, float, complex, str, bytes, tuple, list, dict, set,
slices, dtypes, devices, tensors and NumPy arrays) and *handles*: references to objects that
stay in the process that owns them. Nothing is ever unpickled, so no value coming from the
student's process can run code in the grader.

A handle arrives as a :class:`RemoteObject`: calling it, reading its attributes or indexing it
sends a request to the owner and waits for the answer. Both ends serve requests while they
wait for an answer, so the worker may call back into the grader (the reference
implementation of earlier parts) in the middle of a call.

Tensors that need gradients are connected across the boundary: the receiver of a call keeps
the call's autograd graph, and the caller's result tensors hang off a
:class:`torch.autograd.Function` whose backward asks the receiver to run backward with the
output gradients and return the inputs' gradients (accumulating parameter gradients where the
parameters live).
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import copy
import errno
import itertools
import keyword
import os
import re
import select
import struct
import time
import traceback
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
"""Default cap on one message: a larger one means a runaway result or a corrupt channel."""

MAX_GRAPHS = 512
"""How many calls' autograd graphs a process keeps for a later backward (oldest dropped)."""

MAX_DEPTH = 64
"""How deeply values may nest: deeper data is refused rather than recursing without bound."""


class RemoteError(Exception):
    """Base class of the errors this module raises about the channel or the other process."""


class ProtocolError(RemoteError):
    """The other process sent something that is not a valid message, or that is not allowed."""


class ChannelClosed(RemoteError):
    """The other process closed the channel (it exited or was killed)."""


class ChannelTimeout(RemoteError):
    """The other process did not answer within the time allowed."""


class StaleHandle(RemoteError):
    """A proxy was used after the object it stands for was released (e.g. by ``reset()``)."""


class StudentError(Exception):
    """An exception of a type that is not a Python builtin, raised in the student's process.

    ``type_name`` is the class name there; ``remote_traceback`` (when known) the traceback
    text. Instances are also instances of the nearest builtin base class of the original, so
    ``except ValueError`` catches a student's ``class ShapeError(ValueError)``.
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(type_name, message)
        self.type_name = type_name
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"StudentError({self.type_name!r}, {self.message!r})"


BUILTIN_EXCEPTIONS: dict[str, type[BaseException]] = {
    name: value
    for name, value in vars(builtins).items()
    if isinstance(value, type)
    and issubclass(value, Exception)
    and not issubclass(value, Warning)
    and name not in {"BaseExceptionGroup", "ExceptionGroup"}
}
"""Exception classes re-raised as themselves: the builtins (not warnings or groups)."""

_student_error_classes: dict[tuple[str, str], type[StudentError]] = {}

_FRAME = re.compile(
    r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>.+)$', re.MULTILINE
)


def student_frame(error: BaseException, package_dir: str = "/submission/") -> str:
    """ " (qkv.py, line 42, in forward)" for the deepest frame of the student's files.

    Reads the traceback text of an exception raised in the worker; empty when there is
    none (the grader's own exceptions, or an error without a student frame).
    """
    text = getattr(error, "remote_traceback", "") or ""
    frames = [m for m in _FRAME.finditer(text) if package_dir in m["file"]]
    if not frames:
        return ""
    last = frames[-1]
    return f" ({last['file'].rsplit('/', 1)[-1]}, line {last['line']}, in {last['name']})"


def _identifier(name: str, fallback: str) -> str:
    """``name`` when it is a safe class name, else ``fallback`` (names come from the worker)."""
    if name.isidentifier() and not keyword.iskeyword(name) and len(name) <= 80:
        return name
    return fallback


def rebuild_exception(
    type_name: str, bases: list[str], args: tuple[Any, ...], remote_traceback: str
) -> BaseException:
    """The local exception for one raised in the other process (see :class:`StudentError`)."""
    cls = BUILTIN_EXCEPTIONS.get(type_name)
    error: BaseException | None = None
    if cls is not None:
        for attempt in (args, tuple(str(a) for a in args[:1])):
            try:
                error = cls(*attempt)
                break
            except Exception:
                continue
    if error is None:
        base_name = next((b for b in bases if b in BUILTIN_EXCEPTIONS), "Exception")
        if cls is not None:
            base_name = "Exception"
        key = (_identifier(type_name, "StudentError"), base_name)
        error_class = _student_error_classes.get(key)
        if error_class is None:
            base = BUILTIN_EXCEPTIONS[base_name]
            parents = (StudentError,) if base is Exception else (StudentError, base)
            error_class = type(key[0], parents, {"__module__": "student"})
            _student_error_classes[key] = error_class
        message = str(args[0]) if len(args) == 1 else ", ".join(str(a) for a in args)
        error = error_class(type_name, message)
    error.remote_traceback = remote_traceback  # type: ignore[attr-defined]
    return error


# ---------------------------------------------------------------------------- the format

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
_DTYPE_INDEX = {dtype: i for i, dtype in enumerate(DTYPES)}
_DTYPE_BY_NAME = {str(dtype).removeprefix("torch."): dtype for dtype in DTYPES}

# Tensor flags.
_REQUIRES_GRAD = 1  # a leaf that requires grad (a parameter): the copy requires grad too
_HAS_GRAD = 2  # followed by the tensor's .grad
_LINKED = 4  # part of a call's autograd graph: an input to track, or an output to connect
_NUMPY = 8  # a NumPy array carried as a tensor

# Handle flags.
_CALLABLE = 1
_MODULE = 2
_PINNED = 4

_OWN_FOLDER = os.path.dirname(os.path.abspath(__file__)) + os.sep
_Q = struct.Struct("<q")
_D = struct.Struct("<d")
_I = struct.Struct("<I")


class _Encoder:
    """Writes one message; collects the tensors that must be linked into autograd."""

    def __init__(self, peer: Peer, link: bool, graph_inputs: set[int] | None = None) -> None:
        # In a request every tensor that requires grad is linked (the receiver tracks it as
        # an input); in an answer only computed tensors and returned inputs are (parameters,
        # which are leaves, travel as copies with their .grad).
        self.peer = peer
        self.link = link
        self.graph_inputs = graph_inputs
        self.chunks: list[Any] = []
        self.linked: list[torch.Tensor] = []
        self.generators: list[torch.Generator] = []

    def str(self, text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")
        self.chunks.append(_I.pack(len(data)))
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
                chunks.append(b"i" + _Q.pack(value))
            else:
                chunks.append(b"I")
                self.str(str(value))
        elif kind is float:
            chunks.append(b"f" + _D.pack(value))
        elif kind is complex:
            chunks.append(b"c" + _D.pack(value.real) + _D.pack(value.imag))
        elif kind is str:
            chunks.append(b"s")
            self.str(value)
        elif kind in (bytes, bytearray):
            chunks.append(b"b" + _I.pack(len(value)))
            chunks.append(bytes(value))
        elif kind is torch.Tensor or kind is torch.nn.Parameter:
            self.tensor(value, depth)
        elif kind is RemoteObject or isinstance(value, RemoteObject):
            if value._peer is not self.peer:
                raise ValueError("an object of another sandbox cannot be passed to this one")
            value._check()
            chunks.append(b"R" + _Q.pack(value._id))
        elif kind is tuple or kind is list:
            chunks.append((b"(" if kind is tuple else b"[") + _I.pack(len(value)))
            for item in value:
                self.value(item, depth + 1)
        elif kind is dict or kind is OrderedDict or kind is collections.defaultdict:
            chunks.append(b"{" + _I.pack(len(value)))
            for key, item in value.items():
                self.value(key, depth + 1)
                self.value(item, depth + 1)
        elif kind is set or kind is frozenset:
            chunks.append((b"S" if kind is set else b"z") + _I.pack(len(value)))
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
        elif kind is torch.Generator:
            # A copy travels; the receiver's final state is written back after the call.
            chunks.append(b"g")
            self.str(str(value.device))
            self.tensor(value.get_state(), depth + 1)
            self.generators.append(value)
        elif kind is np.ndarray and value.dtype.kind in "biufc" and value.dtype.byteorder in "=|<":
            self.tensor(torch.from_numpy(np.ascontiguousarray(value)), depth, numpy=True)
        elif isinstance(value, np.generic) and value.dtype.kind in "biufc":
            self.value(value.item(), depth)
        elif isinstance(value, tuple) and hasattr(value, "_fields"):
            chunks.append(b"n")
            self.str(type(value).__name__)
            self.value(tuple(str(f) for f in value._fields), depth + 1)
            self.value(tuple(value), depth + 1)
        elif isinstance(value, torch.Tensor) and self.peer.coerce_subclasses:
            self.tensor(value.as_subclass(torch.Tensor), depth)
        elif isinstance(value, tuple) and self.peer.coerce_subclasses:
            self.value(tuple(value), depth)
        elif isinstance(value, list) and self.peer.coerce_subclasses:
            self.value(list(value), depth)
        elif isinstance(value, dict) and self.peer.coerce_subclasses:
            self.value(dict(value), depth)
        else:
            handle, flags = self.peer._export(value)
            chunks.append(b"H" + _Q.pack(handle) + bytes((flags,)))
            self.str(type(value).__name__)

    def tensor(self, value: torch.Tensor, depth: int, numpy: bool = False) -> None:
        if value.layout != torch.strided or value.is_quantized or value.device.type == "meta":
            raise ValueError(f"a {value.layout} tensor on {value.device} cannot be sent")
        dtype = _DTYPE_INDEX.get(value.dtype)
        if dtype is None:
            raise ValueError(f"tensors of dtype {value.dtype} cannot be sent")
        flags = _NUMPY if numpy else 0
        grad = None
        if value.requires_grad and not numpy:
            if self.link and (
                self.graph_inputs is None or not value.is_leaf or id(value) in self.graph_inputs
            ):
                flags |= _LINKED
                self.linked.append(value)
            elif value.is_leaf:
                flags |= _REQUIRES_GRAD
                grad = value.grad
                if grad is not None:
                    flags |= _HAS_GRAD
        data = value.detach()
        if data.device.type != "cpu":
            data = data.cpu()
        data = data.resolve_conj().resolve_neg().contiguous()
        header = bytearray(b"t")
        header += bytes((dtype, flags, data.dim()))
        for size in data.shape:
            header += _Q.pack(size)
        self.chunks.append(bytes(header))
        self.str(str(value.device))
        # A fresh buffer: contiguous() keeps stride 0 on size-1 dimensions of an expanded
        # tensor, which cannot be viewed as bytes.
        flat = torch.empty(data.numel(), dtype=data.dtype).copy_(data.reshape(-1))
        raw = flat.view(torch.uint8).numpy() if data.numel() else b""
        self.chunks.append(_Q.pack(len(raw)))
        self.chunks.append(raw)
        if grad is not None:
            self.tensor(grad, depth + 1)

    def message(self, value: Any) -> bytes:
        self.value(value)
        body = b"".join(self.chunks)
        return _Q.pack(len(body)) + body


class _Decoder:
    """Reads one message; refuses anything malformed with :class:`ProtocolError`."""

    def __init__(self, peer: Peer, data: bytearray) -> None:
        self.peer = peer
        self.data = data
        self.view = memoryview(data)
        self.at = 0
        self.linked: list[torch.Tensor] = []
        self.generators: list[torch.Generator] = []
        self.missing: int | None = None

    def take(self, size: int) -> memoryview:
        end = self.at + size
        if size < 0 or end > len(self.data):
            raise ProtocolError("a message ended early")
        chunk = self.view[self.at : end]
        self.at = end
        return chunk

    def str(self) -> str:
        (size,) = _I.unpack(self.take(4))
        return str(self.take(size), "utf-8", "surrogatepass")

    def count(self) -> int:
        (size,) = _I.unpack(self.take(4))
        if size > len(self.data):
            raise ProtocolError("a container claims more items than the message holds")
        return size

    def value(self, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError(f"a value nests more than {MAX_DEPTH} levels deep")
        tag = bytes(self.take(1))
        if tag == b"N":
            return None
        if tag == b"T":
            return True
        if tag == b"F":
            return False
        if tag == b"i":
            return _Q.unpack(self.take(8))[0]
        if tag == b"I":
            text = self.str()
            if len(text) > 5000:
                raise ProtocolError("an integer with more than 5000 digits")
            return int(text)
        if tag == b"f":
            return _D.unpack(self.take(8))[0]
        if tag == b"c":
            real, imag = _D.unpack(self.take(8))[0], _D.unpack(self.take(8))[0]
            return complex(real, imag)
        if tag == b"s":
            return self.str()
        if tag == b"b":
            (size,) = _I.unpack(self.take(4))
            return bytes(self.take(size))
        if tag == b"t":
            return self.tensor(depth)
        if tag in (b"(", b"["):
            items = [self.value(depth + 1) for _ in range(self.count())]
            return tuple(items) if tag == b"(" else items
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
            if name not in _DTYPE_BY_NAME:
                raise ProtocolError(f"unknown dtype {name!r}")
            return _DTYPE_BY_NAME[name]
        if tag == b"V":
            try:
                return torch.device(self.str())
            except RuntimeError as error:
                raise ProtocolError(f"bad device: {error}") from None
        if tag == b"n":
            name = _identifier(self.str(), "namedtuple")
            fields = self.value(depth + 1)
            items = self.value(depth + 1)
            return _namedtuple(name, fields, items)
        if tag == b"g":
            return self.generator(depth)
        if tag == b"R":
            handle = _Q.unpack(self.take(8))[0]
            if handle not in self.peer._exports:
                self.missing = handle
            return self.peer._exports.get(handle)
        if tag == b"H":
            handle = _Q.unpack(self.take(8))[0]
            flags = self.take(1)[0]
            return self.peer._proxy(handle, flags, self.str())
        raise ProtocolError(f"unknown tag {tag!r} in a message")

    def generator(self, depth: int) -> torch.Generator:
        device = self.str()
        if bytes(self.take(1)) != b"t":
            raise ProtocolError("a generator's state is not a tensor")
        state = self.tensor(depth + 1)
        try:
            generator = torch.Generator(device=device)
            generator.set_state(state)
        except (RuntimeError, TypeError) as error:
            raise ProtocolError(f"a generator that cannot be rebuilt: {error}") from None
        self.generators.append(generator)
        return generator

    def tensor(self, depth: int) -> Any:
        dtype_index, flags, ndim = self.take(3)
        if dtype_index >= len(DTYPES):
            raise ProtocolError(f"unknown dtype number {dtype_index}")
        dtype = DTYPES[dtype_index]
        shape = tuple(_Q.unpack(self.take(8))[0] for _ in range(ndim))
        device = self.str()
        (size,) = _Q.unpack(self.take(8))
        numel = 1
        for dim in shape:
            if dim < 0:
                raise ProtocolError("a tensor with a negative dimension")
            numel *= dim
        element = torch.empty((), dtype=dtype).element_size()
        if numel * element != size:
            raise ProtocolError(f"a tensor of shape {shape} and dtype {dtype} with {size} bytes")
        start = self.at
        self.take(size)
        if numel:
            flat = torch.frombuffer(self.data, dtype=torch.uint8, count=size, offset=start)
            result = flat.clone().view(dtype).reshape(shape)
        else:
            result = torch.empty(shape, dtype=dtype)
        if flags & _NUMPY:
            return result.numpy()
        if device != "cpu":
            try:
                result = result.to(device)
            except (RuntimeError, AssertionError) as error:
                raise ProtocolError(f"cannot place a tensor on {device}: {error}") from None
        if flags & _REQUIRES_GRAD and (result.is_floating_point() or result.is_complex()):
            result.requires_grad_(True)
        if flags & _HAS_GRAD:
            if bytes(self.take(1)) != b"t":
                raise ProtocolError("a tensor's gradient is not a tensor")
            grad = self.tensor(depth + 1)
            if isinstance(grad, torch.Tensor) and grad.shape == result.shape:
                result.grad = grad.to(result.dtype)
        if flags & _LINKED and (result.is_floating_point() or result.is_complex()):
            self.linked.append(result)
        return result


_namedtuple_classes: dict[tuple[str, tuple[str, ...]], type] = {}


def _namedtuple(name: str, fields: Any, items: Any) -> tuple[Any, ...]:
    """A named tuple rebuilt from data (a local class with the same name and fields)."""
    if (
        not isinstance(fields, tuple)
        or not isinstance(items, tuple)
        or len(fields) != len(items)
        or len(fields) > 64
        or not all(isinstance(f, str) and _identifier(f, "") and f[0] != "_" for f in fields)
        or len(set(fields)) != len(fields)
    ):
        return tuple(items) if isinstance(items, tuple) else ()
    key = (name, fields)
    cls = _namedtuple_classes.get(key)
    if cls is None:
        cls = collections.namedtuple(name, fields)  # type: ignore[misc]
        _namedtuple_classes[key] = cls
    return cls(*items)


# ---------------------------------------------------------------------------- autograd bridge


class _Bridge(torch.autograd.Function):
    """Connects tensors computed in the other process to this process's autograd graph.

    ``forward`` returns the received tensors unchanged; ``backward`` sends the output
    gradients to the process that computed them and returns its gradients of the inputs.
    """

    @staticmethod
    def forward(
        ctx: Any,
        link: tuple[Peer, int, list[torch.Tensor]],
        dummy: torch.Tensor,
        *inputs: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        peer, graph, outputs = link
        ctx.peer = peer
        ctx.graph = graph
        # When the node dies without a backward, the other end may drop the graph it keeps.
        weakref.finalize(ctx, peer._dropped_graphs.append, graph)
        ctx.count = len(inputs)
        return tuple(outputs)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        answer = ctx.peer._request("backward", (ctx.graph, list(grads)), grad_enabled=False)
        if not isinstance(answer, list) or len(answer) != ctx.count:
            raise ProtocolError("the gradients sent back do not match the call's inputs")
        return (None, None, *(_checked_grad(g) for g in answer))


def _checked_grad(grad: Any) -> torch.Tensor | None:
    if grad is None or isinstance(grad, torch.Tensor):
        return grad
    raise ProtocolError(f"a gradient sent back is a {type(grad).__name__}, not a tensor")


def _replace(value: Any, swap: dict[int, torch.Tensor]) -> Any:
    """``value`` with the tensors whose id is in ``swap`` replaced (through plain containers)."""
    kind = type(value)
    if kind is torch.Tensor:
        return swap.get(id(value), value)
    if kind is tuple or kind is list:
        items = [_replace(v, swap) for v in value]
        return tuple(items) if kind is tuple else items
    if hasattr(value, "_fields") and isinstance(value, tuple):
        return type(value)(*(_replace(v, swap) for v in value))
    if kind is dict:
        return {k: _replace(v, swap) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------- proxies

_proxy_classes: dict[str, type[RemoteObject]] = {}


class RemoteObject:
    """A stand-in for an object that lives in the other process.

    Attribute reads, calls, indexing, ``len`` and iteration are sent there; results come back
    as data or as further proxies. The proxy's class is named after the remote object's type
    (a ``MultiHeadAttention`` proxy's ``type(p).__name__`` is ``"MultiHeadAttention"``), so
    messages that name a type read naturally.
    """

    __slots__ = ("__weakref__", "_flags", "_generation", "_id", "_label", "_peer", "_type")

    def __init__(self, peer: Peer, handle: int, flags: int, type_name: str) -> None:
        object.__setattr__(self, "_peer", peer)
        object.__setattr__(self, "_id", handle)
        object.__setattr__(self, "_flags", flags)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_generation", peer._remote_generation)
        object.__setattr__(self, "_label", type_name)

    def _check(self) -> None:
        if not self._flags & _PINNED and self._generation != self._peer._remote_generation:
            raise StaleHandle(
                f"this {self._type} object was released when the grader reset the sandbox "
                "between checks"
            )

    def _request(self, op: str, *args: Any) -> Any:
        self._check()
        peer = self._peer
        if peer._depth == 0:
            if op == "call":
                peer.what = f"the call of {self._label}"
            elif op == "getattr":
                peer.what = f"reading {self._label}.{args[0]}"
            else:
                peer.what = f"{op} on {self._label}"
        return peer._request(op, (self._id, *args))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value = self._request("getattr", name)
        if isinstance(value, RemoteObject):
            object.__setattr__(value, "_label", f"{self._label}.{name}")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        self._request("setattr", name, value)

    def __delattr__(self, name: str) -> None:
        self._request("delattr", name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._request("call", args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._request("getitem", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._request("setitem", key, value)

    def __len__(self) -> int:
        size = self._request("len")
        if type(size) is not int or size < 0:
            raise TypeError(f"len() of a {self._type} gave {size!r}, not a non-negative int")
        return size

    def __contains__(self, item: Any) -> bool:
        return bool(self._request("contains", item) is True)

    def __iter__(self) -> Iterator[Any]:
        iterator = self._request("iter")
        if not isinstance(iterator, RemoteObject):
            raise TypeError(f"iter() of a {self._type} did not give an iterator")
        return _RemoteIterator(iterator)

    def __next__(self) -> Any:
        return self._request("next")

    def __repr__(self) -> str:
        try:
            text = self._request("repr")
        except Exception as error:
            return f"<remote {self._type} ({type(error).__name__})>"
        return text if isinstance(text, str) else f"<remote {self._type}>"

    def __bool__(self) -> bool:
        return self._request("bool") is True

    def __copy__(self) -> Any:
        return self._request("copy", False)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self._request("copy", True)

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError(f"a proxy of a remote {self._type} cannot be pickled")

    def __del__(self) -> None:
        peer = self._peer
        if self._generation == peer._remote_generation and not self._flags & _PINNED:
            peer._released.append(self._id)


def call_method(proxy: RemoteObject, name: str, *args: Any, **kwargs: Any) -> Any:
    """``proxy.name(*args, **kwargs)`` in one round trip instead of two."""
    return proxy._request("callmethod", name, args, kwargs)


class _RemoteIterator:
    """Iterates a remote iterator one item per request (items may be computed lazily there)."""

    def __init__(self, iterator: RemoteObject) -> None:
        self.iterator = iterator

    def __iter__(self) -> _RemoteIterator:
        return self

    def __next__(self) -> Any:
        return self.iterator._request("next")


def _proxy_class(type_name: str) -> type[RemoteObject]:
    name = _identifier(type_name, "RemoteObject")
    cls = _proxy_classes.get(name)
    if cls is None:
        cls = type(name, (RemoteObject,), {"__slots__": (), "__module__": "remote"})
        _proxy_classes[name] = cls
    return cls


# ---------------------------------------------------------------------------- the peer


class Policy:
    """What the other process may do with this process's objects.

    The worker lets the grader do anything with its objects. The grader only lets the worker
    call the objects it handed out and read their public data: no names starting with ``_``
    and no modules, classes or functions as attribute values, so student code cannot walk
    from a handle to the grader's modules, files or reference source.
    """

    def __init__(self, restricted: bool) -> None:
        self.restricted = restricted

    def check(self, op: str, target: Any, name: str | None = None) -> None:
        """Raise ``PermissionError`` when ``op`` on ``target`` is not allowed."""
        if not self.restricted:
            return
        if op not in {
            "getattr",
            "call",
            "repr",
            "len",
            "iter",
            "next",
            "getitem",
            "contains",
            "bool",
        }:
            # callmethod is checked as a getattr of the method
            raise PermissionError(f"the grader does not allow {op!r} on its objects")
        if name is not None and name.startswith("_"):
            raise PermissionError(f"the grader's objects do not expose {name!r}")

    def allow_value(self, value: Any) -> Any:
        """``value`` if it may be handed to the other process as an attribute value."""
        if self.restricted and isinstance(
            value, types.ModuleType | type | types.FunctionType | types.CodeType | types.FrameType
        ):
            raise PermissionError(
                f"the grader's objects do not expose their {type(value).__name__} attributes"
            )
        return value


class Peer:
    """One end of the channel: sends requests, serves the other end's, bridges autograd.

    Args:
        read_fd: the pipe this end reads.
        write_fd: the pipe this end writes.
        restricted: limit what the other end may do with this end's objects (the grader's
            end is restricted; see :class:`Policy`).
        timeout: seconds the other end has to answer one top-level request (None: no limit).
        max_message: the largest message accepted, in bytes.
        share_tracebacks: send traceback text with errors (the grader does not, so reference
            source lines never reach the student's process).
    """

    def __init__(
        self,
        read_fd: int,
        write_fd: int,
        *,
        restricted: bool,
        timeout: float | None = None,
        max_message: int = MAX_MESSAGE_BYTES,
        share_tracebacks: bool = True,
    ) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.policy = Policy(restricted)
        self.timeout = timeout
        self.max_message = max_message
        self.share_tracebacks = share_tracebacks
        self.coerce_subclasses = not restricted
        self.closed: BaseException | None = None
        self.services: dict[str, Callable[..., Any]] = {}
        self._ids = itertools.count(1)
        self._exports: dict[int, Any] = {}
        self._pinned_objects: dict[int, int] = {}
        self._pinned: set[int] = set()
        self._graphs: OrderedDict[int, tuple[list[torch.Tensor], list[torch.Tensor]]] = (
            OrderedDict()
        )
        self._graph_ids = itertools.count(1)
        self._depth = 0
        self._deadline: float | None = None
        self._released: list[int] = []
        self._dropped_graphs: list[int] = []
        self._remote_generation = 0
        self.deadline: float | None = None
        """An absolute ``time.monotonic()`` after which no request may run (a check's budget)."""
        self.what = "a request"
        """What the outermost request is doing, for error messages."""
        self.translate: Callable[[BaseException], BaseException] | None = None
        """Turns errors of requests into the errors the caller should see (the sandbox's)."""
        self.gone: Callable[[BaseException], BaseException] = lambda error: ChannelClosed(
            f"the channel is closed: {error}"
        )
        """The error for a request made after the channel closed (``error`` closed it)."""
        if restricted:
            os.set_blocking(write_fd, False)

    # -- exports ---------------------------------------------------------------------------

    def _export(self, value: Any, pinned: bool = False) -> tuple[int, int]:
        # Every send makes a new handle (released when the other end's proxy goes away), so
        # one proxy's release never invalidates another; pinned objects keep one handle.
        handle = self._pinned_objects.get(id(value))
        if handle is None:
            handle = next(self._ids)
            self._exports[handle] = value
            if pinned:
                self._pinned_objects[id(value)] = handle
                self._pinned.add(handle)
        flags = (_CALLABLE if callable(value) else 0) | (
            _MODULE if isinstance(value, types.ModuleType) else 0
        )
        if handle in self._pinned:
            flags |= _PINNED
        return handle, flags

    def _resolve(self, handle: int) -> Any:
        try:
            return self._exports[handle]
        except KeyError:
            raise StaleHandle(f"no object with handle {handle} (released, or never sent)") from None

    def _proxy(self, handle: int, flags: int, type_name: str) -> RemoteObject:
        return _proxy_class(type_name)(self, handle, flags, type_name)

    def release(self, handles: list[int]) -> None:
        """Forget exported objects the other end no longer refers to (pinned ones stay)."""
        for handle in handles:
            if handle in self._pinned:
                continue
            self._exports.pop(handle, None)

    def reset_exports(self) -> None:
        """Forget every exported object but the pinned ones, and every kept graph."""
        for handle in list(self._exports):
            if handle not in self._pinned:
                self.release([handle])
        self._graphs.clear()

    def pin(self, value: Any) -> None:
        """Keep ``value`` exported across :meth:`reset_exports`."""
        self._export(value, pinned=True)

    # -- transport -------------------------------------------------------------------------

    def _wait(self, fd: int, writing: bool) -> None:
        if self._deadline is None:
            return
        left = self._deadline - time.monotonic()
        if left > 0:
            readable, writable, _ = select.select(
                [] if writing else [fd], [fd] if writing else [], [], left
            )
            if readable or writable:
                return
        raise ChannelTimeout("no answer within the time limit")

    def _send(self, message: Any, link: bool) -> _Encoder:
        encoder = _Encoder(self, link)
        self._write(encoder.message(message))
        return encoder

    def _read_exact(self, size: int) -> bytearray:
        data = bytearray(size)
        view = memoryview(data)
        got = 0
        while got < size:
            self._wait(self.read_fd, writing=False)
            try:
                count = os.readv(self.read_fd, [view[got:]])
            except InterruptedError:
                continue
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    continue
                raise ChannelClosed(f"reading the channel failed: {error}") from None
            if count == 0:
                raise ChannelClosed("the other process closed the channel")
            got += count
        return data

    def _receive(self) -> tuple[Any, _Decoder]:
        (size,) = _Q.unpack(self._read_exact(8))
        if size < 0 or size > self.max_message:
            raise ProtocolError(
                f"a message of {size} bytes, more than the limit of {self.max_message} bytes"
            )
        decoder = _Decoder(self, self._read_exact(size))
        try:
            message = decoder.value()
        except ProtocolError:
            raise
        except (struct.error, ValueError, TypeError, RuntimeError, RecursionError) as error:
            raise ProtocolError(f"a malformed message: {error}") from None
        if decoder.at != len(decoder.data):
            raise ProtocolError("a message has trailing bytes")
        if decoder.missing is not None and isinstance(message, tuple) and message:
            # A released object: an error for this message only, the channel stays in step.
            stale = StaleHandle(f"the object with handle {decoder.missing} was released")
            decoder.linked, decoder.generators = [], []
            if message[0] == "q" and len(message) == 6:
                return ("q", message[1], "stale", False, [], (str(stale),)), decoder
            if message[0] == "r" and len(message) == 5:
                return ("e", message[1], "StaleHandle", [], (str(stale),), ""), decoder
        return message, decoder

    # -- requests --------------------------------------------------------------------------

    def _request(self, op: str, args: tuple[Any, ...], grad_enabled: bool | None = None) -> Any:
        """Send a request, serve the other end's requests meanwhile, return its answer."""
        if self.closed is not None:
            raise self.gone(self.closed)
        grad = torch.is_grad_enabled() if grad_enabled is None else grad_enabled
        request_id = next(self._ids)
        released = [self._released, self._dropped_graphs]
        self._released, self._dropped_graphs = [], []
        outer = self._depth == 0
        if outer and self.timeout is not None:
            self._deadline = time.monotonic() + self.timeout
        if outer and self.deadline is not None:
            self._deadline = min(self._deadline or self.deadline, self.deadline)
        self._depth += 1
        try:
            sent = self._send(("q", request_id, op, grad, released, args), link=grad)
            while True:
                message, received = self._receive()
                if not isinstance(message, tuple) or len(message) < 2:
                    raise ProtocolError("a message that is neither a request nor an answer")
                if message[0] == "q":
                    self._serve(message, received)
                    continue
                if message[1] != request_id:
                    raise ProtocolError("an answer to a request that was not asked")
                return self._answer(message, sent, received.linked, grad)
        except BaseException as error:
            broken = not isinstance(error, Exception) or isinstance(
                error, ChannelTimeout | ChannelClosed | ProtocolError
            )
            translated = self.translate(error) if self.translate is not None else error
            if broken:
                # The channel is out of step (or gone): no further request can be trusted.
                self.closed = translated if isinstance(translated, Exception) else error
            if translated is error:
                raise
            raise translated from None
        finally:
            self._depth -= 1
            if outer:
                self._deadline = None

    def _answer(
        self,
        message: tuple[Any, ...],
        sent: _Encoder,
        linked: list[torch.Tensor],
        grad: bool,
    ) -> Any:
        if message[0] == "e" and len(message) == 6:
            _, _, type_name, bases, args, remote_tb = message
            if not isinstance(type_name, str) or not isinstance(args, tuple):
                raise ProtocolError("a malformed error answer")
            bases = [b for b in bases if isinstance(b, str)] if isinstance(bases, list) else []
            tb = remote_tb if isinstance(remote_tb, str) else ""
            raise rebuild_exception(type_name, bases, args, tb)
        if message[0] != "r" or len(message) != 5:
            raise ProtocolError("a malformed answer")
        _, _, graph, value, states = message
        if not isinstance(states, list) or len(states) != len(sent.generators):
            raise ProtocolError("an answer without the final states of the generators sent")
        for generator, state in zip(sent.generators, states, strict=True):
            try:
                generator.set_state(state)
            except (RuntimeError, TypeError) as error:
                raise ProtocolError(f"a generator state that cannot be set: {error}") from None
        if not linked or not grad:
            return value
        if type(graph) is not int:
            raise ProtocolError("linked tensors without a graph id")
        dummy = torch.empty(0, requires_grad=True)
        outputs = _Bridge.apply((self, graph, linked), dummy, *sent.linked)
        return _replace(value, {id(old): new for old, new in zip(linked, outputs, strict=True)})

    def _serve(self, message: tuple[Any, ...], received: _Decoder) -> None:
        """Answer one request from the other end (errors become error answers)."""
        if len(message) != 6:
            raise ProtocolError("a malformed request")
        linked = received.linked
        _, request_id, op, grad, released, args = message
        if isinstance(released, list) and len(released) == 2:
            handles, graphs = released
            self.release([h for h in handles if type(h) is int])
            for graph in graphs:
                self._graphs.pop(graph, None)
        for tensor in linked:
            tensor.requires_grad_(True)
        inputs = {id(t) for t in linked}
        try:
            with torch.set_grad_enabled(bool(grad)):
                value = self._perform(op, args)
            encoder = _Encoder(self, link=bool(grad), graph_inputs=inputs)
            encoder.value(value)
            graph = None
            if encoder.linked:
                graph = next(self._graph_ids)
                self._graphs[graph] = (linked, encoder.linked)
                while len(self._graphs) > MAX_GRAPHS:
                    self._graphs.popitem(last=False)
            head = _Encoder(self, link=False)
            head.chunks.append(b"(" + _I.pack(5))
            for item in ("r", request_id, graph):
                head.value(item)
            tail = _Encoder(self, link=False)
            tail.value([g.get_state() for g in received.generators])
            data = b"".join(head.chunks + encoder.chunks + tail.chunks)
            self._write(_Q.pack(len(data)) + data)
        except RemoteError as error:
            if isinstance(error, ChannelClosed | ChannelTimeout | ProtocolError):
                raise
            self._send_error(request_id, error)
        except Exception as error:
            self._send_error(request_id, error)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self._wait(self.write_fd, writing=True)
            try:
                written = os.write(self.write_fd, view)
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise ChannelClosed("the other process closed the channel") from None
            view = view[written:]

    def _send_error(self, request_id: Any, error: BaseException) -> None:
        args = tuple(a for a in error.args if type(a) in (str, int, float, bool, type(None)))
        if len(args) != len(error.args):
            args = (str(error),)
        if isinstance(error, SyntaxError):
            args = (str(error),)
        bases = [c.__name__ for c in type(error).__mro__]
        text = ""
        if self.share_tracebacks:
            # The channel's own frames say nothing to the student: start at their code.
            tb = error.__traceback__
            while tb is not None and (
                tb.tb_frame.f_code.co_filename.startswith((_OWN_FOLDER, "<frozen importlib"))
            ):
                tb = tb.tb_next
            text = "".join(traceback.format_exception(type(error), error, tb))
        self._send(("e", request_id, type(error).__name__, bases, args, text), link=False)

    def serve_forever(self) -> None:
        """Serve requests until the other end closes the channel (the worker's main loop)."""
        while True:
            try:
                message, received = self._receive()
            except ChannelClosed:
                return
            if not isinstance(message, tuple) or not message or message[0] != "q":
                raise ProtocolError("expected a request")
            self._serve(message, received)

    # -- operations ------------------------------------------------------------------------

    def _perform(self, op: Any, args: Any) -> Any:
        if op in self.services:
            if self.policy.restricted:
                raise PermissionError(f"the grader does not allow {op!r}")
            return self.services[op](*args)
        if op == "backward":
            return self._backward(*args)
        if op == "stale":
            raise StaleHandle(*args)
        if not isinstance(args, tuple) or not args:
            raise ProtocolError(f"a malformed {op!r} request")
        target = self._resolve(args[0]) if type(args[0]) is int else None
        if target is None:
            raise ProtocolError(f"a {op!r} request without a valid handle")
        rest = args[1:]
        policy = self.policy
        if op == "getattr":
            (name,) = rest
            policy.check(op, target, name)
            return policy.allow_value(getattr(target, name))
        if op == "callmethod":
            name, call_args, kwargs = rest
            policy.check("getattr", target, name)
            method = policy.allow_value(getattr(target, name))
            return method(*call_args, **kwargs)
        policy.check(op, target)
        if op == "call":
            call_args, kwargs = rest
            if not isinstance(call_args, tuple) or not isinstance(kwargs, dict):
                raise ProtocolError("a malformed call")
            return target(*call_args, **kwargs)
        if op == "setattr":
            setattr(target, *rest)
            return None
        if op == "delattr":
            delattr(target, *rest)
            return None
        if op == "getitem":
            return target[rest[0]]
        if op == "setitem":
            target[rest[0]] = rest[1]
            return None
        if op == "len":
            return len(target)
        if op == "contains":
            return rest[0] in target
        if op == "iter":
            return _Iterator(iter(target))
        if op == "next":
            return next(target)
        if op == "repr":
            return repr(target)
        if op == "bool":
            return bool(target)
        if op == "copy":
            # A copy made where the object lives: a proxy's copy would share its handle.
            return copy.deepcopy(target) if rest[0] else copy.copy(target)
        raise ProtocolError(f"unknown operation {op!r}")

    def _backward(self, graph: Any, grads: Any) -> list[torch.Tensor | None]:
        kept = self._graphs.pop(graph, None) if type(graph) is int else None
        if kept is None:
            raise RuntimeError(
                "backward through a result a second time, or after the sandbox was reset "
                "(its graph is no longer kept)"
            )
        inputs, outputs = kept
        if not isinstance(grads, list) or len(grads) != len(outputs):
            raise ProtocolError("the output gradients do not match the call's outputs")
        pairs = [
            (o, g.to(o.dtype) if isinstance(g, torch.Tensor) else torch.zeros_like(o))
            for o, g in zip(outputs, grads, strict=True)
        ]
        for tensor in inputs:
            tensor.grad = None
        torch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        result = [t.grad for t in inputs]
        for tensor in inputs:
            tensor.grad = None
        return result


class _Iterator:
    """An iterator handed out by ``iter``: the other end asks for one item at a time."""

    def __init__(self, iterator: Iterator[Any]) -> None:
        self.iterator = iterator

    def __next__(self) -> Any:
        return next(self.iterator)

    def __iter__(self) -> _Iterator:
        return self


# ---------------------------------------------------------------------------- dependency shims


def _is_data(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is plain data that can be copied to the other process."""
    if depth > 8:
        return False
    if value is None or type(value) in (bool, int, float, complex, str, bytes):
        return True
    if isinstance(value, torch.Tensor | torch.dtype | torch.device):
        return True
    if type(value) in (tuple, list, set, frozenset):
        return all(_is_data(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(_is_data(k, depth + 1) and _is_data(v, depth + 1) for k, v in value.items())
    return False


def _public_methods(cls: type) -> list[str]:
    """Public methods a class defines beyond ``nn.Module``'s own (``encode``, ``decode``...)."""
    names = []
    for klass in cls.__mro__:
        if klass in (torch.nn.Module, object):
            break
        for name, value in vars(klass).items():
            if not name.startswith("_") and callable(value) and name not in names:
                names.append(name)
    return names


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Draw from a generator seeded by ``seed``, leaving the caller's generator as it was.

    (``torch.random.fork_rng`` and ``torch.manual_seed`` do more, and cost a millisecond.)
    """
    generator = torch.default_generator
    state = generator.get_state()
    generator.manual_seed(int(seed))
    cuda = torch.cuda.is_initialized()
    if cuda:
        cuda_states = torch.cuda.get_rng_state_all()
        torch.cuda.manual_seed_all(int(seed))
    try:
        yield
    finally:
        generator.set_state(state)
        if cuda:
            torch.cuda.set_rng_state_all(cuda_states)


class _MethodCaller(torch.nn.Module):
    """Calls one method of ``target`` so ``functional_call`` can reparametrise any method."""

    def __init__(self, target: torch.nn.Module, method: str) -> None:
        super().__init__()
        self.target = target
        self.method = method

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.target, self.method)(*args, **kwargs)


class ShimService:
    """The grader's side of the dependency shims: runs reference code for the worker.

    The worker reaches it through a proxy and may only call :meth:`call`,
    :meth:`construct` and :meth:`module_call`, naming a public function or class of one of
    the ``dependencies``; it never gets the reference functions or their source.
    """

    def __init__(
        self,
        peer: Peer,
        dependencies: dict[str, types.ModuleType],
        max_elements: int = 2**24,
    ) -> None:
        self._peer = peer
        self._dependencies = dependencies
        self._instances: dict[int, Any] = {}
        self._max_elements = max_elements

    def _check_size(self, *values: Any) -> None:
        # The reference runs in the grader's process on inputs the student's process chose:
        # bound them, so a hostile submission cannot make the grader allocate without end.
        total = 0
        stack = list(values)
        while stack:
            value = stack.pop()
            if isinstance(value, torch.Tensor):
                total += value.numel()
            elif type(value) in (tuple, list):
                stack.extend(value)
            elif type(value) is dict:
                stack.extend(value.values())
        if total > self._max_elements:
            raise ValueError(
                f"the grader runs the reference on at most {self._max_elements} tensor elements "
                f"per call, got {total}"
            )

    def _names(self, module: types.ModuleType) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, value in vars(module).items():
            if name.startswith("_"):
                continue
            if isinstance(value, type):
                if value.__module__ != module.__name__:
                    continue
                kind = "module" if issubclass(value, torch.nn.Module) else "class"
                found[name] = (kind, _public_methods(value) if kind == "module" else [])
            elif isinstance(value, types.FunctionType):
                if value.__module__ == module.__name__:
                    found[name] = ("function", [])
            elif _is_data(value) and not isinstance(value, torch.Tensor | torch.dtype):
                found[name] = ("data", value)
        return found

    def describe(self) -> dict[str, Any]:
        """What the worker needs to build each shim module (this service's handle included)."""
        self._peer.pin(self)
        return {
            name: {"service": self, "names": self._names(module)}
            for name, module in self._dependencies.items()
        }

    def _lookup(self, module: Any, name: Any, kinds: tuple[str, ...]) -> Any:
        dependency = self._dependencies.get(module) if isinstance(module, str) else None
        if dependency is None or not isinstance(name, str):
            raise PermissionError(f"{module!r} is not a module the grader provides")
        entry = self._names(dependency).get(name)
        if entry is None or entry[0] not in kinds:
            raise AttributeError(f"module {module!r} has no {name!r}")
        return getattr(dependency, name)

    def call(
        self, module: str, name: str, seed: int, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Call the reference function ``module.name`` (random draws seeded by the worker)."""
        function = self._lookup(module, name, ("function",))
        self._check_size(args, kwargs)
        with _seeded(seed):
            return function(*args, **kwargs)

    def construct(
        self, module: str, name: str, seed: int, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Build a reference instance; for an ``nn.Module`` also describe its structure."""
        cls = self._lookup(module, name, ("module", "class"))
        self._check_size(args, kwargs)
        with _seeded(seed):
            instance = cls(*args, **kwargs)
        self._instances[id(instance)] = instance
        if not isinstance(instance, torch.nn.Module):
            return instance
        return instance, self._structure(instance)

    @staticmethod
    def _structure(root: torch.nn.Module) -> list[dict[str, Any]]:
        unique: dict[int, int] = {}
        nodes = []
        for path, module in root.named_modules():
            params = {}
            for name, param in module._parameters.items():
                if param is None:
                    params[name] = None
                else:
                    index = unique.setdefault(id(param), len(unique))
                    params[name] = (index, param.detach())
            buffers = {
                name: (buffer, name not in module._non_persistent_buffers_set)
                for name, buffer in module._buffers.items()
            }
            attrs = {
                name: value
                for name, value in vars(module).items()
                if not name.startswith("_") and name != "training" and _is_data(value)
            }
            nodes.append(
                {
                    "path": path,
                    "type": type(module).__name__,
                    "methods": _public_methods(type(module)),
                    "params": params,
                    "buffers": buffers,
                    "attrs": attrs,
                    "training": module.training,
                }
            )
        return nodes

    def module_call(
        self,
        instance: Any,
        path: str,
        method: str,
        seed: int,
        state: dict[str, torch.Tensor],
        training: list[bool],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[Any, dict[str, dict[str, Any]]]:
        """Run ``method`` of a reference submodule with the worker shell's parameters.

        Returns the result and the tensor attributes the method set (``attention_weights``),
        by submodule path, for the shell to copy.
        """
        if id(instance) not in self._instances or not isinstance(instance, torch.nn.Module):
            raise PermissionError("not an instance the grader built for this submission")
        module = instance.get_submodule(path) if path else instance
        if not isinstance(method, str) or method not in ("forward", *_public_methods(type(module))):
            raise AttributeError(f"{type(module).__name__} has no method {method!r}")
        self._check_size(state, args, kwargs)
        modules = list(module.named_modules())
        if len(training) != len(modules):
            raise ValueError("the shell's submodules do not match the reference's")
        for (_, sub), flag in zip(modules, training, strict=True):
            sub.training = bool(flag)
        before = {
            (sub_path, name): id(value)
            for sub_path, sub in modules
            for name, value in vars(sub).items()
            if not name.startswith("_")
        }
        caller = _MethodCaller(module, method)
        with _seeded(seed):
            result = torch.func.functional_call(
                caller, {f"target.{k}": v for k, v in state.items()}, args, kwargs
            )
        changed: dict[str, dict[str, Any]] = {}
        for sub_path, sub in modules:
            for name, value in vars(sub).items():
                if (
                    not name.startswith("_")
                    and (value is None or isinstance(value, torch.Tensor))
                    and before.get((sub_path, name)) != id(value)
                ):
                    changed.setdefault(sub_path, {})[name] = value
        return result, changed


class ShimModule(torch.nn.Module):
    """A worker-side shell of a reference ``nn.Module``: real parameters, remote forward.

    It has the reference's submodule tree, parameter and buffer names and values, so
    ``state_dict``, ``load_state_dict``, ``.to()`` and optimisers work on it as usual; its
    ``forward`` (and public methods such as ``encode``) run in the grader with the shell's
    current parameters, gradients flowing back to them.
    """

    _shim_service: RemoteObject
    _shim_instance: RemoteObject
    _shim_path: str

    def _shim_call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        state: dict[str, torch.Tensor] = dict(self.named_parameters())
        state.update(dict(self.named_buffers()))
        training = [m.training for m in self.modules()]
        result, changed = self._shim_service.module_call(
            self._shim_instance,
            self._shim_path,
            method,
            _draw_seed(),
            state,
            training,
            args,
            kwargs,
        )
        for path, values in changed.items():
            node = self.get_submodule(path) if path else self
            for name, value in values.items():
                setattr(node, name, value)
        return result

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._shim_call("forward", args, kwargs)


def _draw_seed() -> int:
    """A seed for the grader's random draws, taken from the worker's generator."""
    return int(torch.randint(0, 2**62, (1,)).item())


_shell_classes: dict[tuple[str, str, tuple[str, ...]], type[ShimModule]] = {}


def _shell_class(module_name: str, type_name: str, methods: list[str]) -> type[ShimModule]:
    key = (module_name, type_name, tuple(methods))
    cls = _shell_classes.get(key)
    if cls is None:
        namespace: dict[str, Any] = {"__module__": module_name}
        for method in methods:
            if method != "forward" and method.isidentifier():
                namespace[method] = _shell_method(method)
        cls = type(_identifier(type_name, "Shell"), (ShimModule,), namespace)
        _shell_classes[key] = cls
    return cls


def _shell_method(method: str) -> Callable[..., Any]:
    def call(self: ShimModule, *args: Any, **kwargs: Any) -> Any:
        return self._shim_call(method, args, kwargs)

    call.__name__ = method
    return call


def _build_shell(
    shell: ShimModule,
    service: RemoteObject,
    instance: RemoteObject,
    nodes: list[dict[str, Any]],
    module_name: str,
) -> None:
    shared: dict[int, torch.nn.Parameter] = {}
    by_path: dict[str, ShimModule] = {}
    for node in nodes:
        path = node["path"]
        if path:
            cls = _shell_class(module_name, node["type"], node["methods"])
            module = cls.__new__(cls)
            torch.nn.Module.__init__(module)
            parent, _, name = path.rpartition(".")
            by_path[parent].add_module(name, module)
        else:
            module = shell
        object.__setattr__(module, "_shim_service", service)
        object.__setattr__(module, "_shim_instance", instance)
        object.__setattr__(module, "_shim_path", path)
        by_path[path] = module
        for name, entry in node["params"].items():
            if entry is None:
                module.register_parameter(name, None)
                continue
            index, value = entry
            if index not in shared:
                shared[index] = torch.nn.Parameter(value)
            module.register_parameter(name, shared[index])
        for name, (value, persistent) in node["buffers"].items():
            module.register_buffer(name, value, persistent=persistent)
        for name, value in node["attrs"].items():
            setattr(module, name, value)
        module.training = node["training"]


def make_shim_module(name: str, description: dict[str, Any]) -> types.ModuleType:
    """The worker's stand-in for a reference module (see :class:`ShimService`)."""
    service = description["service"]
    short = name.rpartition(".")[2]
    module = types.ModuleType(name, f"Module {short} of the reference, run by the grader.")
    for attr, (kind, extra) in description["names"].items():
        if kind == "data":
            setattr(module, attr, extra)
        elif kind == "function":
            setattr(module, attr, _shim_function(service, short, attr, name))
        elif kind == "class":
            setattr(module, attr, _shim_function(service, short, attr, name, construct=True))
        elif kind == "module":
            setattr(module, attr, _shim_module_class(service, short, attr, extra, name))
    return module


def _shim_function(
    service: RemoteObject, module: str, attr: str, qualified: str, construct: bool = False
) -> Callable[..., Any]:
    def shim(*args: Any, **kwargs: Any) -> Any:
        method = "construct" if construct else "call"
        return call_method(service, method, module, attr, _draw_seed(), args, kwargs)

    shim.__name__ = shim.__qualname__ = attr
    shim.__module__ = qualified
    shim.__doc__ = f"{attr} of the reference implementation, run by the grader."
    return shim


def _shim_module_class(
    service: RemoteObject, module: str, attr: str, methods: list[str], qualified: str
) -> type[ShimModule]:
    base = _shell_class(qualified, attr, methods)

    def __init__(self: ShimModule, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        torch.nn.Module.__init__(self)
        instance, nodes = call_method(
            service, "construct", module, attr, _draw_seed(), args, kwargs
        )
        _build_shell(self, service, instance, nodes, qualified)

    return type(attr, (base,), {"__init__": __init__, "__module__": qualified})
