"""A submission that answers with objects of ever new class names (each name a proxy class)."""


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    return [type(f"Name{index}", (), {})() for index in range(20_000)], None
