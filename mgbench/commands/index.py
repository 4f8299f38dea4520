"""``mgbench index RESULTS``: regenerate ``RESULTS/README.md`` from the run folders present.

A run folder is any folder holding ``results.jsonl``. Its row is read from its records, its
``run.json`` and its ``notes.md`` (the prose the people publishing write about it); the text
above and below the table comes from ``INDEX_HEADER.md`` and ``INDEX_FOOTER.md``. Those live as
files beside the results rather than in code so that publishing a run never means editing
mgbench, and a reviewer sees prose and results change in the same folder.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mgbench.analysis.claim import DEFAULT_CLAIMS, Claims
from mgbench.commands import flags
from mgbench.records import store
from mgbench.records.run_folder import RunFolder, is_report

if TYPE_CHECKING:
    from mgbench.present.index import RunEntry

NAME = "index"
HELP = (
    "regenerate RESULTS/README.md from its run folders, their notes.md and INDEX_HEADER.md / "
    "INDEX_FOOTER.md"
)

INDEX_FILE = "README.md"
HEADER_FILE = "INDEX_HEADER.md"
FOOTER_FILE = "INDEX_FOOTER.md"
_FOLDER_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})-")


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", metavar="RESULTS", help="the results folder, e.g. results/")
    flags.add_claim(parser)


def run_from_args(args: argparse.Namespace) -> int:
    path, runs = index_command(args.results, claims=flags.claims(args))
    print(f"wrote {path} ({runs} runs)")
    return 0


def index_command(results: str | Path, claims: Claims = DEFAULT_CLAIMS) -> tuple[Path, int]:
    """Write the index, each run's headline read against ``claims``; (its path, the number of
    runs in it)."""
    root = Path(results)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    text, runs = index_text(root, claims)
    path = root / INDEX_FILE
    path.write_text(text, encoding="utf-8")
    return path, runs


def index_text(root: Path, claims: Claims = DEFAULT_CLAIMS) -> tuple[str, int]:
    """The index's text for the results folder ``root``, and the number of runs in it."""
    from mgbench.present.index import index_markdown

    entries = [run_entry(root, folder, claims) for folder in run_folders(root)]
    text = index_markdown(_read(root / HEADER_FILE), entries, _read(root / FOOTER_FILE), claims)
    return text, len(entries)


def run_folders(root: Path) -> list[Path]:
    """Every folder under ``root`` holding a results file: grouped by the folder above them (the
    suite), newest first within it (run folders are named by their start time)."""
    folders = [path.parent for path in root.rglob(store.RESULTS_FILE)]
    by_group = sorted(folders, key=lambda f: f.name, reverse=True)
    return sorted(by_group, key=lambda f: f.relative_to(root).parent.as_posix())


def run_entry(root: Path, folder: Path, claims: Claims = DEFAULT_CLAIMS) -> RunEntry:
    from mgbench.analysis.comparisons import paired_comparisons
    from mgbench.present.index import RunEntry

    relative = folder.relative_to(root).as_posix()
    run = RunFolder(folder)
    run_info = _run_info(run)
    forest = run.claim_forest
    common: dict[str, Any] = {
        "path": relative,
        "link": f"{relative}/{_report(run)}",
        "date": _date(folder, run_info),
        "command": _command(run_info),
        "forest_plot": f"{relative}/{forest.name}" if forest.exists() else None,
        "notes": _read(run.notes),
    }
    try:
        records = store.read_run(run.results).records
    except store.ResultsError as error:
        return RunEntry(records=(), comparisons=(), error=str(error), **common)
    comparisons = tuple(paired_comparisons(records, claims=claims))
    return RunEntry(records=records, comparisons=comparisons, **common)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _run_info(run: RunFolder) -> dict[str, object]:
    try:
        data = json.loads(run.run_info.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _report(run: RunFolder) -> str:
    """The report when there is one, else the folder's own Markdown (a calibration's table),
    else its records."""
    report = run.report("md")
    if report.exists():
        return report.name
    others = sorted(p.name for p in run.path.glob("*.md") if is_report(p))
    return others[0] if others else run.results.name


def _date(folder: Path, run_info: dict[str, object]) -> str:
    started = run_info.get("started_at")
    if isinstance(started, str) and len(started) >= 10:
        return started[:10]
    match = _FOLDER_DATE.match(folder.name)
    return "-".join(match.groups()) if match else "?"


def _command(run_info: dict[str, object]) -> str | None:
    """How the run was started, the program named as a reader would type it."""
    argv = run_info.get("argv")
    if not isinstance(argv, list) or not argv:
        return None
    program = "mgbench" if Path(str(argv[0])).name == "mgbench" else str(argv[0])
    return " ".join([program, *(str(arg) for arg in argv[1:])])
