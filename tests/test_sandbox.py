"""Crafted hostile submissions: each ends as a clear error in the grader, never worse.

Every case in ``tests/submissions/<case>/`` is a ``qkv.py`` that misbehaves in one way. The
grader must turn it into an exception for that call or that part, stay responsive, and keep
its own process, files and verdicts untouched.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from autograder.core.paths import ROOT
from autograder.core.runner import student_frame
from autograder.grader.channel.errors import StudentError
from autograder.grader.sandbox import (
    Limits,
    ModuleLoadError,
    Sandbox,
    SandboxError,
    WorkerDied,
    WorkerMemoryError,
    WorkerTimeout,
)
from tests import harness

SUBMISSIONS = Path(__file__).parent / "submissions"
LIMITS = Limits(wall_s=2.0, startup_s=60.0, cpu_s=30, memory_mb=1536)
ROOT_ONLY = pytest.mark.skipif(
    os.geteuid() != 0, reason="isolation by uid and namespace needs root"
)


def sandbox(case: str, **kwargs: object) -> Sandbox:
    """A sandbox of the crafted submission ``case`` with small limits."""
    return Sandbox(SUBMISSIONS / case, ["qkv"], limits=LIMITS, **kwargs)  # type: ignore[arg-type]


def attention_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.randn(2, 3, 4)
    return x, x.clone(), x.clone()


def _processes_of(uid: int) -> list[int]:
    """Processes of real uid ``uid`` (not zombies: those hold nothing and cannot be killed)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        state, uids = fields.get("State", "").split(), fields.get("Uid", "").split()
        if uids and int(uids[0]) == uid and state[:1] != ["Z"]:
            found.append(int(entry))
    return found


def test_a_failed_start_leaves_nothing_behind() -> None:
    box = Sandbox(SUBMISSIONS / "raises_custom", ["qkv"], limits=Limits(startup_s=1e-6))
    with pytest.raises(WorkerTimeout, match="start-up"):
        box.__enter__()
    assert not box.running and box.pid is None and box.scratch is None


def test_syntax_error_is_a_load_error() -> None:
    with sandbox("syntax_error") as box, pytest.raises(ModuleLoadError, match="SyntaxError"):
        box.module("qkv")


def test_import_error_is_a_load_error() -> None:
    with sandbox("import_error") as box:
        with pytest.raises(ModuleLoadError, match=r"ModuleNotFoundError.*attention_helpers") as e:
            box.module("qkv")
        cause = e.value.__cause__
        assert cause is not None and student_frame(cause, ()) == " (qkv.py, line 3, in <module>)"
        assert "worker.py" not in cause.remote_traceback
        assert box.running, "an exception at import leaves the worker usable"


def test_missing_function_is_an_attribute_error() -> None:
    with sandbox("missing_function") as box:
        qkv = box.module("qkv")
        with pytest.raises(AttributeError, match="scaled_dot_product_attention"):
            qkv.scaled_dot_product_attention  # noqa: B018 - the read is the test


def test_missing_module_is_a_load_error() -> None:
    with (
        Sandbox(
            SUBMISSIONS / "missing_function", ["masks"], limits=LIMITS, support_dir=None
        ) as box,
        pytest.raises(ModuleLoadError, match=r"has no masks\.py"),
    ):
        box.module("masks")


def test_student_exception_keeps_its_builtin_base_and_traceback() -> None:
    with sandbox("raises_custom") as box:
        qkv = box.module("qkv")
        with pytest.raises(ValueError, match=r"bad shapes \(2, 3, 4\)") as raised:
            qkv.scaled_dot_product_attention(*attention_inputs())
        assert isinstance(raised.value, StudentError)
        assert raised.value.type_name == "ShapeError"
        assert "qkv.py" in raised.value.remote_traceback
        assert "remote.py" not in raised.value.remote_traceback, "the channel's frames are cut"
        assert "Traceback" not in str(raised.value)
        where = student_frame(raised.value, ())
        assert where == " (qkv.py, line 9, in scaled_dot_product_attention)"


def test_infinite_loop_ignoring_signals_times_out_and_the_sandbox_restarts() -> None:
    with sandbox("loop_in_call") as box:
        qkv = box.module("qkv")
        start = time.monotonic()
        with pytest.raises(WorkerTimeout, match=r"wall-clock limit of 2 s.*scaled_dot_product"):
            qkv.scaled_dot_product_attention(*attention_inputs())
        assert time.monotonic() - start < 10
        with pytest.raises(WorkerDied):
            qkv.scaled_dot_product_attention(*attention_inputs())
        assert box.module("qkv") is not qkv, "a fresh worker serves the next check"


def test_infinite_loop_at_import_times_out() -> None:
    with sandbox("loop_at_import") as box, pytest.raises(WorkerTimeout, match="import of qkv"):
        box.module("qkv")


def test_huge_allocation_is_a_memory_error_and_the_worker_survives() -> None:
    with sandbox("huge_allocation") as box:
        qkv = box.module("qkv")
        with pytest.raises(WorkerMemoryError, match="ran out of memory"):
            qkv.scaled_dot_product_attention(*attention_inputs())
        with pytest.raises(WorkerMemoryError):
            qkv.python_hog()
        with pytest.raises(WorkerMemoryError):
            qkv.grow()
        assert box.running


def test_exit_at_import_is_reported_with_its_code() -> None:
    with sandbox("exit_at_import") as box:
        with pytest.raises(WorkerDied, match=r"exited with code 3 during the import of qkv\.py"):
            box.module("qkv")
        assert not box.running


def test_exit_in_a_call_is_reported_and_the_host_survives() -> None:
    with sandbox("exit_in_call") as box:
        qkv = box.module("qkv")
        with pytest.raises(WorkerDied, match=r"exited with code 5 during the call of qkv\.scaled"):
            qkv.scaled_dot_product_attention(*attention_inputs())


def test_fake_output_stays_in_the_workers_log(capfd: pytest.CaptureFixture[str]) -> None:
    with sandbox("fake_output") as box:
        qkv = box.module("qkv")
        output, _ = qkv.scaled_dot_product_attention(*attention_inputs())
        tail = box.output_tail()
    captured = capfd.readouterr()
    assert "42 passed" not in captured.out + captured.err
    assert "42 passed" in tail and "FAKE STDERR" in tail and '{"score": 100.0}' in tail
    assert float(harness.tensor(output, "output").abs().sum()) == 0.0


def test_monkeypatching_stays_in_the_worker() -> None:
    with sandbox("monkeypatch") as box:
        qkv = box.module("qkv")
        assert qkv.patched() is True, "the patch works inside the submission's process"
        query, key, value = attention_inputs()
        output, _ = qkv.scaled_dot_product_attention(query, key, value)
    assert torch.allclose(torch.zeros(1), torch.ones(1)) is False
    expected = torch.softmax(query @ key.transpose(-2, -1) / 2, -1) @ value
    with pytest.raises(harness.CheckFailure):
        harness.expect_close(output, expected, "the attention output")


@ROOT_ONLY
def test_grader_files_are_neither_readable_nor_writable(tmp_path: Path) -> None:
    results = tmp_path / "results" / "results.json"
    results.parent.mkdir()
    results.write_text('{"score": 0}')
    hidden_check = ROOT / "tests" / "hidden" / "part2_qkv.py"
    with sandbox("read_files", hide=[results.parent]) as box:
        assert box.unapplied == []
        qkv = box.module("qkv")
        reads = qkv.read_attempts([str(ROOT / "solutions" / "qkv.py"), str(hidden_check)])
        writes = qkv.write_attempts(
            [str(results), str(ROOT / "solutions" / "qkv.py"), "/var/tmp/x", "inside.txt"]
        )
        listing = qkv.listing()
        uid, cwd = qkv.identity()
        network = qkv.connect()
    assert all(value in ("FileNotFoundError", "PermissionError") for value in reads.values())
    assert (
        writes[str(results)] != "written"
        and writes[str(ROOT / "solutions" / "qkv.py")] != "written"
    )
    assert writes["inside.txt"] == "written", "the scratch directory is writable"
    assert not Path("/var/tmp/x").exists(), "shared folders are private to the sandbox"
    assert results.read_text() == '{"score": 0}'
    assert not any(path.endswith(("solutions", "tests", "rubric.toml")) for path in listing)
    assert uid not in (0, os.getuid())
    assert cwd.endswith("work")
    assert network != "connected"


def test_without_privileges_the_unapplied_protections_are_listed() -> None:
    with sandbox("read_files", isolate=False) as box:
        reasons = " | ".join(box.unapplied)
    assert "could not drop privileges" in reasons
    assert "can read" in reasons and "solutions" in reasons
    assert "outlive" in reasons


def test_printing_without_end_hits_the_file_size_limit() -> None:
    limits = Limits(wall_s=20.0, cpu_s=30, memory_mb=1536, file_mb=1)
    with Sandbox(SUBMISSIONS / "print_flood", ["qkv"], limits=limits) as box:
        qkv = box.module("qkv")
        with pytest.raises(SandboxError, match="file-size limit of 1 MiB"):
            qkv.scaled_dot_product_attention(*attention_inputs())
        assert len(box.output_tail()) == 4000
        assert box.running


@ROOT_ONLY
def test_a_fork_bomb_is_bounded_and_cleaned_up() -> None:
    limits = Limits(wall_s=20.0, cpu_s=30, memory_mb=1536, processes=40)
    with Sandbox(SUBMISSIONS / "fork_bomb", ["qkv"], limits=limits) as box:
        forked, uid = box.module("qkv").scaled_dot_product_attention(*attention_inputs())
        assert 0 < forked < 40
        assert len(_processes_of(uid)) > forked
    assert _processes_of(uid) == []


@ROOT_ONLY
def test_spawned_processes_do_not_outlive_the_sandbox() -> None:
    with sandbox("spawn_daemon") as box:
        pids = box.module("qkv").spawn()
        uid = box.uid
        assert uid is not None and len(_processes_of(uid)) > len(pids)
    assert _processes_of(uid) == [], "the daemons left the session but not the namespace"


def test_objects_that_run_code_when_unpickled_come_back_as_inert_proxies() -> None:
    marker = Path("/tmp/evil_pickle_ran")
    marker.unlink(missing_ok=True)
    with sandbox("evil_pickle") as box:
        qkv = box.module("qkv")
        output, _ = qkv.scaled_dot_product_attention(*attention_inputs())
        assert type(output).__name__ == "Evil"
        with pytest.raises(harness.CheckFailure, match="should be a tensor, got Evil"):
            harness.tensor(output, "the attention output")
        doubled = qkv.sneaky(torch.ones(2))
        assert type(doubled) is torch.Tensor and doubled.tolist() == [2.0, 2.0]
    assert not marker.exists()


def test_a_rewritten_runtime_only_forges_data_the_checks_reject() -> None:
    with sandbox("forge_answers") as box:
        qkv = box.module("qkv")
        forged = qkv.scaled_dot_product_attention
        assert forged["score"] == 100.0, "the forged answer arrives as plain data"
        with pytest.raises(TypeError, match="not callable"):
            forged(*attention_inputs())
        with pytest.raises(harness.CheckFailure, match="should return a pair"):
            harness.pair(forged, "scaled_dot_product_attention")
        assert box.running


def test_forged_bytes_on_the_channel_end_the_worker_not_the_grader() -> None:
    with sandbox("garbage_on_channel") as box:
        qkv = box.module("qkv")
        with pytest.raises(WorkerDied, match="cannot accept"):
            qkv.scaled_dot_product_attention(*attention_inputs())
        assert not box.running
