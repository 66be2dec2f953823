"""How the worker shuts itself in before any student code runs (Linux; most steps need root).

In order (see :func:`isolate`):

1. its own mount, IPC, network and PID namespaces: the grader's files can be hidden, System V
   shared memory dies with the worker, there is no network, and ``/proc`` shows only the
   submission's own processes;
2. a size- and file-count-limited tmpfs as its scratch folder (the submission is copied in);
3. every folder that may hold anyone's files covered by an empty, read-only tmpfs (a few
   folders it needs bound back read-only: the Python installation, the datasets);
4. a memory cgroup where one can be made, an unprivileged uid of its own, no way to gain
   privileges back, and resource limits: CPU time, address space (which counts shared
   mappings), data, file size, processes.

Each step that cannot be applied is reported, never silently skipped.
"""

from __future__ import annotations

import builtins
import ctypes
import os
import resource
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__builtins__ = dict(vars(builtins))  # the runtime keeps its builtins whatever student code patches

CLONE_NEWNS, CLONE_NEWIPC = 0x00020000, 0x08000000
CLONE_NEWNET, CLONE_NEWPID = 0x40000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38


@dataclass
class Plan:
    """What to shut the worker into (sent by the grader, trusted)."""

    scratch: str
    staging: str
    hide: list[str]
    keep_read_only: list[str]
    uid: int | None
    cpu_s: int
    memory_bytes: int
    file_bytes: int
    scratch_bytes: int
    scratch_files: int
    processes: int
    cgroup: str = ""
    probes: list[str] = field(default_factory=list)


def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    result = libc().mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    _check(result, f"mount on {target}")


def unshare(flags: int) -> None:
    _check(libc().unshare(flags), "unshare")


def prctl(option: int, value: int) -> bool:
    return libc().prctl(option, value, 0, 0, 0) == 0


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def new_namespaces() -> None:
    """Own mount, IPC, network and PID namespaces (the PID one holds the *next* child)."""
    unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID)
    mount(None, "/", None, MS_REC | MS_PRIVATE, None)


def own_proc() -> None:
    """A ``/proc`` of this PID namespace: only the submission's own processes."""
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)


def scratch_filesystem(plan: Plan) -> None:
    """Mount the limited tmpfs at the scratch folder and copy the submission into it."""
    os.makedirs(plan.scratch, exist_ok=True)
    options = f"size={plan.scratch_bytes},nr_inodes={plan.scratch_files},mode=700"
    mount("tmpfs", plan.scratch, "tmpfs", MS_NOSUID | MS_NODEV, options)
    shutil.copytree(plan.staging, plan.scratch, dirs_exist_ok=True)


def cover(hide: Iterable[str], keep_read_only: Iterable[str], keep_writable: Iterable[str]) -> None:
    """Cover each folder of ``hide`` with an empty read-only tmpfs, keeping some paths.

    Paths to keep that lie inside a hidden folder (the virtual environment inside the
    repository, the scratch folder inside /tmp) are bound back at the same place; the
    read-only ones cannot be written.
    """
    hidden = sorted({os.path.realpath(p) for p in hide if os.path.isdir(p)}, key=len)
    # A folder inside another hidden one is covered already (and no longer exists).
    hidden = [h for i, h in enumerate(hidden) if not any(_inside(h, o) for o in hidden[:i])]
    keep = [(os.path.realpath(p), False) for p in keep_read_only if os.path.exists(p)]
    keep += [(os.path.realpath(p), True) for p in keep_writable if os.path.exists(p)]
    keep = [(p, w) for p, w in keep if any(_inside(p, h) for h in hidden)]
    handles = {path: os.open(path, os.O_PATH) for path, _ in keep}
    for folder in hidden:
        mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m,nr_inodes=256")
    for path, writable in sorted(keep, key=lambda item: len(item[0])):
        os.makedirs(path, exist_ok=True)
        mount(f"/proc/self/fd/{handles[path]}", path, None, MS_BIND | MS_REC, None)
        if not writable:
            mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID, None)
    for folder in hidden:
        mount(None, folder, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    for handle in handles.values():
        os.close(handle)


def join_cgroup(path: str, memory_bytes: int) -> None:
    """Move this process into the memory cgroup ``path`` (made by the grader) with a limit."""
    for name in ("memory.max", "memory.limit_in_bytes"):
        limit = Path(path) / name
        if limit.exists():
            limit.write_text(str(memory_bytes))
            (Path(path) / "cgroup.procs").write_text(str(os.getpid()))
            return
    raise OSError(f"{path} is not a memory cgroup")


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (group ``uid``, no supplementary groups) for good."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY and os.geteuid() != 0:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def address_space_now() -> int:
    """The bytes of address space this process maps now (``VmSize``)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def set_limits(plan: Plan, as_sandbox_user: bool) -> list[str]:
    """CPU, memory, file and process limits; what could not be set."""
    unapplied = []
    wanted = [
        (resource.RLIMIT_CPU, plan.cpu_s, "CPU time"),
        # RLIMIT_DATA counts the heap and private mappings, where tensors live; RLIMIT_AS
        # counts every mapping, shared ones too, on top of what this process maps already.
        (resource.RLIMIT_DATA, plan.memory_bytes, "memory (data)"),
        (resource.RLIMIT_AS, address_space_now() + plan.memory_bytes, "memory (address space)"),
        (resource.RLIMIT_FSIZE, plan.file_bytes, "file size"),
        (resource.RLIMIT_CORE, 0, "core dumps"),
    ]
    if as_sandbox_user:
        # Counted per user, so only meaningful for the sandbox's own uid.
        wanted.append((resource.RLIMIT_NPROC, plan.processes, "processes"))
    for kind, value, what in wanted:
        try:
            _limit(kind, int(value))
        except (OSError, ValueError) as error:
            unapplied.append(f"could not limit {what}: {error}")
    return unapplied


def readable(path: str, kept: Iterable[str] = ()) -> bool:
    """Whether this process can see what ``path`` holds: list a folder's entries or read a file.

    A covered folder is empty but for the way to the folders bound back into it (``kept``:
    the scratch folder, the Python installation), which are not the grader's files.
    """
    try:
        if os.path.isdir(path):
            own = {os.path.join(path, e) for e in os.listdir(path)}
            return any(not any(_inside(k, entry) for k in kept) for entry in own)
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError:
        return False
    return True
