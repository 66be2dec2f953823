"""Probes of part 9 (tasks): vocabularies, addition, the parser, batches and metrics.

Every probe calls only what the student writes in ``tasks.py``, with fixed data, one
documented behaviour each: ids and lengths of a vocabulary and its refusals, encoding with
BOS/EOS and decoding up to EOS, the three task vocabularies, the addition example's padding
and carry, reading a sum, tokenizing and parsing (precedence, associativity, parentheses,
error positions), prefix linearisation both ways, padding a batch, teacher forcing, and the
two metrics. Errors are compared by type, and by the position a parser error names.
"""

import re

import torch

from tests.probes import Probes

PROBES = Probes()


def attempt(call):
    """What ``call()`` returns, or the type of its error and the ``position N`` it names."""
    try:
        return call()
    except Exception as error:
        if type(error).__module__.startswith("autograder."):
            raise
        found = re.search(r"position (\d+)", str(error))
        return type(error).__name__, int(found.group(1)) if found else None


def attempts(*calls):
    return [attempt(call) for call in calls]


def _abc(m):
    return m.Vocabulary(["a", "b", "c"])


@PROBES.add
def vocabulary_ids(m):
    v = _abc(m)
    return (
        len(v),
        [v.id_of(s) for s in "abc"],
        [attempt(lambda i=i: v.symbol_of(i)) for i in range(7)],
    )


@PROBES.add
def vocabulary_refusals(m):
    return attempts(
        lambda: len(m.Vocabulary(["a", "b", "a"])),
        lambda: len(m.Vocabulary(["a", "<pad>"])),
        lambda: len(m.Vocabulary(["<eos>"])),
        lambda: len(m.Vocabulary(["a", ""])),
        lambda: len(m.Vocabulary(["a", 3])),
        lambda: _abc(m).id_of("d"),
        lambda: _abc(m).id_of("<bos>"),
        lambda: _abc(m).symbol_of(-1),
    )


@PROBES.add
def vocabulary_encode(m):
    v = _abc(m)
    return [
        v.encode(["c", "a", "b"]),
        v.encode(["c", "a"], bos=True),
        v.encode(["c", "a"], eos=True),
        v.encode(["b"], bos=True, eos=True),
        v.encode([], bos=True, eos=True),
        attempt(lambda: v.encode(["a", "z"])),
    ]


@PROBES.add
def vocabulary_decode(m):
    v = _abc(m)
    return attempts(
        lambda: v.decode([1, 5, 3, 2, 4, 0]),
        lambda: v.decode([3, 0, 4, 0]),
        lambda: v.decode([5, 4, 3]),
        lambda: v.decode([1, 1, 3, 2, 2]),
        lambda: v.decode(torch.tensor([1, 4, 2, 0])),
        lambda: v.decode([]),
        lambda: v.decode([3, 9]),
    )


@PROBES.add
def task_vocabularies(m):
    found = []
    for vocabulary in (m.copy_vocabulary(), m.addition_vocabulary(), m.parser_vocabulary()):
        size = len(vocabulary)
        found.append(
            (size, [attempt(lambda i=i, v=vocabulary: v.symbol_of(i)) for i in range(size)])
        )
    return found, len(m.copy_vocabulary(5))


@PROBES.add
def addition_examples(m):
    return attempts(
        lambda: m.addition_example(7, 95, 3),
        lambda: m.addition_example(999, 999, 3),
        lambda: m.addition_example(0, 0, 1),
        lambda: m.addition_example(45, 3, 2),
        lambda: m.addition_example(12, 9, 4),
    )


@PROBES.add
def addition_refusals(m):
    return attempts(
        lambda: m.addition_example(1000, 1, 3),
        lambda: m.addition_example(1, 100, 2),
        lambda: m.addition_example(-1, 2, 2),
        lambda: m.addition_example(10, 5, 1),
        lambda: m.addition_example(99, 99, 2),
    )


@PROBES.add
def reading_sums(m):
    return attempts(
        lambda: m.read_sum(["0", "4", "2"]),
        lambda: m.read_sum(("1", "0", "0", "7")),
        lambda: m.read_sum([]),
        lambda: m.read_sum(["1", "+"]),
        lambda: m.read_sum(["x"]),
        lambda: m.read_sum(["0"]),
    )


@PROBES.add
def tokenizing(m):
    return attempts(
        lambda: m.tokenize("x = (1+y)*2"),
        lambda: m.tokenize("  z=3/x-1 "),
        lambda: m.tokenize("x=1$2"),
        lambda: m.tokenize("x = 12 & 3"),
    )


@PROBES.add
def parsing(m):
    texts = [
        "x=1-2-3*y",
        "y=(1+2)*3",
        "z=1*2+3",
        "x=5",
        "x=y/2/z",
        "x=((1))",
        "y=1-(2-3)",
        "z=1+2*3-4/x",
        "x = ( y + 1 ) * ( 2 - z )",
        "x=1*(2*3)",
    ]
    return [attempt(lambda t=t: m.parse(t)) for t in texts]


@PROBES.add
def parsing_errors(m):
    texts = [
        "x=1+",
        "x=(1+2",
        "1=2",
        "x=1 2",
        "x==1",
        "x=1)",
        "x=",
        "",
        "x 1",
        "x=1+*2",
        "=1",
        "x = 1 +",
        "y = ( 2 * z",
    ]
    return [attempt(lambda t=t: m.parse(t)) for t in texts]


TREES = [
    ("ASSIGN", "x", ("ADD", "1", "2")),
    ("ASSIGN", "y", "5"),
    ("ASSIGN", "z", ("SUB", ("MUL", "1", "x"), ("DIV", "y", ("ADD", "2", "3")))),
    ("ASSIGN", "x", ("SUB", "1", ("SUB", "2", "3"))),
]


@PROBES.add
def trees_to_tokens(m):
    return [attempt(lambda t=t: m.tree_to_tokens(t)) for t in TREES]


@PROBES.add
def tokens_to_trees(m):
    lists = [
        ["ASSIGN", "x", "ADD", "1", "2"],
        ["ASSIGN", "y", "5"],
        ["ASSIGN", "z", "SUB", "MUL", "1", "x", "DIV", "y", "ADD", "2", "3"],
        ["ASSIGN", "x", "SUB", "SUB", "1", "2", "3"],
    ]
    return [attempt(lambda t=t: m.tokens_to_tree(t)) for t in lists]


MALFORMED = [
    ["ASSIGN", "x", "ADD", "1"],
    ["ASSIGN", "x", "1", "2"],
    ["ADD", "x", "1"],
    ["ASSIGN", "1", "2"],
    ["ASSIGN", "x"],
    ["ASSIGN", "x", "ASSIGN", "1", "2"],
    ["ASSIGN", "x", "+", "1", "2"],
    ["ASSIGN", "x", "(", "1", ")"],
    ["ASSIGN", "x", "+"],
    ["ASSIGN", "y", "MUL", "ASSIGN", "2"],
    [],
    ["ASSIGN", "x", "ADD", "1", "2", "3"],
]


@PROBES.add
def malformed_tokens(m):
    return [attempt(lambda t=t: m.tokens_to_tree(t)) for t in MALFORMED]


@PROBES.add
def well_formed(m):
    lists = [*MALFORMED, ["ASSIGN", "x", "MUL", "y", "2"], ["ASSIGN", "z", "z"]]
    return [attempt(lambda t=t: m.is_well_formed(t)) for t in lists]


@PROBES.add
def padding_batches(m):
    return attempts(
        lambda: m.pad_batch([[1, 2, 3], [4], [5, 6]], 0),
        lambda: m.pad_batch([[3], [4, 5, 6, 7]], 9),
        lambda: m.pad_batch([[1, 2], [3, 4]], 0),
    )


@PROBES.add
def teacher_forcing(m):
    # Whether the target is changed in place is not observed: the grader's copy of it never
    # is. What the returned tensors hold shows it instead (a row that starts with pad_id).
    target = torch.tensor([[1, 5, 6, 2, 0, 0], [1, 7, 8, 9, 4, 2], [1, 2, 0, 0, 0, 0]])
    other = torch.tensor([[1, 0, 5, 2, 3, 3], [1, 6, 2, 3, 3, 3]])
    odd = torch.tensor([[3, 5, 3, 3], [1, 3, 6, 2]])
    return attempts(
        lambda: m.teacher_forcing(target, 0),
        lambda: m.teacher_forcing(other, 3),
        lambda: m.teacher_forcing(odd, 3),
    )


@PROBES.add
def exact_matches(m):
    return attempts(
        lambda: m.exact_match([["1", "2"], ["3"]], [["1", "2"], ["4"]]),
        lambda: m.exact_match([("1", "2"), ["3", "4"]], [["1", "2"], ("3", "4")]),
        lambda: m.exact_match([["1", "2", "3"], ["5"]], [["1", "2"], ["5", "6"]]),
        lambda: m.exact_match([["1"]], [["1"], ["2"]]),
        lambda: m.exact_match([], []),
        lambda: m.exact_match([["7"], ["8"], ["9"], []], [["7"], ["8"], ["1"], []]),
    )


@PROBES.add
def digit_accuracies(m):
    return attempts(
        lambda: m.digit_accuracy([["1", "2", "3"]], [["1", "5", "3"]]),
        lambda: m.digit_accuracy([["1"], ["4", "5", "6"]], [["1", "2", "3"], ["4", "5"]]),
        lambda: m.digit_accuracy([["9", "1", "2"]], [["1", "2"]]),
        lambda: m.digit_accuracy([[], ["3"]], [["1", "2", "3", "4"], ["3"]]),
        lambda: m.digit_accuracy([["1", "2"]], [["1", "2"], ["3"]]),
        lambda: m.digit_accuracy([], []),
        lambda: m.digit_accuracy([("0", "7"), ["0", "8"]], [["0", "7"], ("1", "8")]),
    )
