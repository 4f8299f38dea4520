"""``mgbench compare``: cell by cell, a run against an earlier one.

Each cell's verdict is faster / slower / no difference (CI inside +-min-effect) / inconclusive,
the last with about how many processes a side would decide (see ``stats.change_verdict``).
"""

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
    before_run, after_run = store.read_run(before_path), store.read_run(after_path)
    built = sections.build_comparison(
        before_run.records,
        after_run.records,
        title=f"mgbench compare: {before_folder.name} -> {after_folder.name}",
        alpha=alpha,
        min_effect_pct=min_effect_pct,
        warnings=[*before_run.warnings, *after_run.warnings],
    )
    return render.render(built, fmt)
