"""The channel to the worker: data, proxies, exceptions, autograd, resets and shims.

Most tests share one sandbox over a small probe submission (starting a worker takes a
second); the shim tests grade a student module against the reference of its dependency.
"""

from __future__ import annotations

import collections
import copy
import gc
import importlib.util
import os
import pickle
import statistics
import struct
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import solutions.multihead
import solutions.qkv
from autograder.core.paths import ROOT
from autograder.core.rubric import load_rubric
from autograder.core.runner import check_function, run_check
from autograder.grader.channel import kept
from autograder.grader.channel.decode import Limits as MessageLimits
from autograder.grader.channel.errors import (
    BoundedCache,
    ChannelClosed,
    ProtocolError,
    StaleHandle,
    StudentError,
    rebuild_exception,
)
from autograder.grader.channel.peer import Peer
from autograder.grader.channel.proxies import RemoteObject
from autograder.grader.channel.wire import Q
from autograder.grader.sandbox import Limits, Sandbox, WorkerDied, WorkerTimeout

PROBE = '''
"""Helpers the tests call in the worker."""

import collections
import random

import numpy as np
import torch
from torch import nn

Pair = collections.namedtuple("Pair", "first second")


def echo(value):
    return value


def grad_enabled():
    return torch.is_grad_enabled()


def save(state, path):
    torch.save(state, path)


def kept_graphs():
    import gc

    from autograder.grader.channel.peer import Peer

    return sum(p.graph_count for p in gc.get_objects() if isinstance(p, Peer))


def draws():
    return torch.rand(3), float(np.random.rand()), random.random()


def raise_builtin(kind, *args):
    raise {"KeyError": KeyError, "IndexError": IndexError, "ZeroDivisionError": ZeroDivisionError,
           "NotImplementedError": NotImplementedError}[kind](*args)


class Custom(Exception):
    pass


def raise_custom():
    raise Custom("a custom failure")


def weighted(x, y, unused):
    return (x * y).sum(-1), x.shape


def identity_with_grad(x):
    return x


def sample(probs, generator):
    return torch.multinomial(probs, 4, replacement=True, generator=generator)


def apply(function, x):
    return function(x)


def peek(function, name):
    try:
        return getattr(function, name)
    except Exception as error:
        return type(error).__name__


class Box:
    def __init__(self, items):
        self.items = list(items)
        self.label = "box"

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]

    def __contains__(self, item):
        return item in self.items

    def __iter__(self):
        return iter(self.items)

    def __repr__(self):
        return f"Box({self.items})"

    def total(self, start=0):
        return start + sum(self.items)


def counter(n):
    yield from range(n)


def big(n):
    return torch.zeros(n, dtype=torch.uint8)


def pair():
    return Pair(torch.ones(2), "two")


class Scale(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.arange(float(d)))

    def forward(self, x):
        return x * self.weight
'''

BLOCK = '''
"""A part that builds on multi-head attention (graded with the reference as a shim)."""

import inspect
import sys

import torch
from torch import nn

from . import multihead
from .multihead import MultiHeadAttention, split_heads


class Block(nn.Module):
    def __init__(self, d_model, heads, dropout=0.0):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, heads, dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x):
        return self.norm(x + self.attn(x, x, x))


def heads(x, h):
    return split_heads(x, h)


def shim_facts():
    facts = {"file": getattr(multihead, "__file__", None)}
    try:
        facts["source"] = inspect.getsource(MultiHeadAttention.__init__)
    except (OSError, TypeError) as error:
        facts["source"] = type(error).__name__
    facts["loaded"] = sorted(str(getattr(m, "__file__", "")) for m in list(sys.modules.values()))
    return facts


def attempts():
    """Try to reach the grader's internals through the shim's service; the errors' names."""
    cells = [c.cell_contents for c in split_heads.__closure__]
    service = next(c for c in cells if type(c).__name__ == "ShimService")
    tries = {
        "private": lambda: service._dependencies,
        "instances": lambda: service._instances,
        "os": lambda: service.call("os", "system", 0, ("true",), {}),
        "non-function": lambda: service.call("multihead", "torch", 0, (), {}),
        "instance": lambda: service.module_call(service, "", "forward", 0, {}, [], (), {}),
    }
    found = {}
    for name, attempt in tries.items():
        try:
            attempt()
            found[name] = "allowed"
        except Exception as error:
            found[name] = type(error).__name__
    return found
'''


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    folder = tmp_path_factory.mktemp("probe")
    (folder / "probe.py").write_text(PROBE)
    with Sandbox(folder, ["probe"], limits=Limits(wall_s=10, message_mb=1)) as sandbox:
        yield sandbox


@pytest.fixture
def probe(box: Sandbox) -> RemoteObject:
    box.reset()
    return box.module("probe")


# ------------------------------------------------------------------------------ data


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -(2**63),
        2**100,
        1.5,
        float("inf"),
        complex(1, -2),
        "héllo ✓",
        b"\x00bytes",
        (1, "two", (3.0,)),
        [1, [2, [3]]],
        {"a": 1, 2: [3], (4, 5): None},
        {1, 2},
        frozenset({"x"}),
        slice(1, None, 2),
        Ellipsis,
        torch.float16,
        torch.device("cpu"),
    ],
    ids=repr,
)
def test_plain_data_round_trips(probe: RemoteObject, value: object) -> None:
    result = probe.echo(value)
    assert type(result) is type(value) and result == value


def test_nan_round_trips(probe: RemoteObject) -> None:
    assert probe.echo(float("nan")) != probe.echo(float("nan"))


@pytest.mark.parametrize(
    "dtype",
    [
        torch.float32,
        torch.float64,
        torch.float16,
        torch.bfloat16,
        torch.complex64,
        torch.int64,
        torch.int8,
        torch.uint8,
        torch.bool,
    ],
)
def test_tensors_round_trip_in_every_dtype(probe: RemoteObject, dtype: torch.dtype) -> None:
    tensor = (torch.randn(3, 4) * 5).to(dtype)
    result = probe.echo(tensor)
    assert type(result) is torch.Tensor and result.dtype == dtype
    assert torch.equal(result, tensor)


def test_odd_tensors_round_trip(probe: RemoteObject) -> None:
    for tensor in (
        torch.tensor(3.5),
        torch.empty(0, 4),
        torch.randn(4, 5).t(),
        torch.randn(3)[::2],
        torch.ones(1, 1, 3).expand(2, 1, 3),
        torch.zeros(1).expand(4),
    ):
        result = probe.echo(tensor)
        assert result.shape == tensor.shape and torch.equal(result, tensor)
    assert probe.echo(torch.Size([2, 3])) == (2, 3)


def test_numpy_arrays_come_back_as_numpy(probe: RemoteObject) -> None:
    for array in (np.random.rand(3, 2), np.arange(6, dtype=np.int32), np.array([True, False])):
        result = probe.echo(array)
        assert type(result) is np.ndarray and result.dtype == array.dtype
        assert np.array_equal(result, array)
    assert probe.echo(np.float64(2.5)) == 2.5


def test_named_tuples_keep_their_fields(probe: RemoteObject) -> None:
    result = probe.pair()
    assert result.second == "two" and torch.equal(result.first, torch.ones(2))
    assert tuple(result)[1] == "two"


def test_message_size_is_capped(box: Sandbox) -> None:
    box.reset()
    with pytest.raises(WorkerDied, match="limit of 1048576 bytes"):
        box.module("probe").big(2 * 2**20)
    assert box.module("probe").echo(1) == 1, "the sandbox restarts for the next check"


# ------------------------------------------------------------------------------ proxies


def test_objects_stay_in_the_worker_behind_proxies(probe: RemoteObject) -> None:
    items = probe.Box([1, 2, 3])
    assert isinstance(items, RemoteObject) and type(items).__name__ == "Box"
    assert items.label == "box"
    assert len(items) == 3 and items[1] == 2 and items[-1] == 3
    assert 2 in items and 7 not in items
    assert list(items) == [1, 2, 3]
    assert items.total(start=10) == 16
    assert repr(items) == "Box([1, 2, 3])"
    assert list(probe.counter(4)) == [0, 1, 2, 3]
    assert probe.echo(items).label == "box", "a proxy sent back is the worker's own object"
    items.label = "renamed"
    assert items.label == "renamed"
    assert bool(items) and not bool(probe.Box([]))
    twin = copy.deepcopy(items)
    twin.items.append(4)
    del twin
    gc.collect()
    assert list(items) == [1, 2, 3], "a copy is another object, and dropping it keeps ours"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(items)


def test_reset_releases_objects_but_not_modules(box: Sandbox, probe: RemoteObject) -> None:
    items = probe.Box([1])
    box.reset()
    with pytest.raises(StaleHandle, match="reset"):
        len(items)
    assert probe.echo(2) == 2


def test_a_check_has_a_wall_clock_budget(tmp_path: Path) -> None:
    (tmp_path / "endless.py").write_text(
        "import itertools\n\ndef numbers():\n    return itertools.count()\n"
    )
    with Sandbox(tmp_path, ["endless"], limits=Limits(check_s=1.0)) as box:
        box.reset()
        start = time.monotonic()
        with pytest.raises(WorkerTimeout, match="check ran past its wall-clock limit of 1 s"):
            for _ in box.module("endless").numbers():
                pass
        assert time.monotonic() - start < 5
        box.reset()
        assert next(iter(box.module("endless").numbers())) == 0, "the next check starts afresh"


def test_reset_reseeds_every_generator(box: Sandbox, probe: RemoteObject) -> None:
    box.reset(seed=7)
    first = probe.draws()
    box.reset(seed=7)
    second = probe.draws()
    assert torch.equal(first[0], second[0]) and first[1:] == second[1:]


# ------------------------------------------------------------------------------ exceptions


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        ("KeyError", ("missing",)),
        ("IndexError", ("too far",)),
        ("ZeroDivisionError", ("zero",)),
        ("NotImplementedError", ("later",)),
    ],
)
def test_builtin_exceptions_keep_their_class(probe: RemoteObject, kind: str, args: tuple) -> None:
    with pytest.raises(Exception) as raised:
        probe.raise_builtin(kind, *args)
    assert type(raised.value).__name__ == kind and raised.value.args == args
    assert "raise_builtin" in raised.value.remote_traceback


def test_other_exceptions_are_student_errors(probe: RemoteObject) -> None:
    with pytest.raises(StudentError, match="a custom failure") as raised:
        probe.raise_custom()
    assert raised.value.type_name == "Custom"
    assert "Traceback" not in str(raised.value) and "raise_custom" in raised.value.remote_traceback


def test_exceptions_that_cannot_be_rebuilt_become_student_errors() -> None:
    error = rebuild_exception(
        "UnicodeDecodeError", ["UnicodeDecodeError"], ("odd",), "tb", BoundedCache()
    )
    assert isinstance(error, StudentError) and str(error) == "odd"
    assert error.remote_traceback == "tb"
    error = rebuild_exception("Weird name!", ["Weird", "LookupError"], ("x", 1), "", BoundedCache())
    assert isinstance(error, LookupError) and type(error).__name__ == "StudentError"


def test_missing_attribute_is_an_attribute_error(probe: RemoteObject) -> None:
    assert getattr(probe, "no_such_function", "default") == "default"


# ------------------------------------------------------------------------------ autograd


def test_grad_mode_travels_with_each_call(probe: RemoteObject) -> None:
    assert probe.grad_enabled() is True
    with torch.no_grad():
        assert probe.grad_enabled() is False


def test_gradients_flow_back_to_the_callers_tensors(probe: RemoteObject) -> None:
    x = torch.randn(2, 3, requires_grad=True)
    y = torch.randn(2, 3, requires_grad=True)
    unused = torch.randn(2, requires_grad=True)
    out, shape = probe.weighted(x, y, unused)
    assert shape == (2, 3) and out.requires_grad
    upstream = torch.randn(2)
    out.backward(upstream)
    assert torch.allclose(x.grad, upstream[:, None] * y) and torch.allclose(
        y.grad, upstream[:, None] * x
    )
    assert unused.grad is None
    with pytest.raises(RuntimeError, match="second time"):
        out.backward(upstream)


def test_graphs_are_dropped_when_their_results_are(box: Sandbox, probe: RemoteObject) -> None:
    x = torch.randn(2, 3, requires_grad=True)
    for _ in range(5):
        probe.weighted(x, x, x)
    kept = probe.echo(1) and box.module("probe").kept_graphs()
    assert kept <= 1, "only the graph of a result still alive on the grader's side is kept"


def test_returned_input_is_still_differentiable(probe: RemoteObject) -> None:
    x = torch.randn(3, requires_grad=True)
    probe.identity_with_grad(x).sum().backward()
    assert torch.equal(x.grad, torch.ones(3))


def test_parameter_gradients_accumulate_in_the_worker(probe: RemoteObject) -> None:
    layer = probe.Scale(3)
    x = torch.ones(2, 3)
    out = layer(x)
    assert out.requires_grad, "parameters in the worker make the output differentiable"
    out.sum().backward()
    layer(x).sum().backward()
    weight = layer.weight
    assert weight.requires_grad and torch.equal(weight.grad, torch.full((3,), 4.0))
    layer.zero_grad()
    assert layer.weight.grad is None
    with torch.no_grad():
        assert not layer(x).requires_grad


def test_module_methods_cost_one_round_trip(
    probe: RemoteObject, monkeypatch: pytest.MonkeyPatch
) -> None:
    scale = probe.Scale(3)
    sent: list[str] = []
    request = Peer.request

    def counted(self: Peer, op: str, *rest: object, **options: object) -> object:
        sent.append(op)
        return request(self, op, *rest, **options)

    monkeypatch.setattr(Peer, "request", counted)
    scale.eval()
    names = [name for name, _ in scale.named_parameters()]
    assert sent[0] == "callmethod" and sent.count("callmethod") == 2
    assert names == ["weight"]
    assert scale.training is False, "the call ran in the worker"
    with pytest.raises(AttributeError):
        scale.no_such_method()


def test_grader_callables_can_be_called_back_but_not_inspected(probe: RemoteObject) -> None:
    x = torch.ones(3, requires_grad=True)
    result = probe.apply(lambda t: t * 2, x)
    assert torch.equal(result, torch.full((3,), 2.0))
    result.sum().backward()
    assert torch.equal(x.grad, torch.full((3,), 2.0)), "gradients cross both ways"
    secret = torch.nn.Linear(2, 2)
    assert probe.peek(secret.forward, "__globals__") == "AttributeError"
    assert probe.peek(secret, "_parameters") == "PermissionError"
    assert probe.peek(torch.nn.Module, "forward") == "PermissionError"


def test_generators_travel_and_advance_like_local_ones(probe: RemoteObject) -> None:
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    remote, local = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(2):
        drawn = probe.sample(probs, remote)
        expected = torch.multinomial(probs, 4, replacement=True, generator=local)
        assert torch.equal(drawn, expected)
    assert torch.equal(remote.get_state(), local.get_state())


def test_round_trip_is_fast(probe: RemoteObject) -> None:
    echo = probe.echo
    x = torch.randn(4, 8)
    times = []
    for _ in range(200):
        start = time.perf_counter()
        echo(x)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.002


# ------------------------------------------------------------------------------ malformed input


def answer_with(data: bytes, limits: MessageLimits | None = None) -> Peer:
    """A peer whose next request reads ``data`` as the other end's answer.

    The peer reads and writes the same pipe: ``data`` is in it before the request, so it is
    what the peer reads first.
    """
    read, write = os.pipe()
    peer = Peer(read, write, restricted=True, limits=limits, timeout=5)
    os.write(write, data)
    return peer


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"?", "unknown tag"),
        (b"s" + struct.pack("<I", 99) + b"short", "ended early"),
        (b"t" + bytes((200, 0, 0)), "unknown dtype"),
        (
            b"t"
            + bytes((0, 0, 1))
            + Q.pack(4)
            + struct.pack("<I", 3)
            + b"cpu"
            + Q.pack(3)
            + b"abc",
            "bytes",
        ),
        ((b"(" + struct.pack("<I", 1)) * 200 + b"N", "nests"),
        (b"NN", "trailing"),
    ],
)
def test_malformed_messages_are_refused(body: bytes, problem: str) -> None:
    peer = answer_with(Q.pack(len(body)) + body)
    try:
        with pytest.raises(ProtocolError, match=problem):
            peer.request("echo", ())
    finally:
        peer.close()


def test_oversized_header_is_refused_before_reading() -> None:
    peer = answer_with(Q.pack(10**9), MessageLimits(message_bytes=100))
    try:
        with pytest.raises(ProtocolError, match="more than the limit"):
            peer.request("echo", ())
        with pytest.raises(ChannelClosed):
            peer.request("echo", ())
    finally:
        peer.close()


@pytest.mark.parametrize("nested", [False, True])
def test_a_message_cannot_hold_more_values_than_its_budget(nested: bool) -> None:
    """Empty lists cost 5 bytes on the wire and a hundred in memory: items are budgeted."""
    empty = b"[" + struct.pack("<I", 0)
    if nested:
        body = (b"[" + struct.pack("<I", 1)) * 5 + empty
    else:
        body = b"[" + struct.pack("<I", 5) + empty * 5
    peer = answer_with(Q.pack(len(body)) + body, MessageLimits(items=4))
    try:
        with pytest.raises(ProtocolError, match="more than"):
            peer.request("echo", ())
    finally:
        peer.close()


def test_kept_tensors_are_bounded_and_both_ends_agree_on_what_is_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kept, "MAX_SLOTS", 8)
    monkeypatch.setattr(kept, "MAX_BYTES", 1000)
    sent, received = kept.SentTensors(), kept.ReceivedTensors()
    tensors = [torch.full((25,), float(i)) for i in range(12)]  # 100 bytes each
    for tensor in tensors:
        slot = sent.plan(tensor)
        assert slot is not None
        sent.commit([(slot, tensor)])
        received.commit([(slot, tensor.clone())])
    held = [sent.holding(t) for t in tensors]
    assert held[:4] == [None] * 4, "the oldest are evicted beyond the slot limit"
    for tensor, slot in zip(tensors[4:], held[4:], strict=True):
        assert slot is not None and torch.equal(received.get(slot), tensor)
    with pytest.raises(ProtocolError, match="does not hold"):
        received.get(1)
    assert sent.plan(torch.zeros(251)) is None, "a tensor over the byte limit travels whole"
    tensors[-1].add_(1)
    assert sent.holding(tensors[-1]) is None, "a changed tensor is sent again"


def test_names_chosen_by_the_worker_make_a_bounded_number_of_classes() -> None:
    cache: BoundedCache[tuple[str, str], type] = BoundedCache(size=8)
    for number in range(100):
        rebuild_exception(f"Error{number}", ["ValueError"], ("x",), "", cache)
    assert len(cache.entries) == 8


# ------------------------------------------------------------------------------ shims


@pytest.fixture(scope="module")
def shimmed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    folder = tmp_path_factory.mktemp("blocks")
    (folder / "block.py").write_text(textwrap.dedent(BLOCK))
    (folder / "multihead.py").write_text("raise RuntimeError('the student version is not used')\n")
    dependencies = {"multihead": solutions.multihead}
    with Sandbox(folder, ["block"], dependencies=dependencies, limits=Limits(wall_s=20)) as box:
        yield box


def local_block(student: RemoteObject) -> torch.nn.Module:
    """The same block built locally from the reference, with the student's weights."""
    block = torch.nn.Module()
    block.attn = solutions.multihead.MultiHeadAttention(4, 2)
    block.norm = torch.nn.LayerNorm(4)
    block.load_state_dict(student.state_dict())
    return block


def test_shim_functions_run_the_reference(shimmed: Sandbox) -> None:
    shimmed.reset()
    block = shimmed.module("block")
    x = torch.randn(2, 3, 4, requires_grad=True)
    heads = block.heads(x, 2)
    assert torch.equal(heads, solutions.multihead.split_heads(x.detach(), 2))
    heads.pow(2).sum().backward()
    assert torch.allclose(x.grad, 2 * x.detach())


def test_shim_modules_have_real_parameters_and_remote_forward(shimmed: Sandbox) -> None:
    shimmed.reset()
    student = shimmed.module("block").Block(4, 2)
    names = list(student.state_dict())
    assert "attn.w_q.weight" in names and "attn.w_o.bias" in names and "norm.weight" in names
    reference = local_block(student)
    x = torch.randn(2, 3, 4)
    xs, xr = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    out = student(xs)
    expected = reference.norm(xr + reference.attn(xr, xr, xr))
    assert torch.allclose(out, expected, atol=1e-6)
    upstream = torch.randn(2, 3, 4)
    out.backward(upstream)
    expected.backward(upstream)
    assert torch.allclose(xs.grad, xr.grad, atol=1e-6)
    assert torch.allclose(student.attn.w_q.weight.grad, reference.attn.w_q.weight.grad, atol=1e-6)
    assert torch.allclose(student.norm.weight.grad, reference.norm.weight.grad, atol=1e-6)
    weights = student.attn.attention_weights
    assert weights.shape == (2, 2, 3, 3), "tensor attributes set in forward reach the shell"


def test_shim_modules_load_weights_and_honour_training(shimmed: Sandbox) -> None:
    shimmed.reset()
    student = shimmed.module("block").Block(4, 2, dropout=1.0)
    state = {k: torch.full_like(v, 0.1) for k, v in student.state_dict().items()}
    student.load_state_dict(state)
    assert torch.equal(student.attn.w_k.weight, torch.full((4, 4), 0.1))
    x = torch.randn(1, 3, 4)
    with torch.no_grad():
        student.train()
        training = student.attn(x, x, x)
        student.eval()
        evaluating = student.attn(x, x, x)
    assert torch.allclose(training, torch.full((1, 3, 4), 0.1)), "dropout 1 leaves the bias"
    assert not torch.allclose(evaluating, training)


def test_shells_with_extra_or_replaced_tensors_still_run_the_reference(shimmed: Sandbox) -> None:
    shimmed.reset()
    student = shimmed.module("block").Block(4, 2)
    x = torch.randn(2, 3, 4)
    with torch.no_grad():
        before = student(x)
        state = student.state_dict()
        state["attn.w_q.weight"] = 2 * state["attn.w_q.weight"]
        student.load_state_dict(state)
        doubled = student(x)
        reference = local_block(student)
        assert torch.allclose(doubled, reference.norm(x + reference.attn(x, x, x)), atol=1e-6)
        student.attn.extra = torch.nn.Parameter(torch.ones(1))
        assert torch.allclose(student(x), doubled, atol=1e-6), "an extra parameter is ignored"
    assert not torch.allclose(before, doubled), "a changed weight is used by the next call"
    student.attn.w_q.reset_parameters()
    assert torch.allclose(student(x), doubled, atol=1e-6), "a method changing the reference's "
    "tensors in place changes neither the shell nor the tensors the grader keeps for it"


def test_shim_inputs_are_bounded(shimmed: Sandbox) -> None:
    shimmed.reset()
    with pytest.raises(ValueError, match=f"at most {2**22} tensor elements"):
        shimmed.module("block").heads(torch.zeros(1, 2**11, 2**11 + 2), 2)


def test_shims_never_expose_the_reference(shimmed: Sandbox) -> None:
    shimmed.reset()
    block = shimmed.module("block")
    facts = block.shim_facts()
    assert facts["file"] is None
    assert "w_q" not in facts["source"], "only the shim's generic code, never the reference"
    assert not [path for path in facts["loaded"] if "solutions" in path]
    assert block.attempts() == {
        "private": "PermissionError",
        "instances": "PermissionError",
        "os": "PermissionError",
        "non-function": "AttributeError",
        "instance": "PermissionError",
    }


def test_worker_objects_reach_the_grader_only_as_data(probe: RemoteObject) -> None:
    assert isinstance(probe.echo(collections.OrderedDict(a=1)), dict)
    assert type(probe.echo(torch.nn.Parameter(torch.ones(2)))) is torch.Tensor


MODEL = '''
"""A reference part with a config dataclass and a model with tied weights and buffers."""

from dataclasses import dataclass

import torch
from torch import nn

PAD = 0


@dataclass
class Config:
    vocab: int = 5
    d: int = 4

    def __post_init__(self):
        if self.d <= 0:
            raise ValueError(f"d must be positive, got {self.d}")


class Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed = nn.Embedding(config.vocab, config.d)
        self.out = nn.Linear(config.d, config.vocab, bias=False)
        self.out.weight = self.embed.weight
        self.register_buffer("scale", torch.tensor(2.0))
        self.register_buffer("cache", torch.zeros(1), persistent=False)
        self.last = None

    def encode(self, tokens):
        self.last = self.embed(tokens) * self.scale
        return self.last

    def decode(self, hidden):
        return self.out(hidden)

    def forward(self, tokens):
        return self.decode(self.encode(tokens))
'''

USER = '''
"""A student part built on the model part."""

import torch

from .model import PAD, Config, Model


def build(d):
    return Model(Config(d=d))


def config_fields(d):
    config = Config(d=d)
    return config.vocab, config.d, PAD


def tied(model):
    return model.out.weight is model.embed.weight


def rename(model):
    model.extra = torch.nn.Parameter(torch.zeros(1))


def double_scale(model):
    model.scale.mul_(2)
'''


def test_shims_of_configs_and_models_with_methods(tmp_path: Path) -> None:
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "model.py").write_text(MODEL)
    spec = importlib.util.spec_from_file_location(
        "reference_model", tmp_path / "reference" / "model.py"
    )
    assert spec is not None and spec.loader is not None
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "user.py").write_text(USER)
    with Sandbox(tmp_path / "student", ["user"], dependencies={"model": reference}) as box:
        user = box.module("user")
        assert user.config_fields(6) == (5, 6, 0)
        with pytest.raises(ValueError, match="d must be positive"):
            user.config_fields(0)
        model = user.build(4)
        assert user.tied(model) is True
        assert sorted(model.state_dict()) == ["embed.weight", "out.weight", "scale"]
        tokens = torch.tensor([[1, 2, 3]])
        hidden = model.encode(tokens)
        assert torch.equal(hidden, model.embed.weight[tokens] * 2)
        assert torch.equal(model.last, hidden), "attributes set by a method reach the shell"
        logits = model(tokens)
        assert logits.shape == (1, 3, 5)
        logits.sum().backward()
        local = reference.Model(reference.Config(d=4))
        local.load_state_dict(model.state_dict())
        local(tokens).sum().backward()
        assert torch.allclose(model.embed.weight.grad, local.embed.weight.grad)
        # Calls again, with kept tensors, and after the submission changes the shell's tensors.
        assert torch.equal(model.encode(tokens), hidden)
        user.rename(model)
        assert torch.equal(model.encode(tokens), hidden)
        user.double_scale(model)
        assert torch.equal(model.encode(tokens), hidden * 2)


@pytest.mark.parametrize(("impl", "passes"), [("solutions", True), ("assignments", False)])
def test_real_checks_work_through_the_sandbox(impl: str, passes: bool) -> None:
    """Part 3's graded checks, run on proxies with part 2 as a shim, give the local verdicts."""
    rubric = load_rubric()
    part = rubric.part_of_module("multihead")
    dependencies = {"qkv": solutions.qkv}
    with Sandbox(ROOT / impl, ["multihead"], dependencies=dependencies) as box:
        multihead = box.module("multihead")
        for check in rubric.checks_of(part.number):
            box.reset()
            torch.manual_seed(0)
            verdict = run_check(check_function(check, rubric), {"multihead": multihead})
            assert verdict.passed == passes, f"{check.id}: {verdict.message}"


def test_the_scratch_folder_is_shared_with_the_grader(box: Sandbox, probe: RemoteObject) -> None:
    assert box.scratch is not None and box.worker_scratch is not None
    probe.save({"weight": torch.arange(3.0)}, str(box.worker_scratch / "checkpoint.pt"))
    saved = torch.load(box.scratch / "checkpoint.pt", weights_only=True)
    assert torch.equal(saved["weight"], torch.arange(3.0))


def test_readable_folders_are_shared_read_only(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("reader")
    (folder / "reader.py").write_text(
        "def read(path):\n    with open(path) as handle:\n        return handle.read(20)\n"
    )
    datasets = ROOT / "datasets"
    sample = next(p for p in sorted(datasets.iterdir()) if p.is_file())
    with Sandbox(folder, ["reader"], readable=[datasets]) as box:
        reader = box.module("reader")
        assert reader.read(str(sample)) == sample.read_text()[:20]
        if os.geteuid() == 0:
            with pytest.raises(FileNotFoundError):
                reader.read(str(ROOT / "rubric.toml"))


def test_tensors_of_one_element_with_any_stride_travel(probe: RemoteObject) -> None:
    for tensor in (torch.tensor(1.5).expand(1), torch.tensor(2.0).expand(1, 1)):
        assert tensor.stride()[-1] == 0, "a stride that no byte view accepts"
        assert torch.equal(probe.echo(tensor), tensor)
