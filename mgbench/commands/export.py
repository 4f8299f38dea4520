"""``mgbench export``: a run in another tool's format (pytest-benchmark JSON)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mgbench.records import store

NAME = "export"
HELP = "write a run in another tool's format"
FORMATS = ("pytest-benchmark",)


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run")
    parser.add_argument("--format", choices=FORMATS, default=FORMATS[0])
    parser.add_argument("--output", required=True, help="file to write")


def run_from_args(args: argparse.Namespace) -> int:
    path = export_run(args.run, fmt=args.format, output=args.output)
    print(f"wrote {path}")
    return 0


def export_run(run: str | Path, *, fmt: str, output: str | Path) -> Path:
    from mgbench.present import export

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    _, results_path = store.locate(run)
    document = export.to_pytest_benchmark(store.read_records(results_path))
    output = Path(output)
    output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return output
