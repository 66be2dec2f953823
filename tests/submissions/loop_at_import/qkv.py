"""A submission that never finishes importing."""

while True:
    pass
