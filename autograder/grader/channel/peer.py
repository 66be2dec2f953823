"""One end of the channel: requests, answers, the objects it exports, what the other may do.

Both ends serve requests while they wait for an answer, so the worker may call back into
the grader (the reference implementation of earlier parts) in the middle of a call.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import itertools
import os
import select
import struct
import time
import traceback
import types
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import torch

from autograder.grader.channel.decode import Decoder, Limits
from autograder.grader.channel.errors import (
    BoundedCache,
    ChannelClosed,
    ChannelTimeout,
    ProtocolError,
    RemoteError,
    StaleHandle,
    rebuild_exception,
)
from autograder.grader.channel.kept import ReceivedTensors, SentTensors
from autograder.grader.channel.policy import Policy
from autograder.grader.channel.proxies import (
    Bridge,
    RemoteObject,
    proxy_class,
    replace_tensors,
)
from autograder.grader.channel.wire import CALLABLE, MODULE, NN_MODULE, PINNED, Encoder, I, Q

__builtins__ = dict(vars(builtins))  # the runtime keeps its builtins whatever student code patches

MAX_GRAPHS = 512
"""How many calls' autograd graphs a process keeps for a later backward (oldest dropped)."""

_OWN_FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_READ, _WRITE, _SELECT, _MONOTONIC = os.read, os.write, select.select, time.monotonic
_PERF_COUNTER, _SCHED_YIELD = time.perf_counter, os.sched_yield
_NN_MODULE_TYPE = torch.nn.Module
READ_CHUNK = 1 << 16
"""Bytes asked for by one read of the channel (a pipe holds 64 KiB)."""
_BACKWARD = torch.autograd.backward
_EMPTY = torch.empty
_SET_GRAD_ENABLED = torch.set_grad_enabled
_IS_GRAD_ENABLED = torch.is_grad_enabled
_TENSOR = torch._C.TensorBase


class _Iterator:
    """An iterator handed out by ``iter``: the other end asks for items in batches."""

    def __init__(self, iterator: Iterator[Any]) -> None:
        self.iterator = iterator

    def __next__(self) -> Any:
        return next(self.iterator)

    def __iter__(self) -> _Iterator:
        return self

    def many(self, count: int) -> tuple[list[Any], bool]:
        items: list[Any] = []
        for _ in range(max(1, min(int(count), 64))):
            try:
                items.append(next(self.iterator))
            except StopIteration:
                return items, True
        return items, False


class Peer:
    """One end of the channel: sends requests, serves the other end's, bridges autograd.

    Args:
        read_fd: the pipe this end reads.
        write_fd: the pipe this end writes.
        restricted: limit what the other end may do with this end's objects (the grader's
            end is restricted; see :class:`Policy`).
        timeout: seconds the other end has to answer one top-level request (None: no limit).
        limits: what one message from the other end may cost (:class:`decode.Limits`).
        share_tracebacks: send traceback text with errors (the grader does not, so reference
            source lines never reach the student's process).
        spin_s: how long to poll the pipe before sleeping on it when a message is awaited
            (0: sleep at once). Each end answers within a fraction of a millisecond in most
            round trips, and a process put to sleep and woken costs more than that (the
            wake-up, and its caches and branch predictors cold again): where each process
            has a core of its own, polling a little first cuts a round trip's cost by a
            third. Where they share one, polling only takes the core from the other end.
    """

    def __init__(
        self,
        read_fd: int,
        write_fd: int,
        *,
        restricted: bool,
        timeout: float | None = None,
        limits: Limits | None = None,
        share_tracebacks: bool = True,
        spin_s: float = 0.0,
    ) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.spin_s = spin_s
        self.policy = Policy(restricted)
        self.timeout = timeout
        self.limits = limits or Limits()
        self.share_tracebacks = share_tracebacks
        self.coerce_subclasses = not restricted
        self.closed: BaseException | None = None
        self.services: dict[str, Callable[..., Any]] = {}
        self.generation = 0
        """Bumped by :meth:`new_check`: proxies of an older generation are stale."""
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
        # Classes made for names the other end chooses: bounded, and gone with the channel.
        self.proxy_classes: BoundedCache[str, type[RemoteObject]] = BoundedCache()
        self.error_classes: BoundedCache[tuple[str, str], type] = BoundedCache()
        self.namedtuple_classes: BoundedCache[tuple[str, tuple[str, ...]], type] = BoundedCache()
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
        self._pending = bytearray()
        self.sent_tensors = SentTensors()
        self.received_tensors = ReceivedTensors()
        if restricted:
            # Never block on the student's process: every wait goes through a deadline.
            os.set_blocking(write_fd, False)
            os.set_blocking(read_fd, False)
        elif spin_s:
            os.set_blocking(read_fd, False)  # polled first (_read_exact), then waited on

    # -- exports ---------------------------------------------------------------------------

    def export(self, value: Any, pinned: bool = False) -> tuple[int, int]:
        """A handle for ``value`` (kept until the other end releases it) and its flags."""
        # Every send makes a new handle (released when the other end's proxy goes away), so
        # one proxy's release never invalidates another; pinned objects keep one handle.
        handle = self._pinned_objects.get(id(value))
        if handle is None:
            handle = next(self._ids)
            self._exports[handle] = value
            if pinned:
                self._pinned_objects[id(value)] = handle
                self._pinned.add(handle)
        flags = (
            (CALLABLE if callable(value) else 0)
            | (MODULE if isinstance(value, types.ModuleType) else 0)
            | (NN_MODULE if isinstance(value, _NN_MODULE_TYPE) else 0)
        )
        if handle in self._pinned:
            flags |= PINNED
        return handle, flags

    def exported(self, handle: int) -> Any:
        """This end's object with ``handle`` (None when it was released)."""
        return self._exports.get(handle)

    def pin(self, value: Any) -> None:
        """Keep ``value`` exported across :meth:`new_check`."""
        self.export(value, pinned=True)

    def proxy(self, handle: int, flags: int, type_name: str) -> RemoteObject:
        """The proxy of the other end's object ``handle``."""
        return proxy_class(self.proxy_classes, type_name)(self, handle, flags, type_name)

    def check_own_proxy(self, proxy: RemoteObject) -> None:
        """Refuse to send a proxy of another channel's object, or a stale one."""
        if proxy._peer is not self:
            raise ValueError("an object of another sandbox cannot be passed to this one")
        proxy._check()

    def forget(self, handle: int) -> None:
        """The other end's object ``handle`` is no longer used here (told with the next request)."""
        self._released.append(handle)

    def drop_graph(self, graph: int) -> None:
        """A linked result died without a backward pass: the other end may drop its graph."""
        self._dropped_graphs.append(graph)

    def _release(self, handles: list[int]) -> None:
        for handle in handles:
            if handle not in self._pinned:
                self._exports.pop(handle, None)

    def reset_exports(self) -> None:
        """Forget every exported object but the pinned ones, and every kept graph."""
        self._release(list(self._exports))
        self._graphs.clear()

    @property
    def graph_count(self) -> int:
        """How many calls' autograd graphs this end keeps for a later backward."""
        return len(self._graphs)

    def new_check(self, deadline: float | None = None) -> None:
        """Between checks: earlier proxies go stale, exports are forgotten, a new deadline."""
        self.generation += 1
        self.reset_exports()
        self.deadline = deadline

    def close(self) -> None:
        """Close both pipes (the other end sees the channel closed)."""
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- transport -------------------------------------------------------------------------

    def _wait(self, fd: int, writing: bool) -> None:
        """Wait until ``fd`` can be read (or written), or raise at the request's deadline."""
        if self._deadline is None:
            _SELECT([] if writing else [fd], [fd] if writing else [], [])
            return
        left = self._deadline - _MONOTONIC()
        if left > 0:
            readable, writable, _ = _SELECT(
                [] if writing else [fd], [fd] if writing else [], [], left
            )
            if readable or writable:
                return
        raise ChannelTimeout("no answer within the time limit")

    def _send(self, message: Any, link: bool) -> Encoder:
        encoder = Encoder(self, link)
        data = encoder.message(message)
        self.sent_tensors.commit(encoder.kept_stores)
        for group in encoder.kept_groups:
            self.sent_tensors.remember_group(group)
        self._write(data)
        return encoder

    def _read_exact(self, size: int) -> bytearray:
        """``size`` bytes from the channel: what is buffered, then reads of whatever is there.

        One read usually brings a whole message (its length and its body); the pipe is only
        waited on when it is empty, so a deadline costs a ``select`` per wait, not per read.
        """
        pending = self._pending
        while len(pending) < size:
            try:
                chunk = _READ(self.read_fd, max(READ_CHUNK, size - len(pending)))
            except (BlockingIOError, InterruptedError):
                chunk = self._poll(max(READ_CHUNK, size - len(pending)))
                if chunk is None:
                    self._wait(self.read_fd, writing=False)
                    continue
            except OSError as error:
                raise ChannelClosed(f"reading the channel failed: {error}") from None
            if not chunk:
                raise ChannelClosed("the other process closed the channel")
            pending += chunk
        data = pending[:size]
        del pending[:size]
        return data

    def _poll(self, size: int) -> bytes | None:
        """Read the pipe until something comes or :attr:`spin_s` passes (None: nothing came).

        Each try yields the core, so a process that shares it with the other end lets that
        one run.
        """
        if not self.spin_s or (self._deadline is not None and _MONOTONIC() >= self._deadline):
            return None  # past the deadline, _wait raises: a trickle of bytes cannot delay it
        end = _PERF_COUNTER() + self.spin_s
        while _PERF_COUNTER() < end:
            try:
                return _READ(self.read_fd, size)
            except (BlockingIOError, InterruptedError):
                _SCHED_YIELD()
            except OSError as error:
                raise ChannelClosed(f"reading the channel failed: {error}") from None
        return None

    def _receive(self) -> tuple[Any, Decoder]:
        (size,) = Q.unpack(self._read_exact(8))
        if size < 0 or size > self.limits.message_bytes:
            raise ProtocolError(
                f"a message of {size} bytes, more than the limit of "
                f"{self.limits.message_bytes} bytes"
            )
        decoder = Decoder(self, self._read_exact(size), self.limits)
        try:
            message = decoder.value()
        except ProtocolError:
            raise
        except (struct.error, ValueError, TypeError, RuntimeError, RecursionError) as error:
            raise ProtocolError(f"a malformed message: {str(error)[:300]}") from None
        if decoder.at != len(decoder.data):
            raise ProtocolError("a message has trailing bytes")
        self.received_tensors.commit(decoder.kept_stores)
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

    def request(
        self,
        op: str,
        args: tuple[Any, ...],
        what: str | None = None,
        grad_enabled: bool | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send a request, serve the other end's requests meanwhile, return its answer.

        Args:
            op: the operation (``call``, ``getattr``, ... or a service of the other end).
            args: its arguments.
            what: what it does, for error messages (outermost requests only).
            grad_enabled: whether the call runs with autograd (the caller's mode when None).
            timeout: seconds for this request when outermost (:attr:`timeout` when None).
        """
        if self.closed is not None:
            raise self.gone(self.closed)
        grad = _IS_GRAD_ENABLED() if grad_enabled is None else grad_enabled
        request_id = next(self._ids)
        released = [self._released, self._dropped_graphs]
        self._released, self._dropped_graphs = [], []
        outer = self._depth == 0
        if outer:
            if what is not None:
                self.what = what
            limit = self.timeout if timeout is None else timeout
            self._deadline = None if limit is None else _MONOTONIC() + limit
            if self.deadline is not None:
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
        self, message: tuple[Any, ...], sent: Encoder, linked: list[torch.Tensor], grad: bool
    ) -> Any:
        if message[0] == "e" and len(message) == 6:
            _, _, type_name, bases, args, remote_tb = message
            if not isinstance(type_name, str) or not isinstance(args, tuple):
                raise ProtocolError("a malformed error answer")
            bases = [b for b in bases if isinstance(b, str)] if isinstance(bases, list) else []
            tb = remote_tb if isinstance(remote_tb, str) else ""
            raise rebuild_exception(type_name, bases, args, tb, self.error_classes)
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
        dummy = _EMPTY(0, requires_grad=True)
        outputs = Bridge.apply((self, graph, linked), dummy, *sent.linked)
        return replace_tensors(
            value, {id(old): new for old, new in zip(linked, outputs, strict=True)}
        )

    def _serve(self, message: tuple[Any, ...], received: Decoder) -> None:
        """Answer one request from the other end (errors become error answers)."""
        if len(message) != 6:
            raise ProtocolError("a malformed request")
        linked = received.linked
        _, request_id, op, grad, released, args = message
        if isinstance(released, list) and len(released) == 2:
            handles, graphs = released
            if isinstance(handles, list):
                self._release([h for h in handles if type(h) is int])
            if isinstance(graphs, list):
                for graph in graphs:
                    if type(graph) is int:
                        self._graphs.pop(graph, None)
        for tensor in linked:
            _TENSOR.requires_grad_(tensor, True)
        inputs = {id(t) for t in linked}
        try:
            with _SET_GRAD_ENABLED(bool(grad)):
                value = self._perform(op, args)
            encoder = Encoder(self, link=bool(grad), graph_inputs=inputs)
            encoder.value(value)
            graph = None
            if encoder.linked:
                graph = next(self._graph_ids)
                self._graphs[graph] = (linked, encoder.linked)
                while len(self._graphs) > MAX_GRAPHS:
                    self._graphs.popitem(last=False)
            head = Encoder(self, link=False)
            head.chunks.append(b"(" + I.pack(5))
            for item in ("r", request_id, graph):
                head.value(item)
            tail = Encoder(self, link=False)
            tail.value([g.get_state() for g in received.generators])
            data = b"".join(head.chunks + encoder.chunks + tail.chunks)
            self._write(Q.pack(len(data)) + data)
        except RemoteError as error:
            if isinstance(error, ChannelClosed | ChannelTimeout | ProtocolError):
                raise
            self._send_error(request_id, error)
        except Exception as error:
            self._send_error(request_id, error)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = _WRITE(self.write_fd, view)
            except (BlockingIOError, InterruptedError):
                self._wait(self.write_fd, writing=True)
                continue
            except BrokenPipeError:
                raise ChannelClosed("the other process closed the channel") from None
            view = view[written:]

    def _send_error(self, request_id: Any, error: BaseException) -> None:
        args = tuple(a for a in error.args if type(a) in (str, int, float, bool, type(None)))
        if len(args) != len(error.args) or isinstance(error, SyntaxError):
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
        target = self._exports.get(args[0]) if type(args[0]) is int else None
        if target is None:
            if type(args[0]) is int:
                raise StaleHandle(f"no object with handle {args[0]} (released, or never sent)")
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
        if op == "nextmany":
            if not isinstance(target, _Iterator):
                raise TypeError("nextmany on an object that is not an iteration")
            return target.many(rest[0])
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
        _BACKWARD([o for o, _ in pairs], [g for _, g in pairs])
        result = [t.grad for t in inputs]
        for tensor in inputs:
            tensor.grad = None
        return result
