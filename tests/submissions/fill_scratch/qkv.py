"""A submission that fills its scratch folder with big files and with thousands of files."""

import os


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    written = files = 0
    chunk = b"x" * 2**20
    try:
        for index in range(4096):
            with open(f"big{index}.bin", "wb") as handle:
                for _ in range(8):
                    handle.write(chunk)
                    written += len(chunk)
    except OSError:
        pass
    try:
        os.makedirs("many", exist_ok=True)
        for index in range(100_000):
            with open(f"many/{index}", "w") as handle:
                handle.write("x")
            files += 1
    except OSError:
        pass
    raise RuntimeError(f"wrote {written} bytes and {files} small files")
