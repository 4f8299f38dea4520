"""The command line: it only collects the commands. Each ``mgbench.commands.<name>`` module owns
its flags (``setup_arguments``) and runs from the parsed namespace (``run_from_args``), importing
what is heavy inside the run, so building the parser stays light.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

from mgbench.vocabulary import DeprecatedName

# The commands, in the order ``mgbench --help`` lists them: one module each in mgbench.commands.
COMMANDS = (
    "run",
    "report",
    "compare",
    "export",
    "gate",
    "devices",
    "doctor",
    "placement",
    "timeline",
    "predict",
    "validate",
    "index",
)


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"mgbench.commands.{name}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"mgbench {version('mgbench')}"
    except PackageNotFoundError:
        return "mgbench (not installed: version unknown)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgbench", description="Benchmark data-parallel multi-GPU training wrappers for Keras."
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show TensorFlow's start-up output (otherwise kept in ~/.cache/mgbench/tf-*.log)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = command_module(name)
        sub = commands.add_parser(
            module.NAME, help=module.HELP, aliases=list(getattr(module, "ALIASES", ()))
        )
        module.setup_arguments(sub)
        sub.set_defaults(handler=module.run_from_args)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or ``timeout``'s kill): the same clean-up as Ctrl-C, so worker
    processes, which run in sessions of their own, do not outlive the run."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


_SHOW_WARNING = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
    """A renamed name's warning as one line; any other warning as Python shows it."""
    if issubclass(category, DeprecatedName):
        print(f"mgbench: warning: {message}", file=sys.stderr)
    else:
        _SHOW_WARNING(message, category, filename, lineno, file, line)


def main(argv: Sequence[str] | None = None) -> int:
    from mgbench.platform import quiet

    args = build_parser().parse_args(argv)
    quiet.set_verbose(args.verbose)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with warnings.catch_warnings():
            # A renamed name still works; the user is told once, in one line.
            warnings.simplefilter("always", DeprecatedName)
            warnings.showwarning = _show_warning
            return int(args.handler(args))
    except (ValueError, RuntimeError, OSError) as error:
        print(f"mgbench: error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        print("mgbench: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("mgbench: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
