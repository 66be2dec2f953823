"""Part 9 checks: vocabularies, the addition and parser encodings, batching and metrics.

They call only what the student writes in ``tasks.py`` (no model, no earlier part). The
reference functions here (``reference_*``) are the checks' own, so that a bug in the
student's module never makes a check agree with it.
"""

import operator
import random
import re
from typing import Any

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from tests import harness, strategies

pytestmark = pytest.mark.part9

DIGITS = tuple("0123456789")
VARIABLES = ("x", "y", "z")
OPERATORS = {"+": "ADD", "-": "SUB", "*": "MUL", "/": "DIV"}
PRECEDENCE = {"ADD": 1, "SUB": 1, "MUL": 2, "DIV": 2}
COPY_SYMBOLS = tuple(str(i) for i in range(1, 20))
ADDITION_SYMBOLS = (*DIGITS, "+")
PARSER_SYMBOLS = (*DIGITS, *VARIABLES, "=", "(", ")", *OPERATORS, "ASSIGN", *PRECEDENCE)
TASK_VOCABULARIES = {
    "copy_vocabulary()": COPY_SYMBOLS,
    "addition_vocabulary()": ADDITION_SYMBOLS,
    "parser_vocabulary()": PARSER_SYMBOLS,
}


# ---------------------------------------------------------------- reference and helpers


def reference_random_tree(rng: random.Random, operators: int) -> Any:
    """An expression tree with ``operators`` binary nodes."""
    if operators == 0:
        return rng.choice(DIGITS + VARIABLES)
    left = rng.randint(0, operators - 1)
    label = rng.choice(tuple(PRECEDENCE))
    return (
        label,
        reference_random_tree(rng, left),
        reference_random_tree(rng, operators - 1 - left),
    )


def reference_statement(seed: int, operators: int) -> tuple:
    rng = random.Random(seed)
    return ("ASSIGN", rng.choice(VARIABLES), reference_random_tree(rng, operators))


def reference_render(tree: Any, spaces: bool = False, extra_parentheses: bool = False) -> str:
    """Source text of ``tree``: minimal parentheses, or every operation in parentheses."""
    if isinstance(tree, str):
        return tree
    label, left, right = tree
    gap = " " if spaces else ""
    if label == "ASSIGN":
        return f"{left}{gap}={gap}{reference_render(right, spaces, extra_parentheses)}"
    symbol = next(s for s, name in OPERATORS.items() if name == label)

    def operand(child: Any, is_right: bool) -> str:
        text = reference_render(child, spaces, extra_parentheses)
        if isinstance(child, tuple) and (
            extra_parentheses
            or PRECEDENCE[child[0]] < PRECEDENCE[label]
            or (is_right and PRECEDENCE[child[0]] == PRECEDENCE[label])
        ):
            return f"({text})"
        return text

    return f"{operand(left, False)}{gap}{symbol}{gap}{operand(right, True)}"


def reference_prefix(tree: Any) -> list[str]:
    if isinstance(tree, str):
        return [tree]
    label, left, right = tree
    return [label, *reference_prefix(left), *reference_prefix(right)]


def statements(max_operators: int = 5) -> st.SearchStrategy[tuple]:
    """Statement trees ``("ASSIGN", variable, expression)`` (shrink towards fewer operators)."""
    return st.builds(
        reference_statement, seed=strategies.SEEDS, operators=st.integers(0, max_operators)
    )


def as_int(value: Any, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        harness.fail(f"{what} should be an int, got {type(value).__name__}: {value!r}")
    raise AssertionError("unreachable")


def as_symbols(value: Any, what: str) -> list[str]:
    """A returned sequence of symbols as a list of str."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(s, str) for s in value):
        harness.fail(f"{what} should be a list (or tuple) of strings, got {value!r}")
    return list(value)


def as_ids(value: Any, what: str) -> list[int]:
    if not isinstance(value, (list, tuple)):
        harness.fail(f"{what} should be a list of ints, got {type(value).__name__}: {value!r}")
    return [as_int(v, f"each entry of {what}") for v in value]


def as_tree(value: Any, what: str) -> Any:
    """A returned tree with tuples for nodes (lists are accepted as nodes too)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and len(value) == 3:
        return tuple(as_tree(child, what) for child in value)
    harness.fail(
        f"{what} should be a tree: a string leaf or a (label, left, right) tuple, got {value!r}"
    )
    return None


def size(vocabulary: Any) -> int:
    return as_int(len(vocabulary), "len(vocabulary)")


def make_vocabulary(tasks: Any, name: str) -> Any:
    return getattr(tasks, name.removesuffix("()"))()


def positions_named(error: BaseException) -> list[int]:
    return [int(n) for n in re.findall(r"position (\d+)", str(error))]


# ---------------------------------------------------------------- vocabularies


@given(
    symbols=st.lists(
        st.text(alphabet="abcxyz019+-*<>", min_size=1, max_size=3),
        min_size=1,
        max_size=12,
        unique=True,
    ).filter(lambda s: not {"<pad>", "<bos>", "<eos>"} & set(s))
)
def test_vocabularies_give_every_symbol_its_own_id(tasks, symbols):
    cases = [(f"Vocabulary({symbols!r})", tasks.Vocabulary(symbols), tuple(symbols))]
    cases += [(name, make_vocabulary(tasks, name), s) for name, s in TASK_VOCABULARIES.items()]
    for what, vocabulary, content in cases:
        total = size(vocabulary)
        specials = {
            name: as_int(getattr(vocabulary, f"{name}_id"), f"{what}.{name}_id")
            for name in ("pad", "bos", "eos")
        }
        harness.expect(
            len(set(specials.values())) == 3,
            f"{what}: PAD, BOS and EOS must have three different ids, got {specials}",
        )
        owner = {token_id: f"<{name}>" for name, token_id in specials.items()}
        for symbol in content:
            token_id = as_int(vocabulary.id_of(symbol), f"{what}.id_of({symbol!r})")
            harness.expect(
                0 <= token_id < total,
                f"{what}: id_of({symbol!r}) = {token_id} is outside 0..{total - 1} "
                f"(len(vocabulary) = {total})",
            )
            harness.expect(
                token_id not in owner,
                f"{what}: {symbol!r} and {owner.get(token_id)!r} share the id {token_id} "
                f"(every symbol needs its own id; a digit 0 with the padding id would be "
                f"masked out of attention)",
            )
            owner[token_id] = symbol
        harness.expect(
            total == len(content) + 3,
            f"{what}: len(vocabulary) is {total}, expected {len(content) + 3} "
            f"({len(content)} symbols and PAD, BOS, EOS)",
        )


@given(
    data=st.data(),
    name=st.sampled_from(sorted(TASK_VOCABULARIES)),
    padding=st.integers(0, 3),
)
def test_vocabulary_encode_decode_round_trip(tasks, data, name, padding):
    content = TASK_VOCABULARIES[name]
    sequence = data.draw(st.lists(st.sampled_from(content), max_size=12), label="sequence")
    vocabulary = make_vocabulary(tasks, name)
    bos, eos, pad = (
        as_int(getattr(vocabulary, f"{n}_id"), f"{n}_id") for n in ("bos", "eos", "pad")
    )
    plain = as_ids(vocabulary.encode(sequence), f"{name}.encode({sequence})")
    harness.expect(
        len(plain) == len(sequence),
        f"{name}.encode({sequence}) gave {plain}: one id per symbol expected",
    )
    for symbol, token_id in zip(sequence, plain, strict=True):
        back = vocabulary.symbol_of(token_id)
        harness.expect(
            back == symbol,
            f"{name}: symbol_of(id_of({symbol!r})) is {back!r}, expected {symbol!r}",
        )
    framed = as_ids(
        vocabulary.encode(sequence, bos=True, eos=True), f"{name}.encode(..., bos=True, eos=True)"
    )
    harness.expect(
        framed == [bos, *plain, eos],
        f"{name}.encode({sequence}, bos=True, eos=True) is {framed}, expected "
        f"{[bos, *plain, eos]} (BOS, the symbols' ids, EOS)",
    )
    # Whatever follows EOS (padding, or tokens a model generated after it) is not read.
    tail = [pad] * padding + [as_int(vocabulary.id_of(content[0]), "id_of"), *plain[:2]]
    decoded = as_symbols(vocabulary.decode(framed + tail), f"{name}.decode")
    harness.expect(
        decoded == list(sequence),
        f"{name}.decode({framed + tail}) is {decoded}, expected {list(sequence)} "
        f"(skip BOS and PAD, stop at the first EOS: nothing after it is read)",
    )
    # A generation that never wrote EOS, padded to the batch's length: BOS and PAD skipped.
    unfinished = [bos, *plain] + [pad] * (padding + 1)
    decoded = as_symbols(vocabulary.decode(unfinished), f"{name}.decode")
    harness.expect(
        decoded == list(sequence),
        f"{name}.decode({unfinished}) is {decoded}, expected {list(sequence)} "
        f"(BOS and PAD are skipped, not decoded as symbols)",
    )


# ---------------------------------------------------------------- addition


@given(digits=st.integers(1, 5), data=st.data())
def test_addition_examples_pad_and_carry(tasks, digits, data):
    top = 10**digits - 1
    a = data.draw(st.integers(0, top) | st.just(top), label="a")
    b = data.draw(st.integers(0, top) | st.just(top - a), label="b")
    expected = (
        (*f"{a:0{digits}d}", "+", *f"{b:0{digits}d}"),
        tuple(f"{a + b:0{digits + 1}d}"),
    )
    example = tasks.addition_example(a, b, digits)
    if not isinstance(example, (list, tuple)) or len(example) != 2:
        harness.fail(f"addition_example should return (source, target), got {example!r}")
    got = (
        tuple(as_symbols(example[0], "the source")),
        tuple(as_symbols(example[1], "the target")),
    )
    harness.expect(
        got == expected,
        f"addition_example({a}, {b}, {digits}) is {got}, expected {expected} (operands "
        f"zero-padded to {digits} digits, the sum to {digits + 1})",
    )
    for bad_a, bad_b in ((top + 1, b), (a, top + 1), (-1, b), (a, -1)):
        harness.expect_raises(
            ValueError,
            tasks.addition_example,
            bad_a,
            bad_b,
            digits,
            what=f"addition_example({bad_a}, {bad_b}, {digits}) (an operand that does not fit "
            f"in {digits} digits, or is negative)",
        )
    total = tasks.read_sum(list(expected[1]))
    harness.expect(total == a + b, f"read_sum({list(expected[1])}) is {total!r}, expected {a + b}")
    for bad in ([], ["1", "+", "2"], ["<eos>"]):
        harness.expect(tasks.read_sum(bad) is None, f"read_sum({bad}) should be None")


# ---------------------------------------------------------------- parser


FIXED_PARSES = {
    "x=1-2-3": ("ASSIGN", "x", ("SUB", ("SUB", "1", "2"), "3")),
    "y=8/4/2": ("ASSIGN", "y", ("DIV", ("DIV", "8", "4"), "2")),
    "z=1+2*3": ("ASSIGN", "z", ("ADD", "1", ("MUL", "2", "3"))),
    "x=(1+2)*3": ("ASSIGN", "x", ("MUL", ("ADD", "1", "2"), "3")),
    "x=1-(2-y)": ("ASSIGN", "x", ("SUB", "1", ("SUB", "2", "y"))),
    "y=0": ("ASSIGN", "y", "0"),
}


@given(tree=statements())
def test_parse_respects_precedence_and_associativity(tasks, tree):
    for text, expected in [*FIXED_PARSES.items(), (reference_render(tree), tree)]:
        got = as_tree(tasks.parse(text), f"parse({text!r})")
        harness.expect(got == expected, f"parse({text!r}) is {got}, expected {expected}")


BAD_STATEMENTS = {
    "x=1+": 4,
    "x=1+*2": 4,
    "x=(1+2": 6,
    "x=1+2)": 5,
    "x=12": 3,
    "=1": 0,
    "x1": 1,
    "x = 1 + + 2": 8,
    "x=1%2": 3,
    "x = 1 +": 7,
    "x = (1 + 2  ": 12,
    "1=2": 0,
    "x=()": 3,
    "x=1 2": 4,
}
"""Bad statement -> the position its error must name (``len(text)`` when it ends early)."""

GOOD_STATEMENTS = {
    "x = (1 + 2) * 3 ": ("ASSIGN", "x", ("MUL", ("ADD", "1", "2"), "3")),
    " y=z/(2-x)": ("ASSIGN", "y", ("DIV", "z", ("SUB", "2", "x"))),
    "z=7": ("ASSIGN", "z", "7"),
}


def test_parse_errors_name_the_position(tasks):
    # A parser that refuses everything names no position worth having: good text parses.
    for text, expected in GOOD_STATEMENTS.items():
        got = as_tree(tasks.parse(text), f"parse({text!r})")
        harness.expect(got == expected, f"parse({text!r}) is {got}, expected {expected}")
    for text, position in BAD_STATEMENTS.items():
        error = harness.expect_raises(ValueError, tasks.parse, text, what=f"parse({text!r})")
        harness.expect(
            position in positions_named(error),
            f"parse({text!r}) raised ValueError({str(error)!r}); its message should say "
            f"'position {position}' (the 0-based index of the first character that cannot "
            f"be right, or the length of the text when it ends too early)",
        )


@given(tree=statements(6))
def test_tree_linearisation_round_trips(tasks, tree):
    expected = reference_prefix(tree)
    tokens = as_symbols(tasks.tree_to_tokens(tree), f"tree_to_tokens({tree})")
    harness.expect(
        tokens == expected,
        f"tree_to_tokens({tree}) is {tokens}, expected {expected} (each label, then its "
        f"children, every node kept)",
    )
    back = as_tree(tasks.tokens_to_tree(expected), f"tokens_to_tree({expected})")
    harness.expect(back == tree, f"tokens_to_tree({expected}) is {back}, expected {tree}")


MALFORMED_TREES = [
    ["ASSIGN", "x"],
    ["ASSIGN", "x", "ADD", "1"],
    ["ASSIGN", "x", "1", "2"],
    ["ADD", "1", "2"],
    ["ADD", "x", "2"],
    ["ASSIGN", "1", "2"],
    ["ASSIGN", "ADD", "1", "2"],
    ["ASSIGN", "x", "MUL", "+", "2"],
    ["ASSIGN", "x", "SUB", "ASSIGN", "y", "1", "2"],
    ["ASSIGN", "x", "ADD", "1", "12"],
    ["ASSIGN", "x", "(", "1", ")"],
    ["x", "ASSIGN", "1"],
    [],
]


@given(tree=statements(5))
def test_tokens_to_tree_rejects_malformed(tasks, tree):
    tokens = reference_prefix(tree)
    # A reader that refuses everything rejects the malformed too: the well-formed are read.
    back = as_tree(tasks.tokens_to_tree(tokens), f"tokens_to_tree({tokens})")
    harness.expect(back == tree, f"tokens_to_tree({tokens}) is {back}, expected {tree}")
    for bad, why in [
        (tokens[:-1], "its last operand is missing"),
        ([*tokens, tokens[-1]], "a token is left over after the tree ends"),
        *((t, "it is not a statement tree") for t in MALFORMED_TREES),
    ]:
        harness.expect_raises(
            ValueError, tasks.tokens_to_tree, bad, what=f"tokens_to_tree({bad}) ({why})"
        )


# ---------------------------------------------------------------- batches and metrics


@given(
    lengths=st.lists(st.integers(2, 7), min_size=1, max_size=4),
    pad=st.sampled_from([0, 3, 9]),
    seed=strategies.SEEDS,
)
@example(lengths=[3, 6, 2], pad=3, seed=0)
def test_batches_pad_and_shift_for_teacher_forcing(tasks, lengths, pad, seed):
    generator = torch.Generator().manual_seed(seed)
    # Content ids avoid the padding id, as a vocabulary's do.
    rows = [[int(t) for t in torch.randint(10, 20, (n,), generator=generator)] for n in lengths]
    width = max(lengths)
    expected = torch.tensor([row + [pad] * (width - len(row)) for row in rows])
    batch = harness.expect_equal(
        tasks.pad_batch(rows, pad), expected, f"pad_batch({rows}, pad_id={pad})"
    )
    inputs, labels = harness.pair(tasks.teacher_forcing(batch.clone(), pad), "teacher_forcing")
    harness.expect_equal(
        inputs, expected[:, :-1], "decoder inputs (the target without its last column)"
    )
    harness.expect_equal(
        labels,
        expected[:, 1:].masked_fill(expected[:, 1:] == pad, -100),
        "labels (the target without its first column, -100 at padding)",
    )


def reference_metrics(predicted: list, expected: list) -> tuple[float, float]:
    """(exact match, digit accuracy) as the docstrings define them."""
    exact = sum(list(p) == list(e) for p, e in zip(predicted, expected, strict=True))
    right = sum(
        i < len(p) and p[i] == symbol
        for p, e in zip(predicted, expected, strict=True)
        for i, symbol in enumerate(e)
    )
    return exact / len(expected), right / sum(len(e) for e in expected)


def as_fraction(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        harness.fail(f"{what} should be a number, got {type(value).__name__}: {value!r}")
    raise AssertionError("unreachable")


@st.composite
def predictions(draw: st.DrawFn) -> tuple[list, list]:
    """(predicted, expected): answers, and predictions that are right, cut short, too long or
    wrong in one symbol. Predictions are tuples (as ``Task.decode_target`` gives them),
    answers lists."""
    digit = st.sampled_from(DIGITS)
    expected = draw(st.lists(st.lists(digit, min_size=1, max_size=5), min_size=1, max_size=6))
    predicted = []
    for answer in expected:
        kind = draw(st.sampled_from(["right", "short", "long", "wrong"]))
        guess = list(answer)
        if kind == "short":
            guess = guess[: draw(st.integers(0, len(guess) - 1))]
        elif kind == "long":
            guess += draw(st.lists(digit, min_size=1, max_size=3))
        elif kind == "wrong":
            at = draw(st.integers(0, len(guess) - 1))
            guess[at] = "+" if guess[at] != "+" else "0"
        predicted.append(tuple(guess))
    return predicted, expected


FIXED_PREDICTIONS = (
    [("1", "0", "2"), ("0", "9"), ("1", "2", "1", "7"), ("5", "5"), ("4",)],
    [["1", "0", "2"], ["0", "9", "9"], ["1", "1", "1"], ["5"], ["4"]],
)
"""Exact match 2/5; digit accuracy 9/11 (a missing symbol is wrong, an extra one is free)."""


@given(case=predictions())
def test_metrics_exact_match_and_digit_accuracy(tasks, case):
    answers = case[1]
    for predicted, expected in (FIXED_PREDICTIONS, case, (answers, answers)):
        exact, accuracy = reference_metrics(predicted, expected)
        match = as_fraction(tasks.exact_match(predicted, expected), "exact_match")
        harness.expect(
            abs(match - exact) < 1e-9,
            f"exact_match({predicted}, {expected}) is {match!r}, expected {exact:.6g} (the "
            f"fraction of predictions equal to their answer, symbol for symbol and length for "
            f"length; a prediction may be a tuple and its answer a list)",
        )
        got = as_fraction(tasks.digit_accuracy(predicted, expected), "digit_accuracy")
        harness.expect(
            abs(got - accuracy) < 1e-9,
            f"digit_accuracy({predicted}, {expected}) is {got!r}, expected {accuracy:.6g} "
            f"(right symbols over all expected symbols of all examples; a missing symbol "
            f"counts as wrong, an extra one costs nothing)",
        )
