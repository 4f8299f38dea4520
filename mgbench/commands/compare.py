"""``mgbench compare``: cell by cell, a run against an earlier one."""

from __future__ import annotations

from pathlib import Path

from mgbench.present import render, sections
from mgbench.records import store


def compare_runs(
    before: str | Path,
    after: str | Path,
    *,
    fmt: str = "md",
    alpha: float = 0.05,
    min_effect_pct: float = 2.0,
) -> str:
    before_folder, before_path = store.locate(before)
    after_folder, after_path = store.locate(after)
    built = sections.build_comparison(
        store.read_records(before_path),
        store.read_records(after_path),
        title=f"mgbench compare: {before_folder.name} -> {after_folder.name}",
        alpha=alpha,
        min_effect_pct=min_effect_pct,
    )
    return render.render(built, fmt)
