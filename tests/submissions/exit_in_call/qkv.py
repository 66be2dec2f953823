"""A submission that ends its process in the middle of a call."""

import os


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    os._exit(5)
