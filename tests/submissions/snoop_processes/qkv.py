"""A submission that reads the command lines of every process it can see in /proc."""

import os


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    seen = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    seen.append(handle.read().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                continue
    raise RuntimeError("processes seen: " + " | ".join(seen))
