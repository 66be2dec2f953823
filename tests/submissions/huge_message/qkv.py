"""A submission whose import fails with a 16 MiB message (copied into every check)."""

raise ValueError("spam " * (16 * 2**20 // 5))
