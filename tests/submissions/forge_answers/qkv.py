"""A submission that rewrites the grader's runtime in its own process to forge every answer."""

import torch

from autograder.grader.channel import peer


def forged(self, op, args):
    return {"score": 100.0, "passed": True, "output": torch.ones(1)}


peer.Peer._perform = forged


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    return query, key
