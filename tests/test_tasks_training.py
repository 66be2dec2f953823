"""Part 9 beyond the graded checks: datasets, task encodings, training, checkpoints, plots.

These test the solution only (the course's given code and data). The training tests use
small models and a few dozen steps: they show the loss falling, not a task solved (that is
``make bench-tasks``).
"""

import importlib
import random
import re
from fractions import Fraction
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.optimizer import register_optimizer_step_post_hook

from autograder.core.rubric import load_rubric
from solutions import tasks

RUBRIC = load_rubric()
SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"


# ---------------------------------------------------------------- datasets


def test_datasets_match_their_manifest():
    assert tasks.verify_datasets() == []


def test_make_datasets_reproduces_them_bit_for_bit(tmp_path):
    written = tasks.write_datasets(tmp_path)
    for path in written:
        assert path.read_bytes() == (tasks.DATASETS / path.name).read_bytes(), path.name


def test_heldout_sets_are_distinct_and_sized():
    for name, eval_set in tasks.eval_sets().items():
        examples = tasks.load_eval_set(name)
        assert len(examples) == eval_set.count
        assert len({source for source, _ in examples}) == eval_set.count


@pytest.mark.parametrize("name", ["parser-textbook", "copy", "addition-textbook"])
def test_training_never_sees_a_heldout_example(name):
    task = tasks.make_task(name)
    heldout = {tuple(task.vocabulary.encode(s)) for s, _ in tasks.load_eval_set(task.heldout)}
    batches = tasks.training_batches(task, 200, seed=3)
    seen = 0
    for _ in range(20):
        source, _ = next(batches)
        for row in source.tolist():
            ids = tuple(i for i in row if i != task.vocabulary.pad_id)
            assert ids not in heldout
            seen += 1
    # parser-textbook has 1,200 statements of which 200 are held out: without the exclusion
    # some of these 4,000 draws would be held-out ones.
    assert seen == 4000


# ---------------------------------------------------------------- task encodings


@settings(max_examples=60)
@given(name=st.sampled_from(tasks.TASK_NAMES), seed=st.integers(0, 2**32), reverse=st.booleans())
def test_every_task_example_round_trips(name, seed, reverse):
    task = tasks.make_task(name, reverse=reverse and name.startswith("addition"))
    source, target = task.generate(random.Random(seed))
    source_ids, target_ids = task.encode((source, target))
    assert len(source_ids) <= task.max_source_len and len(target_ids) <= task.max_target_len
    assert tuple(task.vocabulary.decode(source_ids)) == source
    assert task.decode_target(target_ids) == target
    specials = {task.vocabulary.pad_id, task.vocabulary.bos_id, task.vocabulary.eos_id}
    assert not specials & set(source_ids)
    assert not specials & set(target_ids[1:-1])


def test_reversed_addition_emits_the_least_significant_digit_first():
    task = tasks.make_task("addition", reverse=True)
    example = tasks.addition_example(7, 95, 3)
    _, target_ids = task.encode(example)
    assert task.vocabulary.decode(target_ids) == ["2", "0", "1", "0"]
    assert task.decode_target(target_ids) == ("0", "1", "0", "2")


def test_the_textbook_bugs_cannot_happen():
    addition = tasks.addition_vocabulary()
    assert addition.id_of("0") not in (addition.pad_id, addition.bos_id, addition.eos_id)
    parser = tasks.parser_vocabulary()
    # "x=1+2" came back as "x = 2 + 3" when digits were encoded as d+14 and decoded as id-13.
    tree = tasks.parse("x=1+2")
    ids = parser.encode(tasks.tree_to_tokens(tree), bos=True, eos=True)
    assert tasks.tokens_to_tree(parser.decode(ids)) == ("ASSIGN", "x", ("ADD", "1", "2"))
    assert len({parser.id_of(s) for s in parser.symbols}) == len(parser)
    # A single number is a node like any other.
    assert tasks.tree_to_tokens(tasks.parse("y = 9")) == ["ASSIGN", "y", "9"]


def _value(tree, env):
    if isinstance(tree, str):
        return env[tree] if tree in env else Fraction(int(tree))
    label, left, right = tree
    a, b = _value(left, env), _value(right, env)
    return {"ADD": a + b, "SUB": a - b, "MUL": a * b}[label] if label != "DIV" else a / b


@settings(max_examples=200)
@given(seed=st.integers(0, 2**32))
def test_parse_agrees_with_python_arithmetic(seed):
    """The tree computes what Python computes from the same text: precedence and
    associativity are right independently of how the course renders trees."""
    source, target = tasks.make_task("parser").generate(random.Random(seed))
    tree = tasks.tokens_to_tree(target)
    assert tasks.parse("".join(source)) == tree
    env = {"x": Fraction(3), "y": Fraction(-7, 2), "z": Fraction(5)}
    # Digits as Fractions, so that Python divides exactly.
    expression = re.sub(r"\d", lambda m: f"F({m.group()})", "".join(source).split("=", 1)[1])
    try:
        expected = eval(expression, {"F": Fraction}, env)
    except ZeroDivisionError:
        with pytest.raises(ZeroDivisionError):
            _value(tree[2], env)
        return
    expression_tree = tree[2]
    assert _value(expression_tree, env) == expected


# ---------------------------------------------------------------- training, checkpoints, plots

TINY = dict(d_model=32, num_encoder_layers=1, num_decoder_layers=1, num_heads=2, d_ff=64)


@pytest.fixture
def training():
    """``solutions.training``, once the model (part 7) and decoding (part 8) exist."""
    pytest.importorskip("solutions.model", reason="solutions/model.py (part 7) is not written yet")
    pytest.importorskip("solutions.decoding", reason="solutions/decoding.py is not written yet")
    # One thread: these models are tiny, and two threads on a busy 2-core machine spend
    # their time waiting for each other (several times slower).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield importlib.import_module("solutions.training")
    torch.set_num_threads(threads)


def _tiny(training, task_name):
    task = tasks.make_task(task_name)
    torch.manual_seed(0)
    return task, training.build_model(task, **TINY)


@pytest.mark.parametrize("name", ["copy", "addition", "parser"])
def test_training_makes_the_loss_fall(training, name):
    task, model = _tiny(training, name)
    settings = training.TrainSettings(steps=100, batch_size=32, lr=1e-2, warmup=5)
    history = training.train(model, task, settings, progress=False)
    first, last = sum(history.losses[:5]) / 5, sum(history.losses[-5:]) / 5
    # Copying 19 random symbols costs ln 19 = 2.94 per token to a model that ignores the
    # source; 0.7 of the first loss is below that, so attention to the source must work.
    assert last < 0.7 * first, f"{name}: loss {first:.3f} -> {last:.3f} in 100 steps"


def test_training_is_seeded(training):
    settings = training.TrainSettings(steps=5, batch_size=8, warmup=2)
    runs = []
    for _ in range(2):
        task, model = _tiny(training, "addition")
        runs.append(training.train(model, task, settings, progress=False).losses)
    assert runs[0] == runs[1]


def test_weight_average_follows_the_steps_and_leaves_training_alone(training):
    plain = training.TrainSettings(steps=4, batch_size=8, warmup=1, ema=0.0)
    averaged = training.TrainSettings(steps=4, batch_size=8, warmup=1, ema=0.5)
    task, model = _tiny(training, "addition")
    reference = training.train(model, task, plain, progress=False)
    task, model = _tiny(training, "addition")
    expected = [p.detach().clone() for p in model.parameters()]
    steps_done = []

    def fold_in(optimizer, args, kwargs):
        # The average after step t moves towards the new weights by 1 - min(ema, (1+t)/(10+t)).
        t = len(steps_done)
        weight = 1.0 - min(0.5, (1 + t) / (10 + t))
        for mean, parameter in zip(expected, model.parameters(), strict=True):
            mean.add_(weight * (parameter.detach() - mean))
        steps_done.append(t)

    handle = register_optimizer_step_post_hook(fold_in)
    try:
        history = training.train(model, task, averaged, progress=False)
    finally:
        handle.remove()
    assert steps_done == [0, 1, 2, 3]
    assert history.losses == reference.losses, "the average must not change the training"
    for mean, parameter in zip(expected, model.parameters(), strict=True):
        torch.testing.assert_close(parameter.detach(), mean)


@pytest.mark.parametrize(
    "field, value", [("ema", 1.0), ("ema", -0.1), ("betas", (0.9, 1.0)), ("betas", 0.9)]
)
def test_train_settings_refuse_impossible_values(training, field, value):
    with pytest.raises(ValueError, match=field):
        training.TrainSettings(**{field: value})


def test_checkpoint_round_trip_and_refusal(training, tmp_path):
    task, model = _tiny(training, "parser-textbook")
    path = training.save_checkpoint(tmp_path / "model.pt", model, task)
    raw = torch.load(path, weights_only=True)
    assert raw["task"] == "parser-textbook" and raw["config"]["d_model"] == TINY["d_model"]
    loaded, _ = training.load_checkpoint(path)
    source = torch.tensor([[3, 4, 5, 6]])
    target = torch.tensor([[1, 7, 8]])
    model.eval()
    loaded.eval()
    torch.testing.assert_close(loaded(source, target), model(source, target))
    other = training.build_model(task, **{**TINY, "d_model": 48})
    with pytest.raises(ValueError, match="d_model"):
        training.load_checkpoint(path, other)


def test_evaluate_and_plots(training, tmp_path):
    from solutions import plots

    task, model = _tiny(training, "addition")
    history = training.train(
        model,
        task,
        training.TrainSettings(steps=4, batch_size=8, warmup=1, eval_every=2, eval_size=20),
        progress=False,
    )
    assert [e["step"] for e in history.evaluations] == [2, 4]
    scores = training.evaluate(model, task, tasks.load_eval_set("addition-4digits")[:30])
    assert set(scores) == {"exact_match", "digit_accuracy"}
    assert all(0.0 <= value <= 1.0 for value in scores.values())
    source = tasks.load_eval_set("addition")[0][0]
    written = [
        plots.plot_history(history, tmp_path / "curves.png", title="addition"),
        plots.plot_attention(model, task, source, tmp_path / "attention.png"),
    ]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    groups = plots.attention_maps(model)
    assert [len(maps) for maps in groups.values()] == [1, 1, 1]
    assert groups["cross"][0].shape[-1] == len(source)


def test_command_line_trains_and_writes_its_files(training, tmp_path, capsys):
    from autograder.apps import main

    code = main(
        ["train", "parser-textbook", "--steps", "3", "--no-progress", "--out", str(tmp_path)]
    )
    assert code == 0
    folder = tmp_path / "parser-textbook"
    assert {p.name for p in folder.iterdir()} == {"checkpoint.pt", "curves.png", "attention.png"}
    assert "exact_match" in capsys.readouterr().out


def test_plateau_is_a_rest_before_a_fall_not_a_floor():
    from solutions import plots

    steps = list(range(0, 50, 5))
    resting = [3.8, 3.2, 2.95, 2.94, 2.93, 2.94, 1.5, 0.9, 0.62, 0.61]
    assert plots.plateau(steps, resting, 2.94) == (10, 25)
    # Losses that stay at the level to the end: a floor, not a plateau.
    floor = [*resting[:5], 0.9, 0.61, 0.61, 0.61, 0.61]
    assert plots.plateau(steps, floor, 0.61) is None
    assert plots.plateau(steps, [*floor[:-1], 0.3], 0.61) == (30, 40)
    # Two steps on the level are a passing value, not a rest.
    assert plots.plateau(steps, [3.8, 2.94, 2.94, 1.0, *resting[4:]], 2.94) is None
