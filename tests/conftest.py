"""Helpers both test rooms share. ``tests/unit`` never imports TensorFlow; ``tests/tf`` simulates
devices once per session (its own conftest) before the TensorFlow runtime starts."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def _run_in_process(*args: str) -> CliResult:
    from mgbench import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code if isinstance(exit_.code, int) else 2
    return CliResult(code, out.getvalue(), err.getvalue())


def _run_in_subprocess(*args: str, timeout: float = 180) -> CliResult:
    done = subprocess.run(
        [sys.executable, "-m", "mgbench.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def run_cli() -> Callable[..., CliResult]:
    """``mgbench ARGS`` in this process (commands that need no TensorFlow)."""
    return _run_in_process


@pytest.fixture
def run_cli_process() -> Callable[..., CliResult]:
    """``mgbench ARGS`` in a fresh process, as a user runs it (device simulation is per process)."""
    return _run_in_subprocess
