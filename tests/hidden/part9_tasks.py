"""Part 9 hidden checks: the vocabulary's refusals and the parser's tolerance of spacing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import harness
from tests.checks.part9_tasks import as_tree, reference_render, statements

pytestmark = pytest.mark.part9


def test_vocabulary_rejects_bad_symbols(tasks):
    # A vocabulary that refuses everything refuses the bad symbols too: good ones are taken,
    # with the ids the docstring gives them (3, 4, ... in order, after PAD, BOS and EOS).
    good = tasks.Vocabulary(["b", "0", "+"])
    for token_id, symbol in enumerate(["b", "0", "+"], start=3):
        got = good.id_of(symbol)
        harness.expect(
            got == token_id,
            f"Vocabulary(['b', '0', '+']).id_of({symbol!r}) is {got!r}, expected {token_id} "
            f"(ids 0, 1, 2 are PAD, BOS, EOS; the symbols follow in the order given)",
        )
        back = good.symbol_of(token_id)
        harness.expect(
            back == symbol,
            f"Vocabulary(['b', '0', '+']).symbol_of({token_id}) is {back!r}, expected {symbol!r}",
        )
    for symbols in (["a", "b", "a"], ["7", "<pad>"], ["<eos>"], ["x", ""], ["a", 3]):
        harness.expect_raises(
            ValueError, tasks.Vocabulary, symbols, what=f"Vocabulary({symbols!r})"
        )
    vocabulary = tasks.Vocabulary(["a", "b"])
    harness.expect_raises(
        ValueError, vocabulary.id_of, "c", what="id_of('c') of Vocabulary(['a', 'b'])"
    )
    for token_id in (5, 99, -1):
        harness.expect_raises(
            ValueError,
            vocabulary.symbol_of,
            token_id,
            what=f"symbol_of({token_id}) of Vocabulary(['a', 'b']) (ids 0..4)",
        )


@given(tree=statements(4), spaces=st.booleans(), wrap=st.integers(0, 2))
def test_parse_handles_spaces_and_extra_parentheses(tasks, tree, spaces, wrap):
    text = reference_render(tree, spaces=spaces, extra_parentheses=True)
    # Wrap the whole right-hand side in more parentheses: they change nothing.
    target, expression = text.split("=", 1)
    text = f"{target}={'(' * wrap}{expression}{')' * wrap}"
    got = as_tree(tasks.parse(text), f"parse({text!r})")
    harness.expect(got == tree, f"parse({text!r}) is {got}, expected {tree}")
