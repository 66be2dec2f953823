"""A submission that prints without end."""

LINE = "x" * 1023


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    while True:
        print(LINE)
