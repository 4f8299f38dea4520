"""The unit room's promise: nothing here imports TensorFlow or Keras."""

from __future__ import annotations

import sys

import pytest


def test_the_unit_tests_never_import_tensorflow(tf_tests_in_session):
    if tf_tests_in_session:
        pytest.skip("tests/tf ran in this session and imported TensorFlow; run tests/unit alone")
    heavy = [m for m in ("tensorflow", "keras", "tf_keras") if m in sys.modules]
    assert heavy == []


def test_building_the_command_line_imports_nothing_heavy():
    """Every command's flags are set up before one runs: none of that may load numpy, scipy,
    matplotlib or a framework (they are imported inside the run that needs them)."""
    import subprocess

    heavy = ("numpy", "scipy", "matplotlib", "tensorflow", "keras", "tf_keras", "jax", "psutil")
    code = (
        "import sys, mgbench.cli\n"
        "mgbench.cli.build_parser()\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_every_command_module_owns_its_flags_and_its_run():
    from mgbench import cli

    parser = cli.build_parser()
    for name in cli.COMMANDS:
        module = cli.command_module(name)
        assert name == module.NAME and module.HELP
        assert callable(module.setup_arguments) and callable(module.run_from_args)
    # every command parses with its own defaults (the required arguments given)
    args = parser.parse_args(["report", "somewhere"])
    assert args.handler is cli.command_module("report").run_from_args
    assert (args.claim, args.alpha, args.min_effect) == ([], 0.05, 2.0)
