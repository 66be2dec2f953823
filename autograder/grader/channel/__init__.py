"""The channel between the grader and the sandboxed worker: data, proxies, autograd.

Two processes (the grader and the worker that holds the student's code) each hold a
:class:`~autograder.grader.channel.peer.Peer` on a pair of pipes. Messages are written in a
small binary format that can only express plain data (numbers, strings, containers, dtypes,
devices, tensors, NumPy arrays) and *handles*: references to objects that stay in the
process that owns them. Nothing is ever unpickled, so no value from the student's process
can run code in the grader.

- :mod:`.errors`: what goes wrong on the channel, and exceptions rebuilt from the other side;
- :mod:`.wire`: the format, and the encoder (what a process sends);
- :mod:`.decode`: the decoder, the trust boundary: everything the grader accepts from the
  worker, and the budgets that bound what a message may cost;
- :mod:`.proxies`: :class:`RemoteObject`, iteration, and autograd across the processes;
- :mod:`.peer`: one end of the channel: requests, answers, exports, what is allowed;
- :mod:`.shims` and :mod:`.shells`: the reference of earlier parts, run by the grader for
  the worker (the service in the grader, the stand-in modules in the worker).
"""
