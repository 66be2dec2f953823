"""Run a student's modules in a separate, limited process and use them through proxies.

>>> with Sandbox("submission/", ["multihead"], dependencies={"qkv": solutions.qkv}) as box:
...     multihead = box.module("multihead")          # a proxy of the student's module
...     layer = multihead.MultiHeadAttention(8, 2)   # lives in the worker
...     out = layer(x, x, x); out.sum().backward()   # gradients come back
...     box.reset()                                   # between checks

The worker (:mod:`autograder.grader.worker`) gets a copy of the submission's files in a fresh
scratch directory, a clean environment, CPU-time, memory and file-size limits, its own
session, and, where the grader runs as root, its own mount namespace (the grader's
repository, home and temporary directories hidden), no network, and an unprivileged uid of
its own, so that closing the sandbox can kill every process the submission started. Each
request has a
wall-clock limit. Whatever the submission does, the grader gets an exception
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
import subprocess
import sys
import tempfile
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.core.paths import ROOT
from autograder.core.runner import GraderError
from autograder.grader import remote
from autograder.grader.remote import (
    ChannelClosed,
    ChannelTimeout,
    Peer,
    ProtocolError,
    RemoteObject,
)

RUNTIME_FILES = ("remote.py", "worker.py")
SHARED_WRITABLE = (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm", "/run/lock")
"""World-writable folders: covered with empty ones, so no submission leaves files for another."""
SYSTEM_DIRS = frozenset(
    {
        "bin",
        "boot",
        "dev",
        "etc",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "opt",
        "proc",
        "run",
        "sbin",
        "sys",
        "usr",
        "var",
    }
)
"""Top-level folders a worker may see. Every other one (/home, /root, /work, /srv, /mnt, ...)
is covered: another copy of the course elsewhere on the machine must stay out of reach too."""


def _other_top_level_dirs() -> list[str]:
    """The top-level folders that are not system folders (they may hold anyone's files)."""
    try:
        names = os.listdir("/")
    except OSError:
        return []
    return [f"/{name}" for name in names if name not in SYSTEM_DIRS and os.path.isdir(f"/{name}")]


"""What the worker imports from this package (copied: the repository itself is hidden)."""


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


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process.

    Attributes:
        wall_s: seconds the submission has for one request (a call, an import...).
        startup_s: seconds the worker has to start (importing torch takes one or two).
        cpu_s: CPU seconds for the worker's whole life.
        memory_mb: address space of the worker, in MiB (torch alone maps a few hundred).
        file_mb: the largest file the submission may write, in MiB.
        processes: processes and threads the sandbox's user may have at once.
        threads: torch's intra-op threads in the worker.
        message_mb: the largest message the worker may send, in MiB.
        check_s: seconds from one :meth:`Sandbox.reset` to the next (a check's budget, so
            a check that loops over an endless generator of the student's still ends).
    """

    wall_s: float = 30.0
    startup_s: float = 60.0
    cpu_s: int = 600
    memory_mb: int = 4096
    file_mb: int = 64
    processes: int = 256
    threads: int = 1
    message_mb: int = 256
    check_s: float = 300.0


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
        hide: further directories the submission must not see (the results file's folder).
        readable: directories inside hidden ones that the submission may read (``datasets/``).
        probes: paths whose readability is checked from inside; readable ones are reported
            in :attr:`unapplied`. Defaults to ``solutions/`` and ``tests/hidden/``; the
            ``hide`` folders are always probed.
        seed: the seed of the worker's random generators (and of :meth:`reset`).
        isolate: use a namespace and an unprivileged uid where the grader is root.
    """

    def __init__(
        self,
        submission_dir: str | Path,
        module_names: list[str] | tuple[str, ...] = (),
        dependencies: dict[str, types.ModuleType] | None = None,
        limits: Limits | None = None,
        support_dir: str | Path | None = ROOT / "assignments",
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
        self.probes = [str(p) for p in (probes if probes is not None else self._default_probes())]
        self.probes += [p for p in self.hide if p not in self.probes]
        self.seed = seed
        self.isolate = isolate
        self.unapplied: list[str] = []
        """Protections that could not be applied (empty when fully isolated)."""
        self.uid: int | None = None
        self._base: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._peer: Peer | None = None
        self._modules: dict[str, RemoteObject] = {}
        self._service: remote.ShimService | None = None
        self._tail = ""

    @staticmethod
    def _default_probes() -> list[Path]:
        return [ROOT / "solutions", ROOT / "tests" / "hidden"]

    # -- life cycle ------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def scratch(self) -> Path | None:
        """The worker's working directory: the same path in both processes (None when stopped).

        The one place where the submission and the grader can exchange files: a check that
        has the student's code save a checkpoint gives it a path in here.
        """
        return self._base / "work" if self._base is not None else None

    @property
    def running(self) -> bool:
        """Whether the worker process is up and its channel usable."""
        return (
            self._process is not None
            and self._process.poll() is None
            and self._peer is not None
            and self._peer.closed is None
        )

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
            base = Path(tempfile.mkdtemp(prefix="autograder-"))
            self._base = base
            scratch, runtime = self._prepare_files(base)
            self._spawn(base, scratch, runtime)
            self._setup(runtime)
        except BaseException:
            self.close()
            raise

    def _prepare_files(self, base: Path) -> tuple[Path, Path]:
        """The scratch directory (a copy of the submission) and the runtime package."""
        runtime = base / "runtime" / "autograder"
        runtime.mkdir(parents=True)
        (runtime / "__init__.py").write_text('"""The grader\'s runtime in the sandbox."""\n')
        (runtime / "grader").mkdir()
        (runtime / "grader" / "__init__.py").write_text("")
        for name in RUNTIME_FILES:
            shutil.copy(Path(__file__).with_name(name), runtime / "grader" / name)
        scratch = base / "work"
        package = scratch / "submission"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text('"""The submission\'s modules."""\n')
        copied = set()
        for path in _module_files(self.submission_dir):
            if path.stem not in self.dependencies:
                shutil.copy(path, package / path.name)
                copied.add(path.stem)
        if self.support_dir is not None and self.support_dir.is_dir():
            for path in _module_files(self.support_dir):
                if path.stem not in copied and path.stem not in self.dependencies:
                    shutil.copy(path, package / path.name)
        self.uid = None
        if os.geteuid() == 0 and self.isolate:
            self.uid = self._free_uid()
            os.chmod(base, 0o711)
            for path in (runtime.parent, *runtime.parent.rglob("*"), package, *package.iterdir()):
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
            os.chown(scratch, self.uid, self.uid)
            os.chmod(scratch, 0o700)
        return scratch, runtime

    def _spawn(self, base: Path, scratch: Path, runtime: Path) -> None:
        """Start the worker process in its own session, with a clean environment."""
        read_in, write_in = os.pipe()
        read_out, write_out = os.pipe()
        stdout = open(base / "stdout.txt", "wb")  # noqa: SIM115 - handed to the child
        stderr = open(base / "stderr.txt", "wb")  # noqa: SIM115
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(scratch),
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            # The sandbox's uid has no passwd entry; getpass.getuser() reads these first.
            "USER": "student",
            "LOGNAME": "student",
            "PYTHONPATH": str(runtime.parent),
            "PYTHONHASHSEED": "0",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": str(self.limits.threads),
            "MKL_NUM_THREADS": str(self.limits.threads),
        }
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-s",
                    "-m",
                    "autograder.grader.worker",
                    str(read_in),
                    str(write_out),
                ],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                pass_fds=(read_in, write_out),
                cwd=scratch,
                env=env,
                start_new_session=True,
            )
        finally:
            stdout.close()
            stderr.close()
            os.close(read_in)
            os.close(write_out)
        self._peer = Peer(
            read_out,
            write_in,
            restricted=True,
            share_tracebacks=False,
            max_message=self.limits.message_mb * 2**20,
        )
        self._peer.translate = self._translate
        self._peer.gone = lambda error: WorkerDied(
            f"the submission's process is no longer running: {error}"
        )

    def _setup(self, runtime: Path) -> None:
        """Have the worker isolate itself and build the shims; note what was not applied."""
        assert self._peer is not None
        self._service = remote.ShimService(self._peer, self.dependencies)
        config = {
            "parent": os.getpid(),
            "uid": self.uid,
            # The grader's files, and every folder other submissions could also write to.
            "hide": [
                str(ROOT),
                str(Path.home()),
                *SHARED_WRITABLE,
                *_other_top_level_dirs(),
                *self.hide,
            ],
            "keep_read_only": sorted(
                {sys.prefix, sys.base_prefix, sys.exec_prefix, str(runtime.parent), *self.readable}
            ),
            "limits": {
                "cpu_s": self.limits.cpu_s,
                "memory_bytes": self.limits.memory_mb * 2**20,
                "file_bytes": self.limits.file_mb * 2**20,
                "processes": self.limits.processes,
            },
            "probes": self.probes,
            "threads": self.limits.threads,
            "seed": self.seed,
            "shims": self._service.describe(),
        }
        self._peer.timeout = self.limits.startup_s
        self._peer.what = "start-up"
        try:
            answer = self._peer._request("setup", (config,))
        finally:
            self._peer.timeout = self.limits.wall_s
        self.unapplied = [str(u) for u in answer.get("unapplied", [])]
        if self.uid is None:
            self.unapplied.append(
                "could not isolate the submission's processes: processes it starts in a new "
                "session may outlive it"
            )

    @staticmethod
    def _free_uid() -> int:
        """An unused uid of its own, so that its processes can be found and killed."""
        while True:
            uid = 200_000 + secrets.randbelow(800_000)
            if not _processes_of(uid):
                return uid

    def _kill(self) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if self.uid is not None:
            # Processes that left the session (setsid, double fork) still have the uid.
            for _ in range(20):
                pids = _processes_of(self.uid)
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.01)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

    def close(self) -> None:
        """Stop the worker and every process it started; remove its scratch directory."""
        self._kill()
        if self._peer is not None:
            for fd in (self._peer.read_fd, self._peer.write_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)
            if self._peer.closed is None:
                self._peer.closed = WorkerDied("the sandbox was closed")
        self._peer = None
        self._process = None
        self._modules.clear()
        if self._base is not None:
            self._tail = self.output_tail()
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None

    # -- errors ----------------------------------------------------------------------------

    def _translate(self, error: BaseException) -> BaseException:
        """The exception the grader should see for ``error`` from the channel."""
        if isinstance(error, SandboxError):
            return error
        what = self._peer.what if self._peer is not None else "start-up"
        if isinstance(error, ChannelTimeout):
            self._kill()
            peer = self._peer
            if peer is not None and peer.deadline is not None and time.monotonic() >= peer.deadline:
                return WorkerTimeout(
                    f"the check ran past its wall-clock limit of {self.limits.check_s:g} s "
                    f"(during {what}); the submission's process was stopped"
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
                f"{what}): {error}; its process was stopped"
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
                f"{what}: {error}"
            )
            wrapped.remote_traceback = getattr(error, "remote_traceback", "")  # type: ignore[attr-defined]
            return wrapped
        return error

    def _death(self, what: str) -> str:
        process = self._process
        code = None
        if process is not None:
            try:
                code = process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._kill()
                code = process.poll()
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
        self._peer.what = what
        return self._peer._request(op, args)

    def module(self, name: str) -> RemoteObject:
        """The proxy of the student's module ``name`` (imported in the worker)."""
        if self.module_names and name not in self.module_names:
            raise ValueError(f"this sandbox grades {self.module_names}, not {name!r}")
        if name in self._modules and self.running:
            return self._modules[name]
        self.start()
        if not (self._base and (self._base / "work" / "submission" / f"{name}.py").is_file()):
            raise ModuleLoadError(f"the submission has no {name}.py")
        try:
            module = self._request(f"the import of {name}.py", "load", name)
        except SandboxError:
            raise
        except Exception as error:
            detail = str(error)
            raise ModuleLoadError(
                f"{name}.py does not import: {type(error).__name__}: {detail}"
            ) from error
        if not isinstance(module, RemoteObject):
            raise ModuleLoadError(f"importing {name}.py did not give a module")
        object.__setattr__(module, "_label", name)
        self._modules[name] = module
        return module

    def reset(self, seed: int | None = None) -> None:
        """Forget the objects and graphs of the previous check and reseed the worker."""
        if not self.running:
            return
        assert self._peer is not None and self._service is not None
        self._peer.deadline = None
        self._request("a reset between checks", "reset", self.seed if seed is None else seed)
        self._peer._remote_generation += 1
        self._peer.reset_exports()
        self._peer.deadline = time.monotonic() + self.limits.check_s

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
