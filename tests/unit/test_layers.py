"""The layer check: import-linter's contract in pyproject.toml holds, and it catches a room that
imports one above it (ARCHITECTURE.md has the table)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = "mgbench rooms import downwards only"


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package and pyproject.toml under ``project``."""
    beside_python = Path(sys.executable).parent / "lint-imports"
    command = str(beside_python) if beside_python.exists() else shutil.which("lint-imports")
    assert command, "lint-imports is missing: pip install -e '.[test]'"
    return subprocess.run(
        [command, "--no-cache"],
        cwd=project,
        # the copy under test, not the installed checkout, is the mgbench grimp finds
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_every_room_imports_only_rooms_below_it():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{CONTRACT} KEPT" in result.stdout


def test_the_check_fails_when_a_lower_room_imports_a_higher_one(tmp_path):
    shutil.copytree(ROOT / "mgbench", tmp_path / "mgbench", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    store = tmp_path / "mgbench" / "records" / "store.py"
    store.write_text(store.read_text() + "\n\nfrom mgbench import present  # deliberately wrong\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{CONTRACT} BROKEN" in result.stdout
    assert "mgbench.records is not allowed to import mgbench.present" in result.stdout
    assert "mgbench.records.store -> mgbench.present" in result.stdout
