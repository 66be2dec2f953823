"""Run a student's modules in a separate, limited process and use them through proxies.

>>> with Sandbox("submission/", ["multihead"], dependencies={"qkv": solutions.qkv}) as box:
...     multihead = box.module("multihead")          # a proxy of the student's module
...     layer = multihead.MultiHeadAttention(8, 2)   # lives in the worker
...     out = layer(x, x, x); out.sum().backward()   # gradients come back
...     box.reset()                                   # between checks

The worker (:mod:`autograder.grader.worker`) is forked by the zygote, gets a copy of the
submission's files in a limited scratch tmpfs, and shuts itself in (namespaces, an
unprivileged uid, resource limits) before it imports anything of the student's. Each request
has a wall-clock limit. Whatever the submission does, the grader gets an exception
(:class:`WorkerDied`, :class:`WorkerTimeout`, :class:`WorkerMemoryError`,
:class:`ModuleLoadError`, or the exception the student's code raised) and stays usable.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
import types
from dataclasses import asdict
from pathlib import Path
from typing import Any

from autograder.core.paths import ASSIGNMENTS, ROOT
from autograder.core.runner import GraderError
from autograder.grader import spawner
from autograder.grader.channel.decode import Limits as MessageLimits
from autograder.grader.channel.errors import ChannelClosed, ChannelTimeout, ProtocolError
from autograder.grader.channel.peer import Peer
from autograder.grader.channel.proxies import RemoteObject
from autograder.grader.channel.shims import ShimService
from autograder.grader.limits import Limits
from autograder.grader.worker.isolation import Plan
from autograder.grader.worker.serve import PACKAGE

SHARED_WRITABLE = (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm", "/run/lock")
"""World-writable folders: covered with empty ones, so no submission leaves files for another."""
SYSTEM_DIRS = frozenset(
    {"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "opt"}
    | {"proc", "run", "sbin", "sys", "usr", "var"}
)
"""Top-level folders a worker may see. Every other one (/home, /root, /work, /srv, /mnt, ...)
is covered: another copy of the course elsewhere on the machine must stay out of reach too."""

__all__ = [
    "Limits",
    "ModuleLoadError",
    "Sandbox",
    "SandboxError",
    "WorkerDied",
    "WorkerMemoryError",
    "WorkerTimeout",
]


class SandboxError(GraderError):
    """The submission's process failed as a whole (not an exception of the student's code)."""


class WorkerDied(SandboxError):
    """The submission's process exited or crashed."""


class WorkerTimeout(SandboxError):
    """The submission did not answer within the wall-clock limit; its process was stopped."""


class WorkerMemoryError(SandboxError):
    """The submission ran out of the memory it is allowed."""


class ModuleLoadError(SandboxError):
    """A module of the submission is missing or does not import."""


def _module_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.glob("*.py")
        if p.is_file() and p.stem.isidentifier() and not p.stem.startswith("__")
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _other_top_level_dirs() -> list[str]:
    """The top-level folders that are not system folders (they may hold anyone's files)."""
    try:
        names = os.listdir("/")
    except OSError:
        return []
    return [f"/{name}" for name in names if name not in SYSTEM_DIRS and os.path.isdir(f"/{name}")]


def _memory_cgroup() -> Path | None:
    """The memory cgroup of this process, if this process may make child groups in it."""
    try:
        with open("/proc/self/cgroup", encoding="ascii") as groups:
            lines = groups.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
        elif controllers == "" and "memory" in _read("/sys/fs/cgroup/cgroup.controllers"):
            folder = Path("/sys/fs/cgroup") / path.lstrip("/")
        else:
            continue
        if folder.is_dir() and os.access(folder, os.W_OK):
            return folder
    return None


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rpartition(")")[2].split()[:1] != ["Z"]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


class Sandbox:
    """A worker process holding one submission's modules; use it as a context manager.

    Args:
        submission_dir: the folder of the student's module files (they are copied).
        module_names: the modules this sandbox grades: ``.module(name)`` imports them and
            refuses other names (all names when empty).
        dependencies: module name -> the grader's module to use instead of the student's
            (earlier parts graded on their own); calls into them run in the grader.
        limits: resource limits (:class:`Limits`).
        support_dir: where modules the submission lacks come from (the stubs in
            ``assignments/``, which hold the shared ``_validate.py``).
        hide: further folders the submission must not see (the results file's folder).
        readable: folders inside hidden ones that the submission may read (``datasets/``).
        probes: paths whose readability is checked from inside; readable ones are reported
            in :attr:`unapplied`. Defaults to ``solutions/`` and ``tests/hidden/``; the
            ``hide`` folders are always probed.
        seed: the seed of the worker's random generators (and of :meth:`reset`).
        isolate: use namespaces and an unprivileged uid where the grader is root.
    """

    def __init__(
        self,
        submission_dir: str | Path,
        module_names: list[str] | tuple[str, ...] = (),
        dependencies: dict[str, types.ModuleType] | None = None,
        limits: Limits | None = None,
        support_dir: str | Path | None = ASSIGNMENTS,
        hide: list[str | Path] | tuple[str | Path, ...] = (),
        readable: list[str | Path] | tuple[str | Path, ...] = (),
        probes: list[str | Path] | None = None,
        seed: int = 0,
        isolate: bool = True,
    ) -> None:
        self.submission_dir = Path(submission_dir)
        self.module_names = list(module_names)
        self.dependencies = dict(dependencies or {})
        self.limits = limits or Limits()
        self.support_dir = Path(support_dir) if support_dir else None
        self.hide = [str(Path(p).resolve()) for p in hide]
        self.readable = [str(Path(p).resolve()) for p in readable]
        default_probes = [ROOT / "solutions", ROOT / "tests" / "hidden"]
        self.probes = [str(p) for p in (probes if probes is not None else default_probes)]
        self.probes += [p for p in self.hide if p not in self.probes]
        self.seed = seed
        self.isolate = isolate
        self.unapplied: list[str] = []
        """Protections that could not be applied (empty when fully isolated)."""
        self.uid: int | None = None
        self.pid: int | None = None
        self.exit_status: int | None = None
        self._init_pid: int | None = None
        self._allowed = self.limits.check_s
        self._base: Path | None = None
        self._cgroup: Path | None = None
        self._peer: Peer | None = None
        self._modules: dict[str, RemoteObject] = {}
        self._tail = ""

    # -- life cycle ------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        """Whether the worker process is up and its channel usable."""
        return (
            self.pid is not None
            and self.exit_status is None
            and self._peer is not None
            and self._peer.closed is None
        )

    @property
    def worker_scratch(self) -> Path | None:
        """The worker's scratch folder as the worker sees it (its working folder and HOME)."""
        return None if self._base is None else self._base / "work"

    @property
    def scratch(self) -> Path | None:
        """The worker's scratch folder, as the grader can reach it (None when stopped).

        The one place where the submission and the grader can exchange files: a check that
        has the student's code save a checkpoint gives it a path in here.
        """
        if self._base is None or self.pid is None:
            return None
        inside = self._base / "work"
        if self.uid is None:
            return inside
        # The scratch tmpfs exists in the worker's mount namespace: reach it through the
        # namespace's first process (the child of the worker's process).
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            return None
        return Path(f"/proc/{children[0]}/root") / inside.relative_to("/") if children else None

    def start(self) -> None:
        """Start the worker (``module()`` does this when needed).

        Raises:
            WorkerDied, WorkerTimeout: the worker could not start; the sandbox is closed (and
                :meth:`output_tail` says what it printed).
        """
        if self.running:
            return
        self.close()
        try:
            self._base = Path(tempfile.mkdtemp(prefix="autograder-"))
            self._stage(self._base)
            self._spawn(self._base)
            self._setup()
        except BaseException:
            self.close()
            raise

    def _stage(self, base: Path) -> None:
        """The files the worker copies into its scratch folder: the submission's package."""
        package = base / "staging" / PACKAGE
        package.mkdir(parents=True)
        (package / "__init__.py").write_text('"""The submission\'s modules."""\n')
        copied = set()
        for path in _module_files(self.submission_dir):
            if path.stem not in self.dependencies:
                shutil.copyfile(path, package / path.name)
                copied.add(path.stem)
        if self.support_dir is not None and self.support_dir.is_dir():
            for path in _module_files(self.support_dir):
                if path.stem not in copied and path.stem not in self.dependencies:
                    shutil.copyfile(path, package / path.name)
        (base / "staging" / "tmp").mkdir()
        os.chmod(base, 0o711)
        for path in (base / "staging", *(base / "staging").rglob("*")):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)

    def _plan(self, base: Path) -> Plan:
        scratch = str(base / "work")
        return Plan(
            scratch=scratch,
            staging=str(base / "staging"),
            hide=[
                str(ROOT),
                str(Path.home()),
                *SHARED_WRITABLE,
                *_other_top_level_dirs(),
                *self.hide,
            ],
            keep_read_only=sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, *self.readable}),
            uid=self.uid,
            cpu_s=self.limits.cpu_s,
            memory_bytes=self.limits.memory_mb * 2**20,
            file_bytes=self.limits.file_mb * 2**20,
            scratch_bytes=self.limits.scratch_mb * 2**20,
            scratch_files=self.limits.scratch_files,
            processes=self.limits.processes,
            cgroup=str(self._cgroup or ""),
            probes=self.probes,
        )

    def _spawn(self, base: Path) -> None:
        """Fork the worker from the zygote, on a fresh pair of pipes."""
        self.uid = self._free_uid() if os.geteuid() == 0 and self.isolate else None
        self._cgroup = self._make_cgroup() if self.uid is not None else None
        scratch = str(base / "work")
        config = {
            "plan": asdict(self._plan(base)),
            "stdout": str(base / "stdout.txt"),
            "stderr": str(base / "stderr.txt"),
            "environment": {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": scratch,
                "TMPDIR": f"{scratch}/tmp",
                "LANG": "C.UTF-8",
                # The sandbox's uid has no passwd entry; getpass.getuser() reads these first.
                "USER": "student",
                "LOGNAME": "student",
                "PYTHONHASHSEED": "0",
                "OMP_NUM_THREADS": str(self.limits.threads),
                "MKL_NUM_THREADS": str(self.limits.threads),
            },
            "drop_paths": [str(ROOT)],
            "threads": self.limits.threads,
            "seed": self.seed,
            "spin_s": self.limits.spin_s,
        }
        read_in, write_in = os.pipe()
        read_out, write_out = os.pipe()
        try:
            self.pid = spawner.zygote().spawn(config, read_in, write_out)
        except spawner.ZygoteError as error:
            for fd in (read_in, write_in, read_out, write_out):
                os.close(fd)
            raise WorkerDied(f"the submission's process could not start: {error}") from None
        os.close(read_in)
        os.close(write_out)
        self.exit_status = None
        self._peer = Peer(
            read_out,
            write_in,
            restricted=True,
            share_tracebacks=False,
            limits=MessageLimits(message_bytes=self.limits.message_mb * 2**20),
            spin_s=self.limits.spin_s,
        )
        self._peer.translate = self._translate
        self._peer.gone = lambda error: WorkerDied(
            f"the submission's process is no longer running: {error}"
        )

    def _setup(self) -> None:
        """Have the worker build the shims; note the protections it could not apply."""
        assert self._peer is not None
        service = ShimService(self._peer, self.dependencies)
        answer = self._peer.request(
            "setup", (service.describe(),), what="start-up", timeout=self.limits.startup_s
        )
        self._peer.timeout = self.limits.wall_s
        self.unapplied = [str(u) for u in answer.get("unapplied", [])][:20]
        self._init_pid = self._first_of_namespace()

    def _first_of_namespace(self) -> int | None:
        """The host pid of the first process of the worker's namespaces (its only child)."""
        if self.uid is None or self.pid is None:
            return None
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if len(children) == 1 else None

    @staticmethod
    def _free_uid() -> int:
        """An unused uid of its own for the submission's processes."""
        return 200_000 + secrets.randbelow(800_000)

    def _make_cgroup(self) -> Path | None:
        parent = _memory_cgroup()
        if parent is None:
            return None
        folder = parent / f"autograder-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
        except OSError:
            return None
        return folder

    def _kill(self) -> None:
        if self.pid is None or self.exit_status is not None:
            return
        first = self._init_pid
        if first is not None:
            # The namespace's first process: when it ends, the kernel ends every process of
            # the namespace (whatever session or process group they moved to).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(first, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _running(first) and time.monotonic() < deadline:
                time.sleep(0.005)
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(self.pid, signal.SIGKILL)
        self.exit_status = spawner.zygote().status(self.pid, timeout=10)

    def close(self) -> None:
        """Stop the worker and every process it started; remove its files."""
        self._kill()
        self.pid = self._init_pid = None
        if self._peer is not None:
            self._peer.close()
            if self._peer.closed is None:
                self._peer.closed = WorkerDied("the sandbox was closed")
        self._peer = None
        self._modules.clear()
        if self._base is not None:
            self._tail = self.output_tail()
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None
        if self._cgroup is not None:
            with contextlib.suppress(OSError):
                self._cgroup.rmdir()
            self._cgroup = None

    # -- errors ----------------------------------------------------------------------------

    def _translate(self, error: BaseException) -> BaseException:
        """The exception the grader should see for ``error`` from the channel."""
        if isinstance(error, SandboxError):
            return error
        peer = self._peer
        what = peer.what if peer is not None else "start-up"
        if isinstance(error, ChannelTimeout):
            self._kill()
            late = peer is not None and peer.deadline is not None
            if late and time.monotonic() >= peer.deadline:
                return WorkerTimeout(
                    f"the check ran past its wall-clock limit of {self._allowed:.3g} s (during "
                    f"{what}); the submission's process was stopped"
                )
            limit = self.limits.startup_s if what == "start-up" else self.limits.wall_s
            return WorkerTimeout(
                f"the submission did not finish within the wall-clock limit of {limit:g} s "
                f"(during {what}); its process was stopped"
            )
        if isinstance(error, ChannelClosed):
            return WorkerDied(self._death(what))
        if isinstance(error, ProtocolError):
            self._kill()
            return WorkerDied(
                f"the submission's process sent something the grader cannot accept (during "
                f"{what}): {str(error)[:500]}; its process was stopped"
            )
        if isinstance(error, OSError) and error.errno == errno.EFBIG:
            return SandboxError(
                f"the submission wrote more than the file-size limit of {self.limits.file_mb} MiB "
                f"(printed output counts) during {what}"
            )
        if isinstance(error, MemoryError) or (
            isinstance(error, RuntimeError)
            and any(s in str(error) for s in ("can't allocate memory", "not enough memory"))
        ):
            wrapped = WorkerMemoryError(
                f"the submission ran out of memory (limit {self.limits.memory_mb} MiB) during "
                f"{what}: {str(error)[:500]}"
            )
            wrapped.remote_traceback = getattr(error, "remote_traceback", "")  # type: ignore[attr-defined]
            return wrapped
        return error

    def _death(self, what: str) -> str:
        code = None
        if self.pid is not None:
            code = spawner.zygote().status(self.pid, timeout=2)
            if code is None:
                self._kill()
            else:
                self.exit_status = code
        tail = self.output_tail(400).strip()
        seen = f"; its last output: {tail!r}" if tail else ""
        if code is None:
            return f"the submission's process stopped answering (during {what}){seen}"
        if code >= 0:
            return f"the submission's process exited with code {code} during {what}{seen}"
        name = _signal_name(-code)
        if -code == signal.SIGXCPU:
            return (
                f"the submission's process used up its CPU-time limit of {self.limits.cpu_s} s "
                f"during {what}"
            )
        if -code == signal.SIGXFSZ:
            return (
                f"the submission wrote a file larger than {self.limits.file_mb} MiB during {what}"
            )
        return f"the submission's process was killed by {name} during {what}{seen}"

    # -- use -------------------------------------------------------------------------------

    def _request(self, what: str, op: str, *args: Any) -> Any:
        self.start()
        assert self._peer is not None
        return self._peer.request(op, args, what=what)

    def module(self, name: str) -> RemoteObject:
        """The proxy of the student's module ``name`` (imported in the worker)."""
        if self.module_names and name not in self.module_names:
            raise ValueError(f"this sandbox grades {self.module_names}, not {name!r}")
        if name in self._modules and self.running:
            return self._modules[name]
        self.start()
        if not (self._base and (self._base / "staging" / PACKAGE / f"{name}.py").is_file()):
            raise ModuleLoadError(f"the submission has no {name}.py")
        try:
            module = self._request(f"the import of {name}.py", "load", name)
        except SandboxError:
            raise
        except Exception as error:
            raise ModuleLoadError(
                f"{name}.py does not import: {type(error).__name__}: {str(error)[:2000]}"
            ) from error
        if not isinstance(module, RemoteObject):
            raise ModuleLoadError(f"importing {name}.py did not give a module")
        object.__setattr__(module, "_label", name)
        self._modules[name] = module
        return module

    def reset(self, seed: int | None = None, budget_s: float | None = None) -> None:
        """Forget the objects and graphs of the previous check and reseed the worker.

        The next check may run for :attr:`Limits.check_s` seconds, or ``budget_s`` if less.
        """
        if not self.running:
            return
        assert self._peer is not None
        self._peer.deadline = None
        self._request("a reset between checks", "reset", self.seed if seed is None else seed)
        allowed = self.limits.check_s if budget_s is None else min(budget_s, self.limits.check_s)
        self._allowed = allowed
        self._peer.new_check(deadline=time.monotonic() + allowed)

    def output_tail(self, size: int = 4000) -> str:
        """The last ``size`` characters of what the submission printed (stdout, then stderr)."""
        if self._base is None:
            return self._tail[-size:]
        parts = []
        for name in ("stdout.txt", "stderr.txt"):
            path = self._base / name
            try:
                with open(path, "rb") as handle:
                    handle.seek(max(0, path.stat().st_size - size))
                    parts.append(handle.read().decode("utf-8", "replace"))
            except OSError:
                continue
        return "".join(parts)[-size:]
