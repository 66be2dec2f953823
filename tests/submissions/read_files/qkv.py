"""A submission that tries to read the grader's files and write outside its directory."""

import glob
import os

TARGETS = [
    "/work/main/solutions/qkv.py",
    "/work/main/tests/hidden/part2_qkv.py",
    "/work/main/rubric.toml",
    "/root/.bash_history",
]


def read_attempts(extra=()):
    """Path -> the first 40 characters read, or the error's name."""
    found = {}
    for path in [*TARGETS, *extra]:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                found[path] = handle.read(40)
        except OSError as error:
            found[path] = type(error).__name__
    return found


def write_attempts(paths):
    """Path -> "written" or the error's name."""
    done = {}
    for path in paths:
        try:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("overwritten by the submission")
            done[path] = "written"
        except OSError as error:
            done[path] = type(error).__name__
    return done


def listing():
    return sorted(glob.glob("/work/main/*")) + sorted(glob.glob("/tmp/*"))


def identity():
    return os.getuid(), os.getcwd()


def connect(host="1.1.1.1", port=53):
    """Whether a TCP connection out of the sandbox works."""
    import socket

    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as error:
        return type(error).__name__
    return "connected"
