"""The house's size limits, read from the source: no function longer than 100 lines (a function
that long holds several ideas), and a command line that only collects its commands."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mgbench"
LONGEST_FUNCTION = 100
LONGEST_CLI = 150


def test_no_function_is_longer_than_100_lines():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1 if node.end_lineno else 0
                if lines > LONGEST_FUNCTION:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} {lines}")
    assert long == []


def test_the_command_line_only_collects_the_commands():
    lines = (PACKAGE / "cli.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) < LONGEST_CLI
