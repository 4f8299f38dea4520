"""``mgbench export``: a run in another tool's format (pytest-benchmark JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from mgbench.records import store


def export_run(run: str | Path, *, fmt: str, output: str | Path) -> Path:
    from mgbench.present import export

    if fmt not in export.FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(export.FORMATS)}")
    _, results_path = store.locate(run)
    document = export.to_pytest_benchmark(store.read_records(results_path))
    output = Path(output)
    output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return output
