"""A submission that leaves System V shared memory behind, which outlives a process."""

import ctypes

IPC_PRIVATE, IPC_CREAT = 0, 0o1000
libc = ctypes.CDLL(None, use_errno=True)


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    ids = []
    for _ in range(4):
        segment = libc.shmget(IPC_PRIVATE, 64 * 2**20, IPC_CREAT | 0o666)
        if segment >= 0:
            ids.append(segment)
    raise RuntimeError(f"left System V segments {ids} behind")
