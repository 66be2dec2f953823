"""The sandboxed worker: the process that imports and runs a student's modules.

Started by :class:`autograder.grader.sandbox.Sandbox` as
``python -m autograder.grader.worker READ_FD WRITE_FD`` from a copy of this package, with a
clean environment and a scratch directory as its working directory. Its first request
(``setup``) isolates it before any student code is loaded: where it runs as root it hides
the grader's directories behind empty file systems in its own mount namespace, drops to an
unprivileged uid and forbids gaining privileges again; then it sets resource limits and
checks which of the grader's paths it can still read. After that it serves the grader's
requests (see :mod:`autograder.grader.remote`) until the grader closes the channel.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import random
import resource
import signal
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autograder.grader.remote import Peer, make_shim_module

PACKAGE = "submission"
"""The package name under which the student's modules are imported."""

_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV = 1, 2, 4
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_PDEATHSIG = 1


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    result = _libc().mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount on {target}: {os.strerror(error)}")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def hide_paths(hide: list[str], keep_read_only: list[str], keep_writable: list[str]) -> None:
    """In a new mount namespace, cover each of ``hide`` with an empty tmpfs.

    Paths to keep that lie inside a hidden one (the virtual environment inside the
    repository, the scratch directory inside /tmp) are bound back at the same place; the
    read-only ones cannot be written. Needs root; the grader's own view is unchanged.
    """
    libc = _libc()
    if libc.unshare(_CLONE_NEWNS) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare(CLONE_NEWNS): {os.strerror(error)}")
    try:
        _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)
    except OSError as error:
        raise OSError(error.errno, f"cannot make mounts private: {error}") from None
    try:
        _cover(hide, keep_read_only, keep_writable)
    except OSError as error:
        # Half-hidden is worse than either state: the worker must not go on.
        raise SystemExit(f"the sandbox could not hide the grader's files: {error}") from None


def _cover(hide: list[str], keep_read_only: list[str], keep_writable: list[str]) -> None:
    hide = sorted({os.path.realpath(p) for p in hide if os.path.isdir(p)}, key=len)
    # A folder inside another hidden one is covered already (and no longer exists).
    hide = [h for i, h in enumerate(hide) if not any(_inside(h, o) for o in hide[:i])]
    keep = [(os.path.realpath(p), False) for p in keep_read_only if os.path.exists(p)]
    keep += [(os.path.realpath(p), True) for p in keep_writable if os.path.exists(p)]
    keep = [(p, w) for p, w in keep if any(_inside(p, h) for h in hide)]
    handles = {path: os.open(path, os.O_PATH) for path, _ in keep}
    for folder in hide:
        _mount("tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=755,size=64m")
    for path, writable in sorted(keep, key=lambda item: len(item[0])):
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{handles[path]}", path, None, _MS_BIND | _MS_REC, None)
        if not writable:
            _mount(None, path, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID, None)
    for handle in handles.values():
        os.close(handle)


def cut_network() -> None:
    """Move to a network namespace of its own: no interface but a loopback that is down."""
    if _libc().unshare(_CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare(CLONE_NEWNET): {os.strerror(error)}")


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (group ``uid``, no supplementary groups) for good."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _readable(path: str) -> bool:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as handle:
                handle.read(1)
    except OSError:
        return False
    return os.path.exists(path)


def _limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def seed_everything(seed: int) -> None:
    """Seed torch, NumPy and ``random`` so every grading run draws the same numbers."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


class Worker:
    """The worker's state: its peer, the package of the student's modules, the shims."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.scratch = Path.cwd()
        peer.services.update(setup=self.setup, load=self.load, reset=self.reset)

    def setup(self, config: dict[str, Any]) -> dict[str, Any]:
        """Isolate this process, set its limits, prepare the package; say what failed."""
        unapplied: list[str] = []
        uid = config.get("uid")
        if os.geteuid() == 0 and uid is not None:
            try:
                hide_paths(config["hide"], config["keep_read_only"], [str(self.scratch)])
            except OSError as error:
                unapplied.append(f"could not hide the grader's files: {error}")
            try:
                cut_network()
            except OSError as error:
                unapplied.append(f"could not cut the network: {error}")
            try:
                drop_privileges(int(uid))
            except OSError as error:
                # Running student code as root by accident is worse than not running it.
                message = f"the sandbox could not drop privileges to uid {uid}: {error}"
                raise SystemExit(message) from None
        elif os.geteuid() == 0:
            unapplied.append(
                "could not drop privileges: isolation is turned off, so the submission runs as root"
            )
        else:
            unapplied.append(
                "could not drop privileges: the grader does not run as root, so the submission "
                "runs as the grader's user"
            )
        if _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            unapplied.append("could not forbid gaining privileges (no_new_privs)")
        # After the uid change, which clears it: if the grader dies, so does this process.
        if _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or (
            os.getppid() != int(config.get("parent", os.getppid()))
        ):
            unapplied.append("could not tie the worker's life to the grader's")
        limits = config["limits"]
        wanted = [
            (resource.RLIMIT_CPU, limits.get("cpu_s"), "CPU time"),
            # RLIMIT_DATA counts heap and private mappings (where tensors live) but not the
            # address space CUDA reserves, which RLIMIT_AS would refuse.
            (resource.RLIMIT_DATA, limits.get("memory_bytes"), "memory"),
            (resource.RLIMIT_FSIZE, limits.get("file_bytes"), "file size"),
            (resource.RLIMIT_CORE, 0, "core dumps"),
        ]
        if os.getuid() != 0 and os.getuid() == uid:
            # Counted per user, so only meaningful for the sandbox's own uid.
            wanted.append((resource.RLIMIT_NPROC, limits.get("processes"), "processes"))
        for kind, value, what in wanted:
            if value is None:
                continue
            try:
                _limit(kind, int(value))
            except (OSError, ValueError) as error:
                unapplied.append(f"could not limit {what}: {error}")
        for path in config.get("probes", []):
            if _readable(path):
                unapplied.append(f"the submission can read {path}")
        os.umask(0o077)
        torch.set_num_threads(int(config.get("threads", 1)))
        seed_everything(int(config.get("seed", 0)))
        sys.path.insert(0, str(self.scratch))
        package = importlib.import_module(PACKAGE)
        for name, description in config.get("shims", {}).items():
            module = make_shim_module(f"{PACKAGE}.{name}", description)
            sys.modules[module.__name__] = module
            setattr(package, name, module)
        return {"pid": os.getpid(), "uid": os.getuid(), "unapplied": unapplied}

    def load(self, name: str) -> types.ModuleType:
        """Import the student's module ``name`` (kept across resets)."""
        module = importlib.import_module(f"{PACKAGE}.{name}")
        self.peer.pin(module)
        return module

    def reset(self, seed: int) -> None:
        """Forget the previous check's objects and graphs; reseed the random generators."""
        self.peer.reset_exports()
        seed_everything(seed)


def main(argv: list[str] | None = None) -> None:
    """Serve the grader on the pipes named by the command line until it hangs up."""
    args = sys.argv[1:] if argv is None else argv
    read_fd, write_fd = int(args[0]), int(args[1])
    peer = Peer(read_fd, write_fd, restricted=False)
    Worker(peer)
    peer.serve_forever()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
