"""A submission that loops forever in a call and ignores SIGINT and SIGTERM."""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    while True:
        pass
