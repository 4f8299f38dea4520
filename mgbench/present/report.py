"""Tables from records: returns strings and data, never prints. Bytes in data, MiB on screen.

A report is a list of sections (title, headers, rows, notes); renderers turn it into Markdown,
CSV, LaTeX, HTML or JSON, so every format shows the same numbers.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from mgbench import analysis
from mgbench.analysis import stats

MIB = 2**20
FORMATS = ("md", "csv", "latex", "html", "json")
CPU_SIMULATION_NOTE = (
    "**CPU simulation**: replicas are logical CPUs on the same cores and the host is also the "
    "default device, so the in-place and concat splits coincide. These numbers test the harness "
    "and placement, not the 5-12% claim."
)


def mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MIB:,.0f}"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _ci(ci: tuple[float, float] | None, pct: bool = False) -> str:
    if ci is None:
        return "n/a"
    if pct:
        return f"[{ci[0]:+.1f}, {ci[1]:+.1f}]%"
    return f"[{ci[0]:,.1f}, {ci[1]:,.1f}]"


def _p(value: float) -> str:
    return f"{value:.3g}"


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    title: str
    preamble: list[str]
    sections: list[Section]


def machine_label(records: Sequence[dict[str, Any]]) -> str:
    labels = []
    for record in records:
        env = record.get("environment") or {}
        gpus = [g.get("name") or "GPU" for g in env.get("gpus", [])]
        mode = record.get("device_mode") or "?"
        hardware = ", ".join(sorted(set(gpus))) if gpus else env.get("cpu", "?")
        versions = f"TF {env.get('tensorflow', '?')}, Keras {env.get('keras', '?')}"
        label = f"{env.get('host', '?')} ({hardware}; {mode}; {versions})"
        if label not in labels and record.get("status") == "ok":
            labels.append(label)
    return "; ".join(labels) or "unknown machine"


def is_cpu_simulation(records: Iterable[dict[str, Any]]) -> bool:
    return any(r.get("device_mode") == "cpu-simulation" for r in records)


CELL_HEADERS = ("model", "backend", "px", "batch/replica")  # what _cell_columns returns


def _cell_columns(cell: dict[str, Any]) -> list[Any]:
    return [
        cell["model"],
        cell.get("backend", "keras3"),
        cell["image_size"],
        cell["batch_per_replica"],
    ]


def _devices(values: dict[str, int]) -> str:
    # NVML keys are physical GPU indices; TF keys are logical device names.
    shown = [f"{'#' + d if d.isdigit() else d} {mib(v)}" for d, v in values.items()]
    return " · ".join(shown) or "n/a"


def summary_table(records: Sequence[dict[str, Any]]) -> str:
    """The end-of-run table: images/s and peak memory per cell, with the machine."""
    cells = analysis.cell_results(records)
    memory = {row.cell.cell_id: row for row in analysis.memory_rows(cells)}
    rows = []
    for cell in cells:
        mem = memory.get(cell.cell_id)
        runs = f"{cell.ok}/{cell.runs}" + (
            f" ({', '.join(cell.statuses)})" if cell.statuses else ""
        )
        rows.append(
            [
                *_cell_columns(cell.cell),
                cell.strategy,
                cell.cell["replicas"],
                runs,
                _rate(cell.per_process.median if cell.per_process else None),
                "n/a" if cell.first_step_s is None else f"{cell.first_step_s:.2f}",
                _devices(mem.tf_peak_bytes) if mem else "n/a",
                _devices(mem.nvml_process_peak_bytes) if mem else "n/a",
                mib(mem.host_rss_peak_bytes) if mem else "n/a",
            ]
        )
    headers = [
        *CELL_HEADERS,
        "strategy",
        "replicas",
        "runs ok",
        "img/s (median)",
        "first step s",
        "TF peak MiB",
        "NVML process peak MiB",
        "host RSS peak MiB",
    ]
    lines = [f"Machine: {machine_label(records)}", ""]
    if is_cpu_simulation(records):
        lines += [CPU_SIMULATION_NOTE, ""]
    lines.append(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    problems = [r for r in records if r["status"] in ("skipped", "failed", "timeout")]
    if problems:
        lines.append("")
        lines += [
            f"- {r['cell_id']} repeat {r['repeat']}: {r['status']}: {r.get('reason')}"
            for r in problems
        ]
    return "\n".join(lines)


# -- the full report ---------------------------------------------------------------------------


def build_report(
    records: Sequence[dict[str, Any]],
    *,
    title: str,
    claim_pct: tuple[float, float] = (5.0, 12.0),
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    allow_mixed: bool = False,
    seed: int = 0,
) -> Report:
    mixed = analysis.check_not_mixed(records, allow_mixed)
    cells = analysis.cell_results(records, seed=seed)
    preamble = [f"Machine: {machine_label(records)}"]
    backends = sorted({r["cell"].get("backend", "keras3") for r in records})
    preamble.append(f"Backend: {', '.join(backends)}")
    if is_cpu_simulation(records):
        preamble.append(CPU_SIMULATION_NOTE)
    preamble.append(
        f"Verdicts: a difference is detected when the Mann-Whitney U p-value < {alpha:g}, the "
        f"95% bootstrap CI excludes 0 and |change| >= {min_effect_pct:g}%; "
        f"claim: in-place {claim_pct[0]:g}-{claim_pct[1]:g}% faster than concat."
    )
    notes = mixed + analysis.weak_result_notes(cells)
    sections = [
        _claim_section(cells, claim_pct, alpha, min_effect_pct, seed, is_cpu_simulation(records)),
        _cells_section(cells),
        _scaling_section(cells),
        _memory_section(cells),
        _placement_section(cells),
    ]
    if notes:
        sections.append(Section("Warnings", [], [], notes))
    return Report(title, preamble, sections)


def _claim_section(cells, claim_pct, alpha, min_effect_pct, seed, cpu_simulation) -> Section:
    # On a CPU both splits slice on CPU:0: a verdict there says nothing about the claim.
    marker = " (CPU simulation: not the claim)" if cpu_simulation else ""
    rows = []
    for row in analysis.claim_rows(
        cells, claim_pct, alpha=alpha, min_effect_pct=min_effect_pct, seed=seed
    ):
        c = row.comparison
        rows.append(
            [
                *_cell_columns(row.inplace.cell),
                row.key[3],
                _rate(row.inplace.images_per_s),
                _rate(row.concat.images_per_s),
                _pct(c.change_pct),
                _ci(c.ci_pct, pct=True),
                _p(c.p_value),
                row.verdict + marker,
            ]
        )
    return Section(
        "In-place split against concat split (the claim)",
        [
            *CELL_HEADERS,
            "replicas",
            "inplace img/s",
            "concat img/s",
            "speedup",
            "95% CI",
            "U p-value",
            "verdict",
        ],
        rows,
    )


def _cells_section(cells: Sequence[analysis.CellResult]) -> Section:
    rows = []
    for cell in cells:
        pp, ps = cell.per_process, cell.per_step
        rows.append(
            [
                *_cell_columns(cell.cell),
                cell.strategy,
                cell.cell["replicas"],
                f"{cell.ok}/{cell.runs}",
                _rate(cell.images_per_s),
                _ci(cell.ci),
                _rate(pp.median) if pp else "n/a",
                f"{pp.mean:,.1f} ± {pp.stdev:,.1f}" if pp else "n/a",
                f"{ps.cv:.1%}" if ps else "n/a",
                f"{cell.step_time.p90 * 1000:,.1f}" if cell.step_time else "n/a",
                "n/a" if cell.first_step_s is None else f"{cell.first_step_s:.2f}",
                len(cell.processes),
                cell.step_samples,
            ]
        )
    return Section(
        "Throughput per cell (images/s; processes are the unit of replication)",
        [
            *CELL_HEADERS,
            "strategy",
            "replicas",
            "runs ok",
            "img/s",
            "95% CI",
            "median (proc)",
            "mean ± sd (proc)",
            "CV (step)",
            "p90 step ms",
            "first step s",
            "processes",
            "steps",
        ],
        rows,
    )


def _scaling_section(cells: Sequence[analysis.CellResult]) -> Section:
    rows = [
        [
            *_cell_columns(row.cell.cell),
            row.cell.strategy,
            row.cell.cell["replicas"],
            _rate(row.cell.images_per_s),
            "n/a" if row.efficiency is None else f"{row.efficiency:.0%}",
            "n/a" if row.vs_mirrored is None else f"{row.vs_mirrored:.2f}x",
        ]
        for row in analysis.scaling_rows(cells)
    ]
    return Section(
        "Scaling against one device and against MirroredStrategy",
        [
            *CELL_HEADERS,
            "strategy",
            "replicas",
            "img/s",
            "scaling efficiency",
            "vs mirrored",
        ],
        rows,
    )


def _memory_section(cells: Sequence[analysis.CellResult]) -> Section:
    memory = analysis.memory_rows(cells)
    by_key = {(m.cell.key, m.cell.strategy): m for m in memory}
    rows, reasons = [], set()
    for row in memory:
        tf = row.tf_peak_bytes
        first = next(iter(tf), None)
        others = {d: v for d, v in tf.items() if d != first}
        saving = None
        concat = by_key.get((row.cell.key, "concat"))
        if row.cell.strategy == "inplace" and concat is not None and first is not None:
            saving = analysis.memory_saving_pct(row, concat, first)
        if row.reason:
            reasons.add(row.reason)
        rows.append(
            [
                *_cell_columns(row.cell.cell),
                row.cell.strategy,
                row.cell.cell["replicas"],
                f"{first} {mib(tf[first])}" if first else "n/a",
                mib(max(others.values())) if others else "n/a",
                _devices(row.nvml_process_peak_bytes),
                mib(row.host_rss_peak_bytes),
                _pct(saving) if saving is not None else "",
            ]
        )
    notes = [f"TF peaks: {r}" for r in sorted(reasons)]
    return Section(
        "Peak memory per device (MiB; max over processes, never summed across devices)",
        [
            *CELL_HEADERS,
            "strategy",
            "replicas",
            "TF peak first device",
            "TF peak other replicas (max)",
            "NVML process peak",
            "host RSS",
            "in-place saving",
        ],
        rows,
        notes,
    )


def _placement_section(cells: Sequence[analysis.CellResult]) -> Section:
    rows = []
    for cell in cells:
        if not cell.records:
            continue
        record = cell.records[0]
        summary = record.get("placement")
        if summary is None:
            rows.append(
                [
                    cell.strategy,
                    cell.cell["replicas"],
                    cell.cell["model"],
                    cell.cell.get("backend", "keras3"),
                    record.get("placement_reason") or "n/a",
                    "",
                    "",
                    "",
                    "",
                ]
            )
            continue
        unplaced = sum(summary.get("unplaced_ops", {}).values())
        rows.append(
            [
                cell.strategy,
                cell.cell["replicas"],
                cell.cell["model"],
                cell.cell.get("backend", "keras3"),
                ", ".join(summary["slice_devices"]) or "-",
                ", ".join(summary["merge_devices"]) or "-",
                ", ".join(summary["grad_aggregate_devices"]) or "-",
                ", ".join(summary["update_devices"]) or "-",
                f"{unplaced} (→ {summary['default_device']})",
            ]
        )
    return Section(
        "Placement of the traced training step",
        [
            "strategy",
            "replicas",
            "model",
            "backend",
            "input slicing",
            "merge",
            "gradient aggregation",
            "variable updates",
            "unplaced ops",
        ],
        rows,
    )


# -- compare two runs --------------------------------------------------------------------------


def build_comparison(
    before: Sequence[dict[str, Any]],
    after: Sequence[dict[str, Any]],
    *,
    title: str,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    seed: int = 0,
) -> Report:
    analysis.check_not_mixed(before, False)
    analysis.check_not_mixed(after, False)
    old = {c.cell_id: c for c in analysis.cell_results(before, seed=seed)}
    new = analysis.cell_results(after, seed=seed)
    rows, missing = [], []
    for cell in new:
        base = old.get(cell.cell_id)
        if base is None or not base.processes or not cell.processes:
            missing.append(cell.cell_id)
            continue
        c = stats.compare(
            cell.processes, base.processes, alpha=alpha, min_effect_pct=min_effect_pct, seed=seed
        )
        rows.append(
            [
                *_cell_columns(cell.cell),
                cell.strategy,
                cell.cell["replicas"],
                _rate(base.images_per_s),
                _rate(cell.images_per_s),
                _pct(c.change_pct),
                _ci(c.ci_pct, pct=True),
                _p(c.p_value),
                stats.change_verdict(c),
            ]
        )
    preamble = [f"Before: {machine_label(before)}", f"After: {machine_label(after)}"]
    if is_cpu_simulation([*before, *after]):
        preamble.append(CPU_SIMULATION_NOTE)
    preamble.append(
        f"A change is detected when the Mann-Whitney U p-value < {alpha:g}, the 95% bootstrap "
        f"CI excludes 0 and |change| >= {min_effect_pct:g}%."
    )
    section = Section(
        "After against before (images/s)",
        [
            *CELL_HEADERS,
            "strategy",
            "replicas",
            "before img/s",
            "after img/s",
            "change",
            "95% CI",
            "U p-value",
            "verdict",
        ],
        rows,
        [f"{cell_id}: not in both runs (or no successful run)" for cell_id in missing],
    )
    return Report(title, preamble, [section])


# -- renderers ---------------------------------------------------------------------------------


def render(report: Report, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(to_data(report), indent=2, ensure_ascii=False)
    if fmt == "csv":
        return _render_csv(report)
    tablefmt = {"md": "github", "latex": "latex_booktabs", "html": "html"}[fmt]
    heading = {"md": "# {}", "latex": "\\section*{{{}}}", "html": "<h1>{}</h1>"}[fmt]
    sub = {"md": "## {}", "latex": "\\subsection*{{{}}}", "html": "<h2>{}</h2>"}[fmt]
    text = {"md": str, "latex": _latex_text, "html": html.escape}[fmt]
    para = {"md": "{}", "latex": "{}", "html": "<p>{}</p>"}[fmt]
    out = [heading.format(text(report.title)), ""]
    for line in report.preamble:
        out += [para.format(text(line)), ""]
    for section in report.sections:
        out += [sub.format(text(section.title)), ""]
        if section.rows:
            out.append(
                tabulate(
                    section.rows, headers=section.headers, tablefmt=tablefmt, disable_numparse=True
                )
            )
            out.append("")
        elif not section.notes:
            out += [para.format("(nothing to show)"), ""]
        bullet = "- {}" if fmt == "md" else para
        out += [bullet.format(text(note)) for note in section.notes]
        if section.notes:
            out.append("")
    return "\n".join(out).rstrip() + "\n"


_LATEX_SPECIAL = {c: "\\" + c for c in "%&_#$"}


def _latex_text(value: str) -> str:
    """Prose for LaTeX: escape what would comment out or break a line (tables escape their own)."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in value).replace("**", "")


def _render_csv(report: Report) -> str:
    """One CSV: note rows first (machine, caveats, warnings), then each table's rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for line in report.preamble:
        writer.writerow(["note", line])
    for section in report.sections:
        for note in section.notes:
            writer.writerow(["note", f"{section.title}: {note}"])
    buffer.write("\n")
    for section in report.sections:
        if not section.rows:
            continue
        writer.writerow(["table", *section.headers])
        for row in section.rows:
            writer.writerow([section.title, *row])
        buffer.write("\n")
    return buffer.getvalue()


def to_data(report: Report) -> dict[str, Any]:
    return {
        "title": report.title,
        "preamble": report.preamble,
        "sections": [
            {
                "title": s.title,
                "rows": [dict(zip(s.headers, row, strict=True)) for row in s.rows],
                "notes": s.notes,
            }
            for s in report.sections
        ],
    }
