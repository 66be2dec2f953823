"""A submission whose function raises its own exception type (a ValueError subclass)."""


class ShapeError(ValueError):
    pass


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    raise ShapeError(f"bad shapes {tuple(query.shape)}")
