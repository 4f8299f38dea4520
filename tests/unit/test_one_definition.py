"""Each shared word is defined once: the strategy names, the device modes, the default claim and
the run folder's file names appear as string constants (tuples, for the claim) in one module
each, and every other module uses them by name. Only ``execution/child.py`` starts or kills a
child process. Read from the source (AST), so a literal slipped in anywhere fails here."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mgbench"
# word -> the one module that defines it
HOMES = {
    **dict.fromkeys(
        ("single", "inplace", "wholebatch", "concat", "mirrored", "multiworker", "dataparallel"),
        "vocabulary.py",
    ),
    **dict.fromkeys(
        ("cpu-simulation", "virtual-gpu", "gpu (configured elsewhere)"), "vocabulary.py"
    ),
    **dict.fromkeys(
        (
            "results.jsonl",
            "profiles.jsonl",
            "suite.json",
            "run.json",
            "summary.md",
            "notes.md",
            "run.lock",
            "claim-forest.png",
        ),
        "records/run_folder.py",
    ),
}
DEFAULT_CLAIM_RANGE = (5.0, 12.0)


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings (prose, not values)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def constants(path: Path) -> Iterator[ast.AST]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prose = docstrings(tree)
    for node in ast.walk(tree):
        if id(node) not in prose:
            yield node


def where(word: str) -> list[str]:
    return [
        path.relative_to(PACKAGE).as_posix()
        for path in modules()
        if any(isinstance(n, ast.Constant) and n.value == word for n in constants(path))
    ]


@pytest.mark.parametrize("word", sorted(HOMES))
def test_each_shared_word_is_a_string_constant_in_one_module(word):
    assert where(word) == [HOMES[word]]


def test_the_default_claims_range_is_written_once():
    found = []
    for path in modules():
        for node in constants(path):
            if isinstance(node, ast.Tuple) and len(node.elts) == 2:
                values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                if values == list(DEFAULT_CLAIM_RANGE):
                    found.append(path.relative_to(PACKAGE).as_posix())
    assert found == ["analysis/claim.py"]


def test_only_the_child_module_starts_or_kills_a_child_process():
    calls = {}
    for path in modules():
        for node in constants(path):
            if isinstance(node, ast.Attribute) and (node.attr, getattr(node.value, "id", "")) in {
                ("Popen", "subprocess"),
                ("killpg", "os"),
            }:
                calls.setdefault(path.relative_to(PACKAGE).as_posix(), set()).add(node.attr)
    assert calls == {"execution/child.py": {"Popen", "killpg"}}
