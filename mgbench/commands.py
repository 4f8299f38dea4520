"""What ``mgbench report`` and ``mgbench compare`` do: read runs, build reports, write files."""

from __future__ import annotations

from pathlib import Path

from mgbench import analysis, plots, report, results


def parse_claim(text: str) -> tuple[float, float]:
    """``"5:12"`` -> (5.0, 12.0)."""
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError as error:
        raise ValueError(f"--claim expects LOW:HIGH in percent, like 5:12; got {text!r}") from error
    if not 0 <= low < high:
        raise ValueError(f"--claim expects 0 <= LOW < HIGH, got {text!r}")
    return low, high


def report_run(
    run: str | Path,
    *,
    fmt: str = "md",
    claim_pct: tuple[float, float] = (5.0, 12.0),
    alpha: float = 0.05,
    min_effect_pct: float = 2.0,
    allow_mixed: bool = False,
    with_plots: bool = True,
) -> tuple[str, list[Path]]:
    """The report's text, and the files written beside the run (the report and its plots)."""
    folder, results_path = results.locate(run)
    records = results.read_records(results_path)
    if not records:
        raise results.ResultsError(f"{results_path}: no records yet")
    built = report.build_report(
        records,
        title=f"mgbench report: {folder.name}",
        claim_pct=claim_pct,
        alpha=alpha,
        min_effect_pct=min_effect_pct,
        allow_mixed=allow_mixed,
    )
    text = report.render(built, fmt)
    out = folder / f"report.{fmt}"
    out.write_text(text, encoding="utf-8")
    written = [out]
    if with_plots:
        cells = analysis.cell_results(records)
        caption = "CPU simulation: not a speed test" if report.is_cpu_simulation(records) else ""
        written += plots.throughput_plots(cells, folder, caption=caption)
        written += plots.memory_plots(cells, folder)
    return text, written


def compare_runs(
    before: str | Path,
    after: str | Path,
    *,
    fmt: str = "md",
    alpha: float = 0.05,
    min_effect_pct: float = 2.0,
) -> str:
    before_folder, before_path = results.locate(before)
    after_folder, after_path = results.locate(after)
    built = report.build_comparison(
        results.read_records(before_path),
        results.read_records(after_path),
        title=f"mgbench compare: {before_folder.name} -> {after_folder.name}",
        alpha=alpha,
        min_effect_pct=min_effect_pct,
    )
    return report.render(built, fmt)
