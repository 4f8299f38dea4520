"""``mgbench compare``: cell by cell, a run against an earlier one.

Each cell's verdict is faster / slower / no difference (CI inside +-min-effect) / inconclusive,
the last with about how many processes a side would decide (see ``stats.change_verdict``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mgbench.analysis.claim import DEFAULT_ALPHA, DEFAULT_MIN_EFFECT_PCT
from mgbench.commands import flags

NAME = "compare"
HELP = "cell by cell: AFTER against BEFORE"


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("before")
    parser.add_argument("after")
    flags.add_format(parser)
    flags.add_significance(parser)
    flags.add_min_effect(parser)


def run_from_args(args: argparse.Namespace) -> int:
    print(
        compare_runs(
            args.before,
            args.after,
            fmt=args.format,
            alpha=args.alpha,
            min_effect_pct=args.min_effect,
        )
    )
    return 0


def compare_runs(
    before: str | Path,
    after: str | Path,
    *,
    fmt: str = "md",
    alpha: float = DEFAULT_ALPHA,
    min_effect_pct: float = DEFAULT_MIN_EFFECT_PCT,
) -> str:
    from mgbench.present import render, sections
    from mgbench.records import store

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
