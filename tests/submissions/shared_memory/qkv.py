"""A submission that maps shared anonymous memory, which RLIMIT_DATA alone does not count."""

import mmap


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    # 8 GiB of shared memory, every page touched: only an address-space limit (or a
    # cgroup) stops it before the machine runs out.
    block = mmap.mmap(-1, 8 * 2**30, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    return query, key
