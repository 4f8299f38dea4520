"""What ``mgbench report`` and ``mgbench compare`` do: read runs, build reports, write files."""

from __future__ import annotations

import json
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


def parse_percent(text: str) -> float:
    """``"5%"`` or ``"5"`` -> 5.0."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError as error:
        raise ValueError(f"expected a percentage like 5%, got {text!r}") from error
    if value < 0:
        raise ValueError(f"expected a percentage >= 0, got {text!r}")
    return value


def export_run(run: str | Path, *, fmt: str, output: str | Path) -> Path:
    from mgbench import export

    if fmt not in export.FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(export.FORMATS)}")
    _, results_path = results.locate(run)
    document = export.to_pytest_benchmark(results.read_records(results_path))
    output = Path(output)
    output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return output


def gate(
    first: str | Path,
    second: str | Path | None,
    *,
    ratio: str | None,
    minimum: float,
    max_slowdown_pct: float,
    max_memory_growth_pct: float,
    alpha: float,
) -> tuple[str, int]:
    """The gate's report and exit code: 1 when any line fails."""
    from mgbench import gate as gates

    first_records = results.read_records(results.locate(first)[1])
    if ratio is not None:
        if second is not None:
            raise ValueError("--ratio gates one run; give one RUN, not two")
        numerator, sep, denominator = ratio.partition("/")
        if not sep or not numerator or not denominator:
            raise ValueError(f"--ratio expects A/B, like inplace/concat; got {ratio!r}")
        lines = gates.gate_ratio(
            first_records, numerator, denominator, minimum=minimum, alpha=alpha
        )
        header = f"ratio gate {ratio} >= {minimum:g} (alpha {alpha:g}) on {first}"
    else:
        if second is None:
            raise ValueError("gate needs BASELINE and NEW runs, or one RUN with --ratio A/B")
        new_records = results.read_records(results.locate(second)[1])
        if not any(r["status"] == "ok" for r in new_records):
            raise ValueError(f"{second}: the new run has no successful cell run to gate")
        lines = gates.gate_runs(
            first_records,
            new_records,
            max_slowdown_pct=max_slowdown_pct,
            max_memory_growth_pct=max_memory_growth_pct,
            alpha=alpha,
        )
        header = (
            f"gate {second} against {first}: slowdown <= {max_slowdown_pct:g}%, "
            f"memory growth <= {max_memory_growth_pct:g}% (alpha {alpha:g})"
        )
        if analysis.identities(first_records) != analysis.identities(new_records):
            header += "\nWARNING: the runs come from different machines or versions"
    failed = [line for line in lines if not line.passed]
    body = [f"{'PASS' if line.passed else 'FAIL'}  {line.subject}: {line.reason}" for line in lines]
    verdict = f"{len(failed)} of {len(lines)} checks failed" if failed else "all checks passed"
    return "\n".join([header, *body, verdict]), 1 if failed else 0
