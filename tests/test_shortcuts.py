"""The static check for forbidden library shortcuts."""

from autograder.core.assemble import load_implementation
from autograder.core.rubric import load_rubric
from autograder.core.shortcuts import find_shortcuts

SDPA = "torch.nn.functional.scaled_dot_product_attention"
MHA = "torch.nn.MultiheadAttention"


def names(source: str, forbidden=(SDPA, MHA)) -> list[tuple[str, int]]:
    return [(s.name, s.line) for s in find_shortcuts(source, forbidden)]


def test_aliases_are_resolved():
    source = (
        "import torch\n"
        "import torch.nn.functional as F\n"
        "from torch import nn\n"
        "def f(q):\n"
        "    a = F.scaled_dot_product_attention(q, q, q)\n"
        "    b = torch.nn.functional.scaled_dot_product_attention(q, q, q)\n"
        "    return nn.MultiheadAttention(4, 2)\n"
    )
    assert names(source) == [(SDPA, 5), (SDPA, 6), (MHA, 7)]


def test_from_imports_and_getattr_are_found():
    source = (
        "from torch.nn.functional import scaled_dot_product_attention as attend\n"
        "from torch.nn import functional\n"
        "g = getattr(functional, 'scaled_dot_product_attention')\n"
    )
    assert names(source) == [(SDPA, 1), (SDPA, 3)]


def test_own_functions_with_the_same_name_are_not_shortcuts():
    source = (
        "import torch\n"
        "def scaled_dot_product_attention(q, k, v):\n"
        "    return torch.softmax(q @ k.T, -1) @ v\n"
        "x = scaled_dot_product_attention\n"
    )
    assert names(source) == []


def test_code_that_does_not_parse_reports_nothing():
    assert names("def f(:\n") == []


def test_solutions_use_no_forbidden_shortcut():
    solutions = load_implementation("solutions")
    for part in load_rubric().parts.values():
        assert solutions.shortcuts(part) == [], f"solutions/{part.module}.py uses a shortcut"
