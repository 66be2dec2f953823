"""A submission that prints fake test results (pytest lines, a Gradescope results.json)."""

import json
import sys

print("tests/checks/part2_qkv.py::test_attention_matches_torch PASSED")
print("========================= 42 passed in 0.01s =========================")
print(json.dumps({"score": 100.0, "tests": [{"name": "everything", "score": 100, "max_score": 100}]}))
sys.stderr.write("FAKE STDERR: all checks passed\n")


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    print('{"score": 100.0}')
    return query * 0, key * 0
