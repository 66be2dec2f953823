"""A submission that answers with millions of empty lists: 5 bytes each on the wire, a hundred
in the grader's memory once decoded."""


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    return [[] for _ in range(400_000)], []
