"""``mgbench validate``: is a run folder fit to publish? The checks are
:mod:`mgbench.records.integrity`'s; this prints what passed, or exits 2 naming the first fault.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mgbench.records.integrity import Validation, validate_run

NAME = "validate"
HELP = (
    "check a run folder before publishing: records, checksums, complete environment, one "
    "machine, run files (exit 0 valid, 2 the first bad record named)"
)


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a run folder or its results.jsonl")


def run_from_args(args: argparse.Namespace) -> int:
    print(validate_command(args.run))
    return 0


def validation_text(validation: Validation) -> str:
    """The short summary printed when a run passes."""
    statuses = ", ".join(f"{n} {status}" for status, n in validation.statuses.items())
    lines = [
        f"{validation.folder}: valid",
        f"  records: {validation.records} ({statuses}) in {validation.cells} cells",
        f"  machine: {validation.machine}",
    ]
    if validation.notes:
        lines.append("  notes:")
        lines.extend(f"    - {note}" for note in validation.notes)
    return "\n".join(lines)


def validate_command(run: str | Path) -> str:
    return validation_text(validate_run(run))
