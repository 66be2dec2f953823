"""What makes a call into the reference cheap stays exact: the shell's walk, its tensors sent
as one group of kept slots, and the channel's polling before it sleeps."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from autograder.grader import limits
from autograder.grader.channel import kept
from autograder.grader.channel.errors import ChannelTimeout, ProtocolError
from autograder.grader.channel.peer import Peer
from autograder.grader.channel.shells import _walk
from autograder.grader.channel.shims import public_methods
from autograder.grader.channel.wire import Q

# ------------------------------------------------------------------------------ the walk


@st.composite
def module_trees(draw: st.DrawFn) -> nn.Module:
    """Trees with what torch's walks treat specially: shared submodules and tensors, None
    entries, a tensor registered as a parameter and as a buffer, non-persistent buffers."""
    modules = [nn.Module() for _ in range(draw(st.integers(1, 6)))]
    tensors = [torch.randn(2) for _ in range(3)]
    for index, module in enumerate(modules):
        module.train(draw(st.booleans()))
        for n in range(draw(st.integers(0, 3))):
            choice = draw(st.integers(0, 4))
            if choice == 0:
                module.register_parameter(f"p{n}", None)
            elif choice == 1:
                module.register_parameter(f"p{n}", nn.Parameter(torch.randn(2)))
            elif choice == 2 and index:
                # Tied: the first module's parameter again, under another name.
                first = next(iter(modules[0]._parameters.values()), None)
                if first is not None:
                    module.register_parameter(f"p{n}", first)
            elif choice == 3:
                tensor = draw(st.sampled_from(tensors))
                module.register_buffer(f"b{n}", tensor, persistent=draw(st.booleans()))
            else:
                module.register_buffer(f"b{n}", None)
        for child in range(draw(st.integers(0, 2))):
            target = draw(st.integers(0, len(modules) - 1))
            if target > index:  # a tree (shared nodes allowed), never a cycle
                module.add_module(f"m{child}", modules[target])
            elif draw(st.booleans()):
                module.add_module(f"m{child}", None)
    return modules[0]


@given(module_trees())
@settings(max_examples=300, deadline=None)
def test_the_walk_lists_what_torchs_walks_list(root: nn.Module) -> None:
    names, tensors, training = _walk(root)
    expected = [*root.named_parameters(), *root.named_buffers()]
    assert names == tuple(name for name, _ in expected)
    assert all(a is b for a, (_, b) in zip(tensors, expected, strict=True))
    assert training == "".join("1" if m.training else "0" for m in root.modules())


# ------------------------------------------------------------------------------ kept groups


def sent_group(tensors: list[torch.Tensor]) -> kept.SentTensors:
    """A sender that has sent ``tensors`` once as a group (the receiver keeps them all)."""
    sent = kept.SentTensors()
    stores = []
    for tensor in tensors:
        slot = sent.plan(tensor)
        assert slot is not None
        stores.append((slot, tensor))
    sent.commit(stores)
    sent.remember_group(tensors)
    return sent


def layer_tensors() -> list[torch.Tensor]:
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    return [p for p in layer.parameters()]


def test_an_unchanged_group_travels_as_its_slots() -> None:
    tensors = layer_tensors()
    sent = sent_group(tensors)
    slots = sent.holding_group(tensors)
    assert slots == [sent.holding(t) for t in tensors]
    assert len(set(slots)) == len(tensors)


@pytest.mark.parametrize(
    "change",
    [
        "data_in_place",  # through .data: no version counter notices
        "sign_of_zero",  # equal as numbers, not as bits
        "data_reshaped",  # the same bits in another shape
        "replaced",
        "requires_grad",
        "evicted",
        "order",
    ],
)
def test_any_change_to_a_group_sends_it_again(change: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tensors = layer_tensors()
    tensors[0].data.zero_()
    sent = sent_group(tensors)
    if change == "data_in_place":
        tensors[3].data.add_(1)
    elif change == "sign_of_zero":
        tensors[0].data.neg_()
    elif change == "data_reshaped":
        tensors[0].data = tensors[0].data.reshape(-1)
    elif change == "replaced":
        tensors[2] = nn.Parameter(tensors[2].detach().clone())
    elif change == "requires_grad":
        tensors[1].requires_grad_(False)
    elif change == "evicted":
        monkeypatch.setattr(kept, "MAX_SLOTS", len(tensors) + 1)
        extra = [torch.zeros(1), torch.zeros(1)]
        sent.commit([(sent.plan(t), t) for t in extra])  # type: ignore[misc]
    elif change == "order":
        tensors[0], tensors[1] = tensors[1], tensors[0]
    assert sent.holding_group(tensors) is None


@pytest.mark.parametrize("kind", ["twice", "mixed_dtypes", "empty"])
def test_groups_that_cannot_be_compared_at_once_are_never_remembered(kind: str) -> None:
    a, b = torch.randn(3), torch.randn(3)
    tensors = {"twice": [a, b, a], "mixed_dtypes": [a, b.double()], "empty": []}[kind]
    sent = sent_group(tensors)
    assert sent.holding_group(tensors) is None


def test_a_shell_whose_weights_change_through_data_is_sent_again(tmp_path: Path) -> None:
    from autograder.grader.sandbox import Sandbox
    from solutions import layers

    (tmp_path / "user.py").write_text(
        "import torch\n"
        "from .layers import LayerNorm\n"
        "def run(norm, x, scale):\n"
        "    first = norm(x)\n"
        "    norm.weight.data.mul_(scale)\n"  # no version bump: only the bits say it changed
        "    return first, norm(x)\n"
    )
    with Sandbox(tmp_path, ["user"], dependencies={"layers": layers}) as box:
        user = box.module("user")
        norm = user.LayerNorm(4)
        x = torch.randn(2, 4)
        first, second = user.run(norm, x, 3.0)
        reference = layers.LayerNorm(4)
        assert torch.allclose(first, reference(x), atol=1e-6)
        assert torch.allclose(second, 3.0 * reference(x) - 2.0 * reference.bias, atol=1e-6)


# ------------------------------------------------------------------------------ polling


TRICKLE = """
import os, struct, sys, time
fd = int(sys.argv[1])
os.write(fd, struct.pack("<q", 10**6))
end = time.monotonic() + 20
while time.monotonic() < end:  # a byte every 0.1 ms: always within the polling window
    os.write(fd, b"(")
    pause = time.perf_counter() + 0.0001
    while time.perf_counter() < pause:
        pass
"""


def test_polling_still_keeps_the_deadline_when_bytes_trickle_in() -> None:
    """A worker that sends its answer a byte at a time cannot keep the grader reading."""
    grader_reads, worker_writes = os.pipe()
    worker_reads, grader_writes = os.pipe()
    # A long polling window: without the deadline in it, the poll would never give up.
    peer = Peer(grader_reads, grader_writes, restricted=True, timeout=0.5, spin_s=1.0)
    worker = subprocess.Popen(
        [sys.executable, "-c", TRICKLE, str(worker_writes)], pass_fds=(worker_writes,)
    )
    os.close(worker_writes)
    start = time.monotonic()
    try:
        with pytest.raises(ChannelTimeout):
            peer.request("echo", ())
        assert time.monotonic() - start < 5
    finally:
        worker.kill()
        worker.wait()
        peer.close()
        os.close(worker_reads)


@pytest.mark.parametrize("spin", [0.0, 0.002])
def test_a_polling_peer_reads_answers_like_a_sleeping_one(spin: float) -> None:
    answers_read, answers_write = os.pipe()
    requests_read, requests_write = os.pipe()
    peer = Peer(answers_read, requests_write, restricted=False, spin_s=spin, timeout=5)
    # The answer to request 1: ("r", 1, no graph, "ok", no generators), written a little
    # after the request, while the peer polls (or sleeps).
    body = b"(" + struct.pack("<I", 5) + b"s" + struct.pack("<I", 1) + b"r"
    body += b"i" + Q.pack(1) + b"N" + b"s" + struct.pack("<I", 2) + b"ok"
    body += b"[" + struct.pack("<I", 0)
    answer = threading.Timer(0.001, os.write, (answers_write, Q.pack(len(body)) + body))
    try:
        answer.start()
        assert peer.request("echo", ()) == "ok"
    finally:
        answer.join()
        peer.close()
        for fd in (answers_write, requests_read):
            os.close(fd)


@pytest.mark.parametrize(
    ("cpus", "graders", "spins"),
    [(1.0, 1, False), (0.5, 1, False), (2.0, 1, True), (4.0, 3, False)],
)
def test_the_ends_poll_only_where_each_has_a_core(
    cpus: float, graders: int, spins: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "usable_cpus", lambda: cpus)
    assert (limits.default_spin_s(graders) > 0) == spins


def test_a_cgroup_quota_caps_the_usable_cpus(tmp_path: Path) -> None:
    cpus = len(os.sched_getaffinity(0))
    membership = tmp_path / "membership"
    membership.write_text("0::/\n")
    root = tmp_path / "cgroup"
    root.mkdir()
    assert limits.usable_cpus(root, membership) == cpus
    (root / "cpu.max").write_text("max 100000\n")
    assert limits.usable_cpus(root, membership) == cpus
    (root / "cpu.max").write_text("50000 100000\n")
    assert limits.usable_cpus(root, membership) == 0.5
    # The process's own cgroup, and the smallest quota of it and those above it.
    (root / "cpu.max").unlink()
    (root / "grader" / "job").mkdir(parents=True)
    (root / "grader" / "job" / "cpu.max").write_text("150000 100000\n")
    membership.write_text("0::/grader/job\n")
    assert limits.usable_cpus(root, membership) == min(cpus, 1.5)
    (root / "grader" / "cpu.max").write_text("25000 100000\n")
    assert limits.usable_cpus(root, membership) == 0.25
    # cgroup v1: the cpu controller's folder.
    membership.write_text("4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    (root / "grader" / "cpu.max").unlink()
    (root / "grader" / "job" / "cpu.max").unlink()
    v1 = root / "cpu" / "docker" / "abc"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert limits.usable_cpus(root, membership) == 0.5


# ------------------------------------------------------------------------------ the zygote


def test_the_zygote_starts_at_once_and_is_waited_for_when_first_used() -> None:
    """``python -m autograder grade`` starts it before its own imports (they overlap)."""
    from autograder.grader import spawner

    started = spawner.start()
    assert spawner.start() is started, "one zygote per grader"
    ready = spawner.zygote()
    assert ready is started and ready.ready and ready.alive
    main = (Path(__file__).parents[1] / "autograder" / "__main__.py").read_text()
    assert main.index("spawner.start()") < main.index("from autograder.apps import")


# ------------------------------------------------------------------------------ runs of tensors


ECHO = "def echo(value):\n    return value\n"


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from autograder.grader.sandbox import Sandbox

    folder = tmp_path_factory.mktemp("echo")
    (folder / "echo.py").write_text(ECHO)
    with Sandbox(folder, ["echo"]) as box:
        yield box.module("echo").echo


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down, and tensors of the same dtype and bits."""
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@st.composite
def tensor_collections(draw: st.DrawFn) -> Any:
    """Lists, tuples and dicts of tensors: runs (one dtype, plain) and what is not a run
    (mixed dtypes, an empty tensor, a non-contiguous one, one that needs gradients)."""
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool]))
    count = draw(st.integers(1, 5))
    tensors = []
    for _ in range(count):
        shape = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
        tensor = (torch.randn(shape) * 10).to(dtype)
        if draw(st.booleans()) and tensor.dim() >= 2:
            tensor = tensor.transpose(0, 1)  # not contiguous
        tensors.append(tensor)
    odd = draw(st.sampled_from(["none", "mixed", "empty", "grad"]))
    if odd == "mixed":
        tensors.append(torch.ones(2, dtype=torch.int32))
    elif odd == "empty":
        tensors.append(torch.empty(0, dtype=dtype))
    elif odd == "grad":
        tensors.append(torch.ones(2, requires_grad=True))
    kind = draw(st.sampled_from(["list", "tuple", "dict"]))
    if kind == "dict":
        return {f"layer.{i}.weight": t for i, t in enumerate(tensors)}
    return tensors if kind == "list" else tuple(tensors)


@given(value=tensor_collections())
@settings(max_examples=60, deadline=None)
def test_runs_of_tensors_round_trip(echo: Any, value: Any) -> None:
    result = echo(value)
    expected = value
    if isinstance(value, dict):
        expected = {k: v.detach() for k, v in value.items()}
    elif isinstance(value, list | tuple):
        expected = type(value)(v.detach() for v in value)
    assert same(result, expected)
    if isinstance(result, list | tuple) and len(result) > 1:
        # Each a copy of its own: views of one storage would share one version counter.
        assert result[0].untyped_storage().data_ptr() != result[1].untyped_storage().data_ptr()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        # A run whose shapes claim more bytes than it holds.
        (
            b"u\x00"
            + bytes((0,))
            + struct.pack("<I", 2)
            + b"\x01"
            + Q.pack(3)
            + b"\x00"
            + Q.pack(12)
            + bytes(12),
            "bytes",
        ),
        # More tensors than a message may hold values.
        (b"u\x00" + bytes((0,)) + struct.pack("<I", 10**6), "more than"),
        (b"u\x00" + bytes((99,)), "unknown dtype"),
        # A state dict with a key twice.
        (
            b"y"
            + struct.pack("<I", 2)
            + (struct.pack("<I", 1) + b"w") * 2
            + bytes((0,))
            + struct.pack("<I", 2)
            + (b"\x01" + Q.pack(1)) * 2
            + Q.pack(8)
            + bytes(8),
            "keys",
        ),
        (
            b"u\x00" + bytes((0,)) + struct.pack("<I", 1) + b"\x01" + Q.pack(-1) + Q.pack(0),
            "negative",
        ),
    ],
)
def test_malformed_runs_are_refused(body: bytes, problem: str) -> None:
    read, write = os.pipe()
    peer = Peer(read, write, restricted=True, timeout=5)
    os.write(write, Q.pack(len(body)) + body)
    try:
        with pytest.raises(ProtocolError, match=problem):
            peer.request("echo", ())
    finally:
        peer.close()


# ------------------------------------------------------------------------------ pure forwards


def _forwards() -> dict[str, Any]:
    """Every ``nn.Module`` of the reference, built small, and a call of its forward (and of
    every other public method it has)."""
    from solutions import layers, model, multihead, positional, qkv

    x, memory = torch.randn(2, 5, 8), torch.randn(2, 4, 8)
    src, tgt = torch.randint(1, 11, (2, 4)), torch.randint(1, 11, (2, 5))
    config = model.TransformerConfig(11, 11, d_model=8, num_heads=2, d_ff=16, dropout=0.2)
    feed = layers.FeedForward(8, 16, 0.2)
    return {
        "SelfAttention": (qkv.SelfAttention(8), (x,)),
        "MultiHeadAttention": (multihead.MultiHeadAttention(8, 2, 0.2), (x, memory, memory)),
        "PositionalEncoding": (positional.PositionalEncoding(8, 16, 0.2), (x,)),
        "LearnedPositionalEmbedding": (positional.LearnedPositionalEmbedding(8, 16, 0.2), (x,)),
        "RelativePositionBias": (positional.RelativePositionBias(2, 3), (5, 4)),
        "LayerNorm": (layers.LayerNorm(8), (x,)),
        "FeedForward": (feed, (x,)),
        "SublayerConnection": (layers.SublayerConnection(8, 0.2), (x, feed)),
        "EncoderLayer": (layers.EncoderLayer(8, 2, 16, 0.2), (x,)),
        "DecoderLayer": (layers.DecoderLayer(8, 2, 16, 0.2), (x, memory)),
        "Embeddings": (model.Embeddings(11, config), (src,)),
        "Encoder": (model.Encoder(config), (src,)),
        "Decoder": (model.Decoder(config), (tgt, memory)),
        "Transformer": (model.Transformer(config), (src, tgt)),
        "Transformer.encode": (model.Transformer(config).encode, (src,)),
        "Transformer.decode": (model.Transformer(config).decode, (tgt, memory)),
    }


def _class_named(name: str) -> type:
    from solutions import layers, model, multihead, positional, qkv

    for module in (qkv, multihead, positional, layers, model):
        if name in vars(module):
            return vars(module)[name]
    raise KeyError(name)


def test_no_reference_forward_changes_its_tensors() -> None:
    """What lets the grader run a shell's forward (and the reference's own methods) on the
    kept tensors themselves (shims._Layout.pure)."""
    import inspect

    from solutions import layers, model, multihead, positional, qkv

    forwards = _forwards()
    classes = {
        name
        for module in (qkv, multihead, positional, layers, model)
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, nn.Module)
        and value.__module__ == module.__name__
    }
    methods = {
        f"{name}.{method}"
        for name in classes
        for method in public_methods(_class_named(name))
        if method != "forward"
    }
    assert set(forwards) == classes | methods, "every reference module and method is called"
    for name, (call, args) in forwards.items():
        module = getattr(call, "__self__", call)
        tensors = [*module.parameters(), *module.buffers()]
        before = [(t._version, t.detach().clone()) for t in tensors]
        for training in (True, False):
            module.train(training)
            call(*args)
            call(*args)
        for tensor, (version, bits) in zip(tensors, before, strict=True):
            assert tensor._version == version and torch.equal(tensor, bits), name


MUTATING = """
import torch
from torch import nn


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(2))

    def forward(self, x):
        with torch.no_grad():
            self.weight.add_(1)
        return x + self.weight
"""


def test_a_forward_that_changes_its_tensors_is_an_error_not_a_silent_change(
    tmp_path: Path,
) -> None:
    import importlib.util

    from autograder.grader.sandbox import Sandbox

    source = tmp_path / "reference" / "counting.py"
    source.parent.mkdir()
    source.write_text(MUTATING)
    spec = importlib.util.spec_from_file_location("counting", source)
    assert spec is not None and spec.loader is not None
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "user.py").write_text(
        "from .counting import Counter\ndef run(x):\n    return Counter()(x)\n"
    )
    box = Sandbox(tmp_path / "student", ["user"], dependencies={"counting": reference})
    with box, pytest.raises(RuntimeError, match="changed its tensors in place"):
        box.module("user").run(torch.zeros(2))
