"""The worker: a process forked by the zygote that shuts itself in and serves the grader.

:func:`run` is all a worker process does: it isolates itself (:mod:`.isolation`), then
serves the grader's requests on its two pipes until the grader hangs up. Where it has the
privileges, it first forks once more: the child is the first process of a new PID
namespace (its ``/proc`` shows only the submission's processes, and when it ends, every
process the submission started ends with it); the parent waits for it and exits as it did.
"""

from __future__ import annotations

import builtins
import importlib
import os
import random
import shutil
import signal
import sys
import types
from typing import Any

import numpy as np
import torch

from autograder.grader.channel.peer import Peer
from autograder.grader.channel.shells import make_shim_module
from autograder.grader.worker import isolation
from autograder.grader.worker.isolation import Plan

__builtins__ = dict(vars(builtins))  # the runtime keeps its builtins whatever student code patches

PACKAGE = "submission"
"""The package name under which the student's modules are imported."""

_MANUAL_SEED, _NP_SEED, _RANDOM_SEED = torch.manual_seed, np.random.seed, random.seed
_SET_THREADS = torch.set_num_threads
_IMPORT = importlib.import_module


def seed_everything(seed: int) -> None:
    """Seed torch, NumPy and ``random`` so every grading run draws the same numbers."""
    _MANUAL_SEED(seed)
    _NP_SEED(seed % 2**32)
    _RANDOM_SEED(seed)


class Worker:
    """The worker's state: its peer, the package of the student's modules, the shims."""

    def __init__(self, peer: Peer, config: dict[str, Any], unapplied: list[str]) -> None:
        self.peer = peer
        self.config = config
        self.unapplied = unapplied
        peer.services.update(setup=self.setup, load=self.load, reset=self.reset)

    def setup(self, shims: dict[str, Any]) -> dict[str, Any]:
        """Build the shim modules of the earlier parts; say which protections failed."""
        package = _IMPORT(PACKAGE)
        for name, description in shims.items():
            module = make_shim_module(f"{PACKAGE}.{name}", description)
            sys.modules[module.__name__] = module
            setattr(package, name, module)
        return {"uid": os.getuid(), "unapplied": self.unapplied}

    def load(self, name: str) -> types.ModuleType:
        """Import the student's module ``name`` (kept across resets)."""
        module = _IMPORT(f"{PACKAGE}.{name}")
        self.peer.pin(module)
        return module

    def reset(self, seed: int) -> None:
        """Forget the previous check's objects and graphs; reseed the random generators."""
        self.peer.reset_exports()
        seed_everything(seed)


def _shut_in(plan: Plan) -> list[str]:
    """Apply :mod:`.isolation` in the first process of the new namespaces; what failed."""
    unapplied: list[str] = []
    isolation.own_proc()
    isolation.scratch_filesystem(plan)
    if plan.cgroup:
        try:
            isolation.join_cgroup(plan.cgroup, plan.memory_bytes)
        except OSError as error:
            unapplied.append(f"could not limit memory with a cgroup: {error}")
    try:
        isolation.cover(plan.hide, plan.keep_read_only, [plan.scratch])
    except OSError as error:
        # Half-hidden is worse than either state: the worker must not go on.
        raise SystemExit(f"the sandbox could not hide the grader's files: {error}") from None
    assert plan.uid is not None
    for folder, _, files in os.walk(plan.scratch):
        for path in (folder, *(os.path.join(folder, f) for f in files)):
            os.chown(path, plan.uid, plan.uid)
    try:
        isolation.drop_privileges(plan.uid)
    except OSError as error:
        # Running student code as root by accident is worse than not running it.
        raise SystemExit(f"the sandbox could not drop privileges: {error}") from None
    # A change of uid clears the parent-death signal: set it again. When the worker's
    # process (the grader's handle) dies, this one does, and with it the whole namespace.
    if not isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL):
        unapplied.append("could not tie the submission's processes to the grader's handle")
    return unapplied


def _namespace_parent(child: int) -> None:
    """Wait for the namespace's first process and end as it ended."""
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def run(read_fd: int, write_fd: int, config: dict[str, Any]) -> None:
    """The worker process: isolate, then serve the grader until it hangs up. Never returns."""
    plan = Plan(**config["plan"])
    unapplied: list[str] = []
    os.setsid()
    for fd, path in ((1, config["stdout"]), (2, config["stderr"])):
        output = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(output, fd)
        os.close(output)
    if not isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL):
        unapplied.append("could not tie the worker's life to the grader's")
    root = os.geteuid() == 0 and plan.uid is not None
    if root:
        isolation.new_namespaces()
        child = os.fork()
        if child:
            os.close(read_fd)
            os.close(write_fd)
            _namespace_parent(child)
        # The first process of the namespaces: dies with its parent, the grader's handle.
        isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
        unapplied += _shut_in(plan)
    else:
        shutil.copytree(plan.staging, plan.scratch, dirs_exist_ok=True)
        reason = "isolation is turned off" if os.geteuid() == 0 else "the grader is not root"
        unapplied.append(
            f"could not drop privileges ({reason}): the submission runs as the grader's user, "
            "with the grader's files and network in reach, and processes it starts in a new "
            "session may outlive it"
        )
    if not isolation.prctl(isolation.PR_SET_NO_NEW_PRIVS, 1):
        unapplied.append("could not forbid gaining privileges (no_new_privs)")
    unapplied += isolation.set_limits(plan, as_sandbox_user=root)
    kept = [plan.scratch, *plan.keep_read_only]
    seen = [p for p in plan.probes if isolation.readable(p, kept)]
    unapplied += [f"the submission can read {p}" for p in seen]
    os.chdir(plan.scratch)
    os.umask(0o077)
    os.environ.clear()
    os.environ.update(config["environment"])
    _SET_THREADS(int(config.get("threads", 1)))
    seed_everything(int(config.get("seed", 0)))
    dropped = set(config.get("drop_paths", ()))
    sys.path[:] = [plan.scratch] + [p for p in sys.path if p and p not in dropped]
    sys.argv = ["worker"]
    peer = Peer(read_fd, write_fd, restricted=False, spin_s=float(config.get("spin_s", 0.0)))
    Worker(peer, config, unapplied)
    code = 0
    try:
        peer.serve_forever()
    except SystemExit as exit:
        # sys.exit() in student code ends the worker with the code the student chose.
        code = exit.code if isinstance(exit.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
