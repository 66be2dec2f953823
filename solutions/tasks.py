"""Part 9: three tasks a small Transformer learns - copy, addition and a parser.

Every task turns an example into two lists of token ids: the source, read by the encoder,
and the target ``[BOS, ..., EOS]``, produced by the decoder one token at a time. What you
write here is the data side: vocabularies, the addition and parser encodings, batching with
teacher forcing, and the metrics. Training and evaluation (``solutions.training``) and the
plots (``solutions.plots``) use it as given code.

Three rules the textbook's version broke, and this one keeps:

* PAD, BOS and EOS have ids of their own. The digit 0 is a token like any other: if it
  shared the padding id, every real 0 would be masked out of attention.
* One vocabulary per task, built once, used both to encode and to decode: no arithmetic on
  ids (the textbook encoded digits as ``d + 14`` and decoded them as ``id - 13``).
* The parse tree is linearised so that it can be read back: every node is kept, a single
  number included.

Each task's recipe (its generator, held-out set, model and training) is data in
``recipes/<task>.toml``. From the repository (see ``docs/benchmarks.md``)::

    python -m autograder datasets                 # regenerate datasets/ bit for bit
    python -m autograder train addition --steps 2000 --device cpu
"""

from __future__ import annotations

import hashlib
import inspect
import json
import random
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from . import recipes

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
"""The special tokens have the same ids in every vocabulary; content tokens come after."""

DIGITS = tuple("0123456789")
VARIABLES = ("x", "y", "z")
OPERATORS = {"+": "ADD", "-": "SUB", "*": "MUL", "/": "DIV"}
"""Source operator -> tree node. All four are binary and left-associative."""
PRECEDENCE = {"ADD": 1, "SUB": 1, "MUL": 2, "DIV": 2}
PUNCTUATION = ("=", "(", ")")
ASSIGN = "ASSIGN"

Tree = tuple | str
"""A parse tree: a leaf is a variable or a digit (``"x"``, ``"7"``); a node is a tuple
``(label, left, right)`` with label ``ASSIGN``, ``ADD``, ``SUB``, ``MUL`` or ``DIV``. The
root of a statement is ``("ASSIGN", variable, expression)``."""

Example = tuple[tuple[str, ...], tuple[str, ...]]
"""(source symbols, target symbols) of one example, specials not included."""

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"
MANIFEST = DATASETS / "MANIFEST.sha256"


# ---------------------------------------------------------------------------- vocabulary


class Vocabulary:
    """A bijection between symbols and token ids.

    Ids 0, 1, 2 are PAD, BOS and EOS; the content symbols get the ids 3, 4, ... in the order
    given. ``len(vocabulary)`` is the number of ids (specials included), which is the
    model's vocabulary size.

    Args:
        symbols: the content symbols, each a non-empty string.

    Raises:
        ValueError: a symbol is repeated, is one of the specials, or is not a non-empty str.
    """

    def __init__(self, symbols: Sequence[str]) -> None:
        self.pad_id, self.bos_id, self.eos_id = PAD_ID, BOS_ID, EOS_ID
        ### BEGIN SOLUTION
        self.symbols: tuple[str, ...] = (*SPECIALS, *symbols)
        self._ids: dict[str, int] = {}
        for index, symbol in enumerate(self.symbols):
            if not isinstance(symbol, str) or not symbol:
                raise ValueError(f"symbols must be non-empty strings, got {symbol!r}")
            if symbol in self._ids:
                raise ValueError(f"symbol {symbol!r} appears twice (or is a special token)")
            self._ids[symbol] = index
        ### END SOLUTION

    def __len__(self) -> int:
        ### BEGIN SOLUTION
        return len(self.symbols)
        ### END SOLUTION

    def id_of(self, symbol: str) -> int:
        """The id of ``symbol``; ``ValueError`` naming it when it is not in the vocabulary."""
        ### BEGIN SOLUTION
        if symbol not in self._ids:
            raise ValueError(f"unknown symbol {symbol!r}")
        return self._ids[symbol]
        ### END SOLUTION

    def symbol_of(self, token_id: int) -> str:
        """The symbol with id ``token_id``; ``ValueError`` when no symbol has it."""
        ### BEGIN SOLUTION
        if not 0 <= token_id < len(self.symbols):
            raise ValueError(f"no symbol has id {token_id} (vocabulary of {len(self)} ids)")
        return self.symbols[token_id]
        ### END SOLUTION

    def encode(self, symbols: Sequence[str], bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of ``symbols``, optionally with BOS in front and EOS at the end."""
        ### BEGIN SOLUTION
        ids = [self.id_of(symbol) for symbol in symbols]
        return [self.bos_id] * bos + ids + [self.eos_id] * eos
        ### END SOLUTION

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Symbols of ``ids``, read up to the first EOS; BOS and PAD are skipped.

        ``decode(encode(s, bos=True, eos=True)) == list(s)`` for every content sequence s,
        and so is ``decode`` of the same ids followed by padding or by anything after EOS.
        """
        ### BEGIN SOLUTION
        out = []
        for token_id in ids:
            token_id = int(token_id)
            if token_id == self.eos_id:
                break
            if token_id not in (self.pad_id, self.bos_id):
                out.append(self.symbol_of(token_id))
        return out
        ### END SOLUTION


def copy_vocabulary(num_symbols: int = 19) -> Vocabulary:
    """Copy task: the content symbols are the strings ``"1"`` .. ``str(num_symbols)``."""
    return Vocabulary([str(i) for i in range(1, num_symbols + 1)])


def addition_vocabulary() -> Vocabulary:
    """Addition: the ten digits ``"0"`` .. ``"9"`` and ``"+"``."""
    return Vocabulary([*DIGITS, "+"])


def parser_vocabulary() -> Vocabulary:
    """Parser: one vocabulary for the expressions and the trees (source and target).

    Digits, variables, ``= ( ) + - * /`` and the node labels ``ASSIGN ADD SUB MUL DIV``.
    """
    return Vocabulary([*DIGITS, *VARIABLES, *PUNCTUATION, *OPERATORS, ASSIGN, *PRECEDENCE])


# ---------------------------------------------------------------------------- addition


def addition_example(a: int, b: int, digits: int) -> Example:
    """The symbols of ``a + b`` with operands of ``digits`` digits.

    The source is ``a`` and ``b`` zero-padded to ``digits`` digits around ``"+"``; the
    target is the sum zero-padded to ``digits + 1`` digits (room for the final carry), most
    significant digit first. ``addition_example(7, 95, 3)`` is
    ``(("0", "0", "7", "+", "0", "9", "5"), ("0", "1", "0", "2"))``.

    Raises:
        ValueError: an operand is negative or has more than ``digits`` digits.
    """
    ### BEGIN SOLUTION
    for name, value in (("a", a), ("b", b)):
        if not 0 <= value < 10**digits:
            raise ValueError(f"{name} = {value} does not fit in {digits} digits")
    source = (*f"{a:0{digits}d}", "+", *f"{b:0{digits}d}")
    return source, tuple(f"{a + b:0{digits + 1}d}")
    ### END SOLUTION


def read_sum(symbols: Sequence[str]) -> int | None:
    """The number written by ``symbols`` (most significant digit first), or None when they
    are not a non-empty run of digits."""
    ### BEGIN SOLUTION
    if not symbols or any(s not in DIGITS for s in symbols):
        return None
    return int("".join(symbols))
    ### END SOLUTION


# ---------------------------------------------------------------------------- parser


def tokenize(text: str) -> list[str]:
    """Split a statement such as ``"x = (1+y)*2"`` into symbols; spaces are ignored.

    Raises:
        ValueError: a character is not a digit, a variable, an operator, ``=`` or a
            parenthesis; the message says ``position N`` (0-based index in ``text``).
    """
    return [symbol for symbol, _ in _tokens_with_positions(text)]


def _tokens_with_positions(text: str) -> list[tuple[str, int]]:
    allowed = {*DIGITS, *VARIABLES, *OPERATORS, *PUNCTUATION}
    tokens = []
    for position, char in enumerate(text):
        if char.isspace():
            continue
        if char not in allowed:
            raise ValueError(f"unexpected character {char!r} at position {position}")
        tokens.append((char, position))
    return tokens


def parse(text: str) -> Tree:
    """Parse a statement ``variable = expression`` into its tree.

    Grammar (``*`` and ``/`` bind tighter than ``+`` and ``-``; all four are
    left-associative; a number is one digit)::

        statement  := VARIABLE "=" expression
        expression := term (("+" | "-") term)*
        term       := factor (("*" | "/") factor)*
        factor     := DIGIT | VARIABLE | "(" expression ")"

    ``parse("x=1-2-3*y")`` is ``("ASSIGN", "x", ("SUB", ("SUB", "1", "2"), ("MUL", "3", "y")))``.

    Raises:
        ValueError: the text is not a statement; the message says ``position N``, the
            0-based index in ``text`` of the first character that cannot be right
            (``len(text)`` when the text ends too early).
    """
    tokens = _tokens_with_positions(text)
    ### BEGIN SOLUTION
    at = 0

    def peek() -> str | None:
        return tokens[at][0] if at < len(tokens) else None

    def error(expected: str) -> ValueError:
        if at < len(tokens):
            symbol, position = tokens[at]
            return ValueError(f"expected {expected} at position {position}, found {symbol!r}")
        return ValueError(f"expected {expected} at position {len(text)}, found the end")

    def take(allowed: Sequence[str], expected: str) -> str:
        nonlocal at
        symbol = peek()
        if symbol is None or symbol not in allowed:
            raise error(expected)
        at += 1
        return tokens[at - 1][0]

    def binary(operand: Callable[[], Tree], operators: str) -> Tree:
        # A loop, not recursion on the right: that is what makes the operators left-associative.
        tree = operand()
        while peek() is not None and peek() in operators:
            label = OPERATORS[take(operators, "an operator")]
            tree = (label, tree, operand())
        return tree

    def factor() -> Tree:
        if peek() == "(":
            take("(", "'('")
            inner = expression()
            take(")", "')'")
            return inner
        return take((*DIGITS, *VARIABLES), "a digit, a variable or '('")

    def term() -> Tree:
        return binary(factor, "*/")

    def expression() -> Tree:
        return binary(term, "+-")

    target = take(VARIABLES, "a variable")
    take("=", "'='")
    tree = (ASSIGN, target, expression())
    if at < len(tokens):
        raise error("an operator or the end")
    return tree
    ### END SOLUTION


def tree_to_tokens(tree: Tree) -> list[str]:
    """The prefix (Polish) linearisation of ``tree``: each node's label, then its children.

    ``tree_to_tokens(("ASSIGN", "x", ("ADD", "1", "2")))`` is
    ``["ASSIGN", "x", "ADD", "1", "2"]``; ``("ASSIGN", "y", "5")`` gives
    ``["ASSIGN", "y", "5"]`` (a single number is a node like any other). Every label has a
    fixed arity, so no brackets are needed to read it back (:func:`tokens_to_tree`).
    """
    ### BEGIN SOLUTION
    if isinstance(tree, str):
        return [tree]
    label, *children = tree
    return [label] + [token for child in children for token in tree_to_tokens(child)]
    ### END SOLUTION


def tokens_to_tree(tokens: Sequence[str]) -> Tree:
    """Read back a statement tree from its prefix linearisation (inverse of
    :func:`tree_to_tokens` on the trees :func:`parse` returns).

    Raises:
        ValueError: ``tokens`` is not the linearisation of a statement: it does not start
            with ``ASSIGN`` and a variable, an operand is missing, a token is left over, or
            a token is not a label, a digit or a variable.
    """
    ### BEGIN SOLUTION
    tokens = list(tokens)
    if len(tokens) < 2 or tokens[0] != ASSIGN or tokens[1] not in VARIABLES:
        raise ValueError("a statement tree starts with ASSIGN and a variable")
    at = 2

    def read() -> Tree:
        nonlocal at
        if at >= len(tokens):
            raise ValueError(f"an operand is missing at token {at}")
        token = tokens[at]
        at += 1
        if token in PRECEDENCE:
            left = read()
            return (token, left, read())
        if token in DIGITS or token in VARIABLES:
            return token
        raise ValueError(f"token {at - 1} ({token!r}) cannot appear in an expression tree")

    tree = (ASSIGN, tokens[1], read())
    if at != len(tokens):
        raise ValueError(f"{len(tokens) - at} token(s) left over after the tree ends")
    return tree
    ### END SOLUTION


def is_well_formed(tokens: Sequence[str]) -> bool:
    """Whether ``tokens`` is the linearisation of a statement tree."""
    try:
        tokens_to_tree(tokens)
    except ValueError:
        return False
    return True


def render(tree: Tree) -> str:
    """Source text of a tree with only the parentheses it needs: ``parse(render(t)) == t``.

    A left operand needs parentheses when it binds less tightly than its parent; a right
    operand also when it binds equally, because the operators are left-associative.
    """
    if isinstance(tree, str):
        return tree
    label, left, right = tree
    if label == ASSIGN:
        return f"{left}={render(right)}"
    symbol = next(s for s, name in OPERATORS.items() if name == label)

    def operand(child: Tree, tighter_needed: bool) -> str:
        text = render(child)
        if isinstance(child, tuple):
            child_precedence = PRECEDENCE[child[0]]
            if child_precedence < PRECEDENCE[label] or (
                tighter_needed and child_precedence == PRECEDENCE[label]
            ):
                return f"({text})"
        return text

    return operand(left, False) + symbol + operand(right, True)


# ---------------------------------------------------------------------------- batches


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    """Stack token id lists of different lengths into a ``(B, T)`` int64 tensor.

    ``T`` is the longest length; shorter sequences are filled with ``pad_id`` at the end.
    """
    ### BEGIN SOLUTION
    width = max(len(s) for s in sequences)
    batch = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = torch.as_tensor(list(sequence), dtype=torch.long)
    return batch
    ### END SOLUTION


def teacher_forcing(target: torch.Tensor, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder inputs and labels from padded targets ``[BOS, y1, ..., yn, EOS, PAD...]``.

    Teacher forcing feeds the decoder the true previous token: at position t it reads
    token t and must predict token t + 1.

    Args:
        target: ``(B, T)`` padded target ids, each row starting with BOS.
        pad_id: the padding id.

    Returns:
        ``(inputs, labels)``, both ``(B, T - 1)``: ``inputs`` is ``target`` without its last
        column; ``labels`` is ``target`` without its first column, with ``-100`` (the
        ``ignore_index`` of ``torch.nn.functional.cross_entropy``) wherever it is padding.
    """
    ### BEGIN SOLUTION
    labels = target[:, 1:].masked_fill(target[:, 1:] == pad_id, -100)
    return target[:, :-1], labels
    ### END SOLUTION


# ---------------------------------------------------------------------------- metrics


def exact_match(predicted: Sequence[Sequence[str]], expected: Sequence[Sequence[str]]) -> float:
    """Fraction of examples whose predicted symbols equal the expected ones exactly."""
    ### BEGIN SOLUTION
    if len(predicted) != len(expected) or not expected:
        raise ValueError(f"{len(predicted)} predictions for {len(expected)} examples")
    return sum(list(p) == list(e) for p, e in zip(predicted, expected, strict=True)) / len(expected)
    ### END SOLUTION


def digit_accuracy(predicted: Sequence[Sequence[str]], expected: Sequence[Sequence[str]]) -> float:
    """Fraction of expected symbols predicted right at their position.

    Position i of an example counts as right when the prediction has the expected symbol at
    index i; a prediction that is too short gets its missing positions wrong, and extra
    predicted symbols cost nothing. The fraction is over all expected symbols of all
    examples.
    """
    ### BEGIN SOLUTION
    if len(predicted) != len(expected) or not expected:
        raise ValueError(f"{len(predicted)} predictions for {len(expected)} examples")
    right = total = 0
    for p, e in zip(predicted, expected, strict=True):
        right += sum(i < len(p) and p[i] == symbol for i, symbol in enumerate(e))
        total += len(e)
    return right / total
    ### END SOLUTION


# ---------------------------------------------------------------------------- tasks (given)


@dataclass(frozen=True)
class Task:
    """A task: its vocabulary, a seeded example generator and the encoding of examples.

    Attributes:
        name: the name used by the command line and by ``datasets/``.
        vocabulary: shared by source and target.
        generate: draws one example from a ``random.Random``.
        reverse_target: emit the target in reverse order (addition least-significant digit
            first); examples and metrics keep the natural order.
        max_source_len, max_target_len: longest source and target in ids, specials included.
        heldout: the frozen evaluation set whose examples training never sees.
    """

    name: str
    vocabulary: Vocabulary
    generate: Callable[[random.Random], Example]
    max_source_len: int
    max_target_len: int
    heldout: str
    reverse_target: bool = False

    def encode(self, example: Example) -> tuple[list[int], list[int]]:
        """(source ids, target ids ``[BOS, ..., EOS]``) of an example."""
        source, target = example
        if self.reverse_target:
            target = target[::-1]
        return self.vocabulary.encode(source), self.vocabulary.encode(target, bos=True, eos=True)

    def decode_target(self, ids: Sequence[int]) -> tuple[str, ...]:
        """The target symbols in natural order from generated ids (up to EOS)."""
        symbols = tuple(self.vocabulary.decode(ids))
        return symbols[::-1] if self.reverse_target else symbols


def copy_generator(min_len: int, max_len: int, symbols: int) -> Callable:
    """Sequences of ``min_len`` to ``max_len`` symbols ``"1"`` .. ``str(symbols)``, copied."""
    lengths = range(min_len, max_len + 1)
    # There are only `symbols` sequences of length 1: drawn as often as the others, they
    # would all land in the held-out set and training would never see one.
    weights = [0.1 if length == 1 else 1.0 for length in lengths]

    def generate(rng: random.Random) -> Example:
        length = rng.choices(lengths, weights)[0]
        sequence = tuple(str(rng.randint(1, symbols)) for _ in range(length))
        return sequence, sequence

    return generate


def addition_generator(digits: int, max_operand: int) -> Callable:
    """Sums of two operands drawn from 0 .. ``max_operand``, written with ``digits`` digits."""

    def generate(rng: random.Random) -> Example:
        return addition_example(rng.randint(0, max_operand), rng.randint(0, max_operand), digits)

    return generate


def random_tree(rng: random.Random, operators: int) -> Tree:
    """An expression tree with ``operators`` binary nodes, shape and leaves drawn by ``rng``."""
    if operators == 0:
        return rng.choice(DIGITS + VARIABLES)
    left = rng.randint(0, operators - 1)
    label = rng.choice(tuple(PRECEDENCE))
    return (label, random_tree(rng, left), random_tree(rng, operators - 1 - left))


def parser_generator(max_tokens: int) -> Callable:
    """Statements ``v = expression`` of at most ``max_tokens`` tokens, and their trees."""
    # An expression with k operators has 2k + 1 tokens before parentheses, plus "v =".
    max_operators = (max_tokens - 3) // 2
    sizes = range(max_operators + 1)
    # Small trees are few (39 statements without an operator): drawing them rarely keeps most
    # of them out of the held-out set, so training sees them too.
    weights = [min(10, (k + 1) * (k + 2) // 2) for k in sizes]

    def generate(rng: random.Random) -> Example:
        while True:
            operators = rng.choices(sizes, weights)[0]
            tree = (ASSIGN, rng.choice(VARIABLES), random_tree(rng, operators))
            source = tuple(render(tree))
            if len(source) <= max_tokens:
                return source, tuple(tree_to_tokens(tree))

    return generate


def textbook_parser_generator() -> Callable:
    """The textbook's ``v=d op d``: 3 variables x 10 x 4 x 10 digits = 1,200 statements."""

    def generate(rng: random.Random) -> Example:
        op = rng.choice(tuple(OPERATORS))
        variable, left, right = rng.choice(VARIABLES), rng.choice(DIGITS), rng.choice(DIGITS)
        tree = (ASSIGN, variable, (OPERATORS[op], left, right))
        return tuple(render(tree)), tuple(tree_to_tokens(tree))

    return generate


GENERATORS: dict[str, tuple[Callable[..., Vocabulary], Callable[..., Callable]]] = {
    "copy": (copy_vocabulary, copy_generator),
    "addition": (addition_vocabulary, addition_generator),
    "parser": (parser_vocabulary, parser_generator),
    "parser-textbook": (parser_vocabulary, textbook_parser_generator),
}
"""A recipe's ``[task] generator`` -> (its vocabulary, its example generator)."""


def _generator(name: str, spec: dict) -> tuple[Vocabulary, Callable]:
    """The vocabulary and generator a recipe's ``[task]`` section (or a probe) describes."""
    kind = spec.get("generator")
    if kind not in GENERATORS:
        raise ValueError(
            f"recipe {name}: [task] generator must be one of {', '.join(GENERATORS)}, got {kind!r}"
        )
    vocabulary, factory = GENERATORS[kind]
    wanted = set(inspect.signature(factory).parameters)
    given = {k: v for k, v in spec.items() if k in wanted}
    missing = sorted(wanted - set(given))
    if missing:
        raise ValueError(f"recipe {name}: the {kind} generator needs {', '.join(missing)}")
    if kind == "copy":
        return vocabulary(spec["symbols"]), factory(**given)
    return vocabulary(), factory(**given)


def make_task(name: str, reverse: bool | None = None) -> Task:
    """The task called ``name``, as its recipe (``recipes/<name>.toml``) describes it.

    Args:
        name: ``copy``, ``addition``, ``parser``, or one of them with ``-textbook`` (the
            textbook's definitions: fixed length 20; operands 0-499; ``v=d op d``).
        reverse: addition only: emit the sum least-significant digit first (the recipe's
            ``reverse`` when None).
    """
    recipe = recipes.load(name)
    spec = recipe.task
    if reverse and spec.get("generator") != "addition":
        raise ValueError(f"reverse is an option of the addition tasks, not of {name!r}")
    vocabulary, generate = _generator(name, spec)
    return Task(
        name,
        vocabulary,
        generate,
        int(spec["max_source_len"]),
        int(spec["max_target_len"]),
        name,
        reverse_target=bool(spec.get("reverse", False) if reverse is None else reverse),
    )


TASK_NAMES = recipes.names()
"""Every task with a recipe."""


# ---------------------------------------------------------------------------- datasets (given)


@dataclass(frozen=True)
class EvalSet:
    """A frozen evaluation set: ``count`` distinct examples drawn with ``seed``."""

    name: str
    generate: Callable[[random.Random], Example]
    count: int
    seed: int

    @property
    def path(self) -> Path:
        return DATASETS / f"{self.name}.jsonl"


def eval_sets() -> dict[str, EvalSet]:
    """Every frozen evaluation set, by name: each task's held-out set, and its probes (the
    ``addition-4digits`` and ``addition-5digits`` sets measure length generalisation of a
    3-digit model)."""
    sets = []
    for name in TASK_NAMES:
        recipe = recipes.load(name)
        _, generate = _generator(name, recipe.task)
        sets.append(EvalSet(name, generate, recipe.heldout["count"], recipe.heldout["seed"]))
        for probe in recipe.probes:
            _, generate = _generator(name, {**recipe.task, **probe})
            sets.append(EvalSet(probe["name"], generate, probe["count"], probe["seed"]))
    return {s.name: s for s in sets}


def draw_distinct(
    generate: Callable[[random.Random], Example], count: int, seed: int
) -> list[Example]:
    """``count`` examples with distinct sources, in the order ``random.Random(seed)`` draws them."""
    rng = random.Random(seed)
    seen: set[tuple[str, ...]] = set()
    examples = []
    while len(examples) < count:
        example = generate(rng)
        if example[0] not in seen:
            seen.add(example[0])
            examples.append(example)
    return examples


def _dump(examples: list[Example]) -> bytes:
    lines = [
        json.dumps({"src": list(s), "tgt": list(t)}, separators=(",", ":")) for s, t in examples
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_datasets(folder: Path = DATASETS) -> list[Path]:
    """Regenerate every frozen set and the manifest in ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written, manifest = [], []
    for eval_set in eval_sets().values():
        data = _dump(draw_distinct(eval_set.generate, eval_set.count, eval_set.seed))
        path = folder / eval_set.path.name
        path.write_bytes(data)
        written.append(path)
        manifest.append(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")
    (folder / MANIFEST.name).write_text("".join(manifest), encoding="utf-8")
    return [*written, folder / MANIFEST.name]


def verify_datasets(folder: Path = DATASETS) -> list[str]:
    """Problems with the frozen sets in ``folder`` (empty when every checksum matches)."""
    manifest = folder / MANIFEST.name
    if not manifest.is_file():
        return [f"{manifest} is missing (run `make datasets`)"]
    problems = []
    listed = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    for name in sorted(set(listed) | {f"{n}.jsonl" for n in eval_sets()}):
        path = folder / name
        if name not in listed:
            problems.append(f"{name} is not in the manifest")
        elif not path.is_file():
            problems.append(f"{name} is missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != listed[name]:
            problems.append(f"{name} does not match its checksum")
    return problems


def load_eval_set(name: str, folder: Path = DATASETS) -> list[Example]:
    """The frozen evaluation set ``name`` (its examples in file order)."""
    path = folder / f"{name}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `make datasets`")
    with path.open(encoding="utf-8") as lines:
        return [(tuple(row["src"]), tuple(row["tgt"])) for row in map(json.loads, lines)]


def training_batches(
    task: Task, batch_size: int, seed: int, exclude: set[Hashable] | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(source, target)`` padded batches of fresh examples, ``(B, S)`` and ``(B, T)``.

    Examples whose source is in ``exclude`` (by default the task's held-out set) are drawn
    again, so training never sees a held-out example.
    """
    if exclude is None:
        exclude = {source for source, _ in load_eval_set(task.heldout)}
    rng = random.Random(seed)
    while True:
        sources, targets = [], []
        while len(sources) < batch_size:
            example = task.generate(rng)
            if example[0] in exclude:
                continue
            source_ids, target_ids = task.encode(example)
            sources.append(source_ids)
            targets.append(target_ids)
        yield pad_batch(sources, PAD_ID), pad_batch(targets, PAD_ID)
