"""A submission that returns objects that would run code if the grader unpickled them."""

import os

import torch

MARKER = "/tmp/evil_pickle_ran"


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


class SneakyTensor(torch.Tensor):
    def __reduce_ex__(self, protocol):
        return (os.system, (f"touch {MARKER}",))


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    return Evil(), Evil()


def sneaky(x):
    return x.as_subclass(SneakyTensor) * 2
