"""A submission without scaled_dot_product_attention."""


def attention(query, key, value):
    return query
