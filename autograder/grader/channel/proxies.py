"""Proxies of the other process's objects, iteration, and autograd across the two processes.

A handle arrives as a :class:`RemoteObject`: calling it, reading its attributes or indexing
it sends a request to the process that owns the object and waits for the answer.

Tensors that need gradients are connected across the boundary: the receiver of a call keeps
the call's autograd graph, and the caller's result tensors hang off a
:class:`torch.autograd.Function` whose backward asks the receiver to run backward with the
output gradients and return the inputs' gradients (accumulating parameter gradients where
the parameters live).
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from autograder.grader.channel.errors import ProtocolError, StaleHandle, identifier

if TYPE_CHECKING:
    from autograder.grader.channel.peer import Peer

__builtins__ = dict(vars(builtins))  # the runtime keeps its builtins whatever student code patches

CALLABLE, MODULE, PINNED, NN_MODULE = 1, 2, 4, 8
"""Handle flags (the same values as :mod:`.wire`'s)."""

NN_MODULE_METHODS = frozenset(
    [
        "apply",
        "bfloat16",
        "buffers",
        "children",
        "cpu",
        "cuda",
        "double",
        "eval",
        "float",
        "get_submodule",
        "half",
        "load_state_dict",
        "modules",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "requires_grad_",
        "state_dict",
        "to",
        "train",
        "type",
        "zero_grad",
    ]
)
"""``torch.nn.Module``'s own methods: on a remote module, reading one costs no round trip."""

MAX_BATCH = 64
"""The most items one request of an iteration fetches (the batch doubles from 1)."""


class RemoteObject:
    """A stand-in for an object that lives in the other process.

    Attribute reads, calls, indexing, ``len`` and iteration are sent there; results come back
    as data or as further proxies. The proxy's class is named after the remote object's type
    (a ``MultiHeadAttention`` proxy's ``type(p).__name__`` is ``"MultiHeadAttention"``), so
    messages that name a type read naturally.
    """

    __slots__ = (
        "__weakref__",
        "_attributes",
        "_flags",
        "_generation",
        "_id",
        "_label",
        "_peer",
        "_type",
    )

    def __init__(self, peer: Peer, handle: int, flags: int, type_name: str) -> None:
        object.__setattr__(self, "_peer", peer)
        object.__setattr__(self, "_id", handle)
        object.__setattr__(self, "_flags", flags)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_generation", peer.generation)
        object.__setattr__(self, "_label", type_name)
        object.__setattr__(self, "_attributes", {})

    def _check(self) -> None:
        if not self._flags & PINNED and self._generation != self._peer.generation:
            raise StaleHandle(
                f"this {self._type} object was released when the grader reset the sandbox "
                "between checks"
            )

    def _request(self, op: str, *args: Any) -> Any:
        self._check()
        if op == "call":
            what = f"the call of {self._label}"
        elif op == "callmethod":
            what = f"the call of {self._label}.{args[0]}"
        elif op == "getattr":
            what = f"reading {self._label}.{args[0]}"
        else:
            what = f"{op} on {self._label}"
        return self._peer.request(op, (self._id, *args), what=what)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if self._flags & NN_MODULE and name in NN_MODULE_METHODS:
            # A check calls model.eval(), model.to(...): one round trip for the call, not two.
            return RemoteMethod(self, name)
        cache = self._attributes
        if name in cache and cache[name][0] == self._peer.generation:
            return cache[name][1]
        value = self._request("getattr", name)
        if isinstance(value, RemoteObject):
            object.__setattr__(value, "_label", f"{self._label}.{name}")
            # A module's functions and classes are read once per check, not once per call.
            if self._flags & MODULE and value._flags & CALLABLE:
                cache[name] = (self._peer.generation, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        self._attributes.pop(name, None)
        self._request("setattr", name, value)

    def __delattr__(self, name: str) -> None:
        self._attributes.pop(name, None)
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
        return RemoteIterator(iterator)

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
        if self._generation == peer.generation and not self._flags & PINNED:
            peer.forget(self._id)


def call_method(proxy: RemoteObject, name: str, *args: Any, **kwargs: Any) -> Any:
    """``proxy.name(*args, **kwargs)`` in one round trip instead of two."""
    return proxy._request("callmethod", name, args, kwargs)


class RemoteMethod:
    """A method of a remote module, read without a round trip: calling it is one request.

    Reading the attribute is deferred to the call, where the other process reads and calls
    it as one operation (``callmethod``); whatever the attribute really is, the call behaves
    as reading it and then calling it would.
    """

    __slots__ = ("_name", "_owner")

    def __init__(self, owner: RemoteObject, name: str) -> None:
        self._owner = owner
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return call_method(self._owner, self._name, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<method {self._name} of remote {self._owner._type}>"


class RemoteIterator:
    """Iterates a remote iterator, fetching 1, 2, 4, ... up to :data:`MAX_BATCH` items a request.

    The first items come one at a time (a lazy generator is advanced no further than asked),
    a long iteration (a model's parameters) in few round trips.
    """

    def __init__(self, iterator: RemoteObject) -> None:
        self.iterator = iterator
        self.buffer: list[Any] = []
        self.batch = 1
        self.done = False

    def __iter__(self) -> RemoteIterator:
        return self

    def __next__(self) -> Any:
        if not self.buffer and not self.done:
            answer = self.iterator._request("nextmany", self.batch)
            if not isinstance(answer, tuple) or len(answer) != 2 or type(answer[1]) is not bool:
                raise ProtocolError("a malformed batch of an iteration")
            items, self.done = answer
            if not isinstance(items, list) or len(items) > self.batch:
                raise ProtocolError("a malformed batch of an iteration")
            self.buffer = items
            self.batch = min(self.batch * 2, MAX_BATCH)
        if not self.buffer:
            raise StopIteration
        return self.buffer.pop(0)


def proxy_class(classes: Any, type_name: str) -> type[RemoteObject]:
    """The proxy class named ``type_name`` (from the channel's bounded cache ``classes``)."""
    name = identifier(type_name, "RemoteObject")
    cls = classes.get(name)
    if cls is None:
        made = type(name, (RemoteObject,), {"__slots__": (), "__module__": "remote"})
        cls = classes.put(name, made)
    return cls


# ---------------------------------------------------------------------------- autograd bridge


class Bridge(torch.autograd.Function):
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
        weakref.finalize(ctx, peer.drop_graph, graph)
        ctx.count = len(inputs)
        return tuple(outputs)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        answer = ctx.peer.request(
            "backward", (ctx.graph, list(grads)), what="a backward pass", grad_enabled=False
        )
        if not isinstance(answer, list) or len(answer) != ctx.count:
            raise ProtocolError("the gradients sent back do not match the call's inputs")
        return (None, None, *(_checked_grad(g) for g in answer))


def _checked_grad(grad: Any) -> torch.Tensor | None:
    if grad is None or isinstance(grad, torch.Tensor):
        return grad
    raise ProtocolError(f"a gradient sent back is a {type(grad).__name__}, not a tensor")


def replace_tensors(value: Any, swap: dict[int, torch.Tensor]) -> Any:
    """``value`` with the tensors whose id is in ``swap`` replaced (through plain containers)."""
    kind = type(value)
    if kind is torch.Tensor:
        return swap.get(id(value), value)
    if kind is tuple or kind is list:
        items = [replace_tensors(v, swap) for v in value]
        return tuple(items) if kind is tuple else items
    if hasattr(value, "_fields") and isinstance(value, tuple):
        return type(value)(*(replace_tensors(v, swap) for v in value))
    if kind is dict:
        return {k: replace_tensors(v, swap) for k, v in value.items()}
    return value
