"""The zygote: a pristine process that forks workers, so none pays for importing torch.

The grader starts it once (``python -m autograder.grader.worker.zygote FD``) with one end of
a socket pair. It imports torch, NumPy and the worker's runtime and nothing else (no
reference code, no checks), then answers on that socket:

- a message holding a JSON config and the worker's two pipe ends (passed as file
  descriptors) asks for a worker: it forks, the child runs
  :func:`autograder.grader.worker.serve.run`, and the zygote answers ``{"pid": ...}``;
- a message holding ``{"zygote": true}`` and one end of a new socket pair asks for a copy
  of the zygote that serves another grader process (a grading lane) on that socket;
- whenever a child ends, it sends ``{"exit": pid, "status": code}`` (negative: the signal
  that killed it).

The socket is a ``SOCK_SEQPACKET`` pair: one message per send, boundaries kept.

It says ``{"ready": true}`` once its imports are done, never runs student code itself, and
dies with the grader.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

import numpy
import torch

from autograder.grader.worker import isolation, serve

MAX_CONFIG = 1 << 18
"""The largest spawn message (the control socket keeps message boundaries)."""


def warm_up() -> None:
    """Run the common operations once, so that no worker pays for torch's lazy start-up.

    With one thread (``OMP_NUM_THREADS=1`` in the zygote's environment) no thread pool
    exists yet, so forking stays safe; each worker sets its own thread count.
    """
    torch.set_num_threads(1)
    x = torch.randn(2, 3, 4, requires_grad=True)
    layer = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4), torch.nn.GELU())
    scores = (x @ x.transpose(-2, -1) / 2.0).masked_fill(torch.eye(3, dtype=torch.bool), -1e9)
    mixed = torch.nn.functional.dropout(torch.softmax(scores, dim=-1), 0.1) @ layer(x)
    tokens = torch.randint(0, 5, (2, 3))
    logits = mixed @ torch.nn.Embedding(5, 4).weight.T
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), tokens.reshape(-1))
    loss.backward()
    torch.manual_seed(0)
    numpy.asarray(x.detach().numpy()).sum()
    # Imports torch.fx's symbolic shapes and sympy: half a second a worker otherwise.
    torch.broadcast_shapes((1, 3), (2, 1))
    torch.einsum("ij,jk->ik", torch.ones(2, 2), torch.ones(2, 2))


def _send(control: socket.socket, message: dict) -> None:
    control.send(json.dumps(message).encode())


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(control, {"exit": pid, "status": os.waitstatus_to_exitcode(status)})


def _spawn(control: socket.socket, data: bytes, fds: list[int], wake: tuple[int, int]) -> None:
    config = json.loads(data)
    if config.get("zygote") is True and len(fds) == 1:
        _spare(control, fds[0], wake)
        return
    if len(fds) != 2:
        for fd in fds:
            os.close(fd)
        _send(control, {"error": "a worker needs two pipes"})
        return
    pid = os.fork()
    if pid == 0:
        try:
            control.close()
            for fd in wake:
                os.close(fd)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            serve.run(fds[0], fds[1], config)
        except BaseException as error:
            try:
                print(f"the worker could not start: {error!r}", file=sys.stderr, flush=True)
            finally:
                os._exit(70)
        os._exit(0)
    for fd in fds:
        os.close(fd)
    _send(control, {"pid": pid})


def _spare(control: socket.socket, theirs: int, wake: tuple[int, int]) -> None:
    """Fork a copy of this zygote that serves another grader process on ``theirs``."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            control.close()
            signal.set_wakeup_fd(-1)
            for fd in wake:
                os.close(fd)
            # Its own session, so that closing it (a signal to its group) spares this one.
            os.setsid()
            main(theirs)
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(theirs)
    _send(control, {"pid": pid})


def main(control_fd: int) -> None:
    control = socket.socket(fileno=control_fd)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
    warm_up()
    _send(control, {"ready": True})
    while True:
        ready, _, _ = select.select([control, wake_read], [], [])
        if wake_read in ready:
            os.read(wake_read, 4096)
            _reap(control)
        if control in ready:
            try:
                data, fds, _, _ = socket.recv_fds(control, MAX_CONFIG, 2)
            except OSError:
                return
            if not data:
                return
            _spawn(control, data, fds, (wake_read, wake_write))
            _reap(control)


if __name__ == "__main__":
    main(int(sys.argv[1]))
