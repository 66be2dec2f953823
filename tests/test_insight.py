"""What the grader and the tools tell an instructor: diagnoses through the grader, the class
table of diagnosed mistakes, and similar submissions.

The similarity test uses a crafted class: a copy of one student's code with its variables
renamed and its functions reordered, handed in as notebooks, must be flagged; code written
independently must not; a student who handed in the stubs has no code of their own.
"""

import ast
import csv
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.apps import main
from autograder.core.assemble import assemble, load_implementation
from autograder.core.paths import ASSIGNMENTS, SOLUTIONS
from autograder.core.rubric import load_rubric
from autograder.diagnosis import classes, report, similarity, sweep
from autograder.sweeps import mutants
from tests.probes import Diagnosis, diagnose

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")

RUBRIC = load_rubric()
MODULES = [part.module for part in RUBRIC.parts.values()]


# -- diagnoses through the grader ----------------------------------------------------------


@pytest.mark.parametrize("number", list(RUBRIC.parts), ids=lambda n: f"part{n}")
def test_every_mistake_is_diagnosed_as_itself_through_the_grader(number):
    found = list(sweep.sweep([number], RUBRIC))
    assert found, f"part {number} has no mistakes or variants"
    wrong = [f.line for f in found if not f.right]
    assert not wrong, "\n".join(wrong) + "\n(run `make diagnoses` if expected.json is stale)"


# -- the class table -------------------------------------------------------------------------


def _results(*diagnoses: tuple[int, str]) -> dict:
    tests = [{"status": "passed", "extra_data": {"check": "x", "part": 1}}]
    tests += [
        {"status": "failed", "extra_data": {"check": "y", "part": p, "diagnosis": d}}
        for p, d in diagnoses
    ]
    return {"tests": tests}


def test_the_class_table_counts_the_students_of_each_mistake(tmp_path):
    graded = [
        ("ann", _results((2, "no_scaling"), (2, "no_scaling"), (4, "padding_mask_inverted"))),
        ("ben", _results((2, "no_scaling"))),
        ("cat", _results()),
    ]
    table = classes.rows(classes.from_results(graded))
    assert [(r.part, r.mistake, r.students) for r in table] == [
        (2, "no_scaling", ("ann", "ben")),
        (4, "padding_mask_inverted", ("ann",)),
    ]
    assert table[0].says == "the scores are not divided by sqrt(d_k)"
    csv_path, png = classes.write(table, tmp_path / "mistakes.csv", total=3)
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert rows[0]["mistake"] == "no_scaling" and rows[0]["students"] == "2"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "2  no_scaling" in "\n".join(classes.lines(table, 3))


def test_the_class_table_reads_the_tags_of_autograded_notebooks(tmp_path):
    message = Diagnosis(3, "no_output_projection", "w_o is not applied", 12).message
    for student, text in (("ann", message), ("ben", "FAILED: something else")):
        notebook = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("multihead.check('x')")
        cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue=text)]
        notebook.cells = [cell]
        folder = tmp_path / student / "week2"
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / "part3_multihead.ipynb")
    found = classes.from_notebooks(tmp_path)
    assert found == {"ann": {(3, "no_output_projection")}, "ben": set()}


# -- a crafted class for the similarity report -----------------------------------------------

HAND_WRITTEN = {
    "softmax_attention": {
        "similarity_matrix": """\
    n = X.shape[0]
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = float(np.dot(X[i], X[j]))
    return out""",
        "softmax": """\
    top = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - top)
    return e / np.sum(e, axis=axis, keepdims=True)""",
        "basic_self_attention": """\
    attn = softmax(similarity_matrix(X), axis=1)
    return attn.dot(X), attn""",
        "separated_self_attention": """\
    keys = np.dot(X, W_similarity)
    attn = softmax(np.dot(keys, keys.T), axis=1)
    return np.dot(attn, np.dot(X, W_content)), attn""",
    },
    "qkv": {
        "scaled_dot_product_attention": """\
    logits = torch.matmul(query, key.transpose(-1, -2)) * key.size(-1) ** -0.5
    if mask is not None:
        low = torch.full_like(logits, torch.finfo(logits.dtype).min)
        logits = torch.where(mask, logits, low)
    probs = logits.softmax(-1)
    if mask is not None:
        probs = probs * mask
    mixed = probs if dropout_p == 0 else nn.functional.dropout(probs, dropout_p)
    return torch.matmul(mixed, value), probs""",
        "SelfAttention.__init__": """\
        self.q, self.k, self.v = (nn.Linear(embed_dim, embed_dim) for _ in range(3))""",
        "SelfAttention.forward": """\
        return scaled_dot_product_attention(self.q(x), self.k(x), self.v(x), mask=mask)""",
    },
    "masks": {
        "causal_mask": """\
    rows = torch.arange(size, device=device)
    return (rows[None, :] <= rows[:, None]).unsqueeze(0)""",
        "padding_mask": """\
    keep = tokens.ne(pad_id)
    return keep.view(tokens.size(0), 1, 1, tokens.size(1))""",
        "target_mask": """\
    return padding_mask(tokens, pad_id) & causal_mask(tokens.size(1), tokens.device)[None]""",
        "to_additive": """\
    low = torch.tensor(torch.finfo(dtype).min, dtype=dtype, device=mask.device)
    return torch.where(mask, torch.zeros((), dtype=dtype, device=mask.device), low)""",
    },
}


def hand_written(module: str) -> str:
    """The stub of ``module`` with every function written independently of the reference."""
    source = (ASSIGNMENTS / f"{module}.py").read_text(encoding="utf-8")
    for name, body in HAND_WRITTEN[module].items():
        indent = "        " if "." in name else "    "
        stub = f'{indent}raise NotImplementedError("{name} is not implemented yet")'
        assert stub in source, stub
        source = source.replace(stub, body)
    return source


class _Rename(ast.NodeTransformer):
    """Every local variable of every function gets another name."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        arguments = {a.arg for a in [*node.args.args, *node.args.kwonlyargs]}
        stored = {
            n.id
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id not in arguments
        }
        for name in ast.walk(node):
            if isinstance(name, ast.Name) and name.id in stored:
                name.id = f"my_{name.id}"
        return node


def renamed_and_reordered(source: str) -> str:
    """``source`` with its local variables renamed and its functions and classes in reverse
    order (comments and layout lost too)."""
    tree = _Rename().visit(ast.parse(source))
    places = [i for i, n in enumerate(tree.body) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    definitions = [tree.body[i] for i in places]
    for place, node in zip(places, reversed(definitions), strict=True):
        tree.body[place] = node
    return ast.unparse(tree)


def as_notebook(module: str, source: str, path: Path) -> None:
    """A part notebook holding ``source``, one cell per top-level statement."""
    pieces = [ast.get_source_segment(source, n) for n in ast.parse(source).body]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"# {module}.py [{i}/{len(pieces)}]\n{piece}")
        for i, piece in enumerate(pieces, start=1)
    ]
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def crafted_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("class")
    for name in ("alice", "bob", "carol", "dave"):
        (folder / name).mkdir()
    for module in MODULES:
        reference = (SOLUTIONS / f"{module}.py").read_text(encoding="utf-8")
        (folder / "alice" / f"{module}.py").write_text(reference, encoding="utf-8")
        part = RUBRIC.part_of_module(module)
        as_notebook(module, renamed_and_reordered(reference), folder / "bob" / f"{part.stem}.ipynb")
        shutil.copy2(ASSIGNMENTS / f"{module}.py", folder / "dave" / f"{module}.py")
        own = hand_written(module) if module in HAND_WRITTEN else None
        if own is None:
            shutil.copy2(ASSIGNMENTS / f"{module}.py", folder / "carol" / f"{module}.py")
        else:
            (folder / "carol" / f"{module}.py").write_text(own, encoding="utf-8")
    return folder


def test_hand_written_code_is_correct_and_gets_no_diagnosis(crafted_class):
    implementation = load_implementation(crafted_class / "carol")
    for module in HAND_WRITTEN:
        part = RUBRIC.part_of_module(module)
        assert diagnose(part.stem, assemble(part, implementation, reference=True).module) is None


def test_a_renamed_reordered_copy_is_flagged_and_independent_code_is_not(crafted_class, tmp_path):
    students, pairs = similarity.find(sorted(crafted_class.iterdir()), RUBRIC)
    by_name = {s.name: s for s in students}
    assert by_name["dave"].own == 0, "the stubs hold no code of the student's own"
    assert set(by_name["bob"].modules) == set(MODULES), "bob's notebooks were read"
    scores = {(p.first.name, p.second.name): p for p in pairs}
    copy = scores[("alice", "bob")]
    assert copy.flagged and min(copy.scores) >= 0.6, copy.scores
    for pair in (("alice", "carol"), ("bob", "carol")):
        assert not scores[pair].flagged, (pair, scores[pair].scores)
        assert scores[pair].score < 0.6
    assert [p.flagged for p in pairs].count(True) == 1
    page = report.render(pairs, len(students))
    assert "alice and bob" in page and "<mark>" in page and "carol" in page
    assert "http" not in page.split("</style>")[0], "the report is self-contained"


def test_the_similarity_command_writes_the_report(crafted_class, tmp_path, capsys):
    out = tmp_path / "similarity.html"
    assert main(["similarity", str(crafted_class), "--out", str(out)]) == 0
    assert "alice ~ bob" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_mistake_of_the_catalogue_is_not_in_the_student_bundle():
    from autograder.build.shipping import runtime_files

    shipped = {str(p) for p in runtime_files()}
    assert any(p.endswith("tests/probes/expected.json") for p in shipped)
    assert not any("/tests/mistakes/" in p for p in shipped)
    assert json.loads((SOLUTIONS.parent / "tests/probes/expected.json").read_text())
    assert mutants.catalogue(RUBRIC.parts[2])


def test_batch_ends_with_the_class_table_and_the_similarity_report(tmp_path, capsys):
    part = RUBRIC.parts[2]
    mistake = next(m for m in mutants.catalogue(part) if m.name == "no_scaling")
    folder = tmp_path / "submissions"
    for name in ("ann", "ben"):
        shutil.copytree(ASSIGNMENTS, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "ann" / "qkv.py").write_text(mistake.source, encoding="utf-8")
    shutil.copy2(SOLUTIONS / "qkv.py", folder / "ben" / "qkv.py")
    out = tmp_path / "out" / "grades.csv"
    assert main(["batch", str(folder), "--out", str(out), "--parts", "2"]) == 0
    printed = capsys.readouterr().out
    assert "part 2     1  no_scaling" in printed
    rows = list(csv.DictReader((out.parent / "mistakes.csv").open(encoding="utf-8")))
    assert [(r["mistake"], r["who"]) for r in rows] == [("no_scaling", "ann")]
    assert (out.parent / "mistakes.png").is_file()
    assert (out.parent / "similarity.html").is_file()
