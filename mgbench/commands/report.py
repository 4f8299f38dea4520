"""``mgbench report``: statistics, claim verdicts, memory and plots for one run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mgbench.analysis.claim import DEFAULT_ALPHA, DEFAULT_CLAIMS, DEFAULT_MIN_EFFECT_PCT, Claims
from mgbench.commands import flags

NAME = "report"
HELP = "statistics, verdicts on the claim, memory and plots for a run"


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a run folder or its results.jsonl")
    flags.add_format(parser)
    flags.add_significance(parser)
    flags.add_min_effect(parser)
    flags.add_claim(parser)
    parser.add_argument(
        "--allow-mixed", action="store_true", help="merge results from different machines"
    )
    parser.add_argument("--no-plots", action="store_true")
    flags.add_hardware(parser, required=False)


def run_from_args(args: argparse.Namespace) -> int:
    text, written = report_run(
        args.run,
        fmt=args.format,
        claims=flags.claims(args),
        alpha=args.alpha,
        min_effect_pct=args.min_effect,
        allow_mixed=args.allow_mixed,
        with_plots=not args.no_plots,
        hardware=args.hardware,
    )
    print(text)
    print("written: " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0


def report_run(
    run: str | Path,
    *,
    fmt: str = "md",
    claims: Claims = DEFAULT_CLAIMS,
    alpha: float = DEFAULT_ALPHA,
    min_effect_pct: float = DEFAULT_MIN_EFFECT_PCT,
    allow_mixed: bool = False,
    with_plots: bool = True,
    hardware: str | Path | None = None,
) -> tuple[str, list[Path]]:
    """The report's text, and the files written beside the run (the report and its plots)."""
    from mgbench.analysis.cells import cell_results
    from mgbench.config import hardware_specs
    from mgbench.present import html, plots, prediction, render, sections
    from mgbench.records import environment, store
    from mgbench.records.run_folder import RunFolder
    from mgbench.records.timelines import read_timelines

    # A bad hardware spec is refused before any work (one line, exit 2).
    spec = hardware_specs.load_spec(hardware) if hardware else None
    folder, results_path = store.locate(run)
    run_records = store.read_run(results_path)
    records = list(run_records.records)
    if not records:
        raise store.ResultsError(f"{results_path}: no records yet")
    cells = cell_results(records)
    predicted = None
    if spec is not None:
        predicted = prediction.prediction_section(records, spec, claims=claims, alpha=alpha)
    built = sections.build_report(
        records,
        title=f"mgbench report: {folder.name}",
        cells=cells,
        claims=claims,
        alpha=alpha,
        min_effect_pct=min_effect_pct,
        allow_mixed=allow_mixed,
        warnings=run_records.warnings,
        timelines=read_timelines(folder),
        prediction=predicted,
    )
    images: list[Path] = []
    if with_plots:  # first: the HTML page embeds them and the Markdown links them
        cpu_simulation = environment.is_cpu_simulation(records)
        caption = "CPU simulation: not a speed test" if cpu_simulation else ""
        images = plots.report_plots(
            records, cells, folder, claims=claims, alpha=alpha, caption=caption
        )
    if fmt == "html":
        text = html.html_document(built, images)
    else:
        text = render.render(built, fmt)
        if fmt == "md" and images:
            text += (
                "\n## Plots\n\n"
                + "\n".join(f"![{path.stem}]({path.name})" for path in images)
                + "\n"
            )
    out = RunFolder(folder).report(fmt)
    out.write_text(text, encoding="utf-8")
    return text, [out, *images]
