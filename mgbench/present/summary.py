"""The end-of-run tables: images/s and peak memory per cell, with the machine, and the headline
claim table of the paired comparisons.

The summary needs no confidence interval, so printing it after a run resamples nothing; the
headline's interval is a closed-form t-interval, as cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mgbench.analysis import stats
from mgbench.analysis.cells import CellResult, cell_results, memory_rows
from mgbench.analysis.claim import DEFAULT_CLAIMS, Caveats, Claims, claim_args
from mgbench.analysis.comparisons import paired_comparisons
from mgbench.present import formats, prose
from mgbench.present.model import (
    CELL_COLUMNS,
    STRATEGY_COLUMNS,
    Column,
    Section,
    cell_values,
    devices_column,
    mib_column,
    rate_column,
    strategy_values,
)
from mgbench.present.render import table
from mgbench.present.sections import headline_sections
from mgbench.records import environment
from mgbench.records.record import Record, not_needed_ending

PROBLEM_STATUSES = ("skipped", "failed", "timeout")


def summary_section(cells: Sequence[CellResult]) -> Section:
    memory = {row.cell.cell_id: row for row in memory_rows(cells)}
    rows = []
    for cell in cells:
        mem = memory.get(cell.cell_id)
        runs = f"{cell.ok}/{cell.runs}"
        if cell.statuses:
            runs += f" ({', '.join(cell.statuses)})"
        rows.append(
            [
                *cell_values(cell.cell),
                *strategy_values(cell.cell),
                runs,
                cell.per_process.median if cell.per_process else None,
                cell.first_step_s,
                (mem.tf_peak_bytes or None) if mem else None,
                (mem.nvml_process_peak_bytes or None) if mem else None,
                mem.host_rss_peak_bytes if mem else None,
            ]
        )
    return Section(
        "Summary",
        [
            *CELL_COLUMNS,
            *STRATEGY_COLUMNS,
            Column("runs ok"),
            rate_column("img/s (median)"),
            Column("first step s", formats.seconds, "s"),
            devices_column("TF peak MiB"),
            devices_column("NVML process peak MiB"),
            mib_column("host RSS peak MiB"),
        ],
        rows,
    )


def summary_table(records: Sequence[Record], claims: Claims = DEFAULT_CLAIMS) -> str:
    """The table printed after a run and written to its summary.md."""
    lines = [f"Machine: {environment.machine_label(records)}", ""]
    for note in prose.preamble_caveats(claims, Caveats.of(r.device_mode for r in records)):
        lines += [note, ""]
    lines.append(table(summary_section(cell_results(records))))
    # A process a look made unnecessary is no problem: the paired tables say how each cell ended.
    not_needed = [r for r in records if not_needed_ending(r.status, r.reason)]
    problems = [
        r
        for r in records
        if r.status in PROBLEM_STATUSES and not not_needed_ending(r.status, r.reason)
    ]
    if problems:
        lines.append("")
        lines += [f"- {r.cell_id} repeat {r.repeat}: {r.status}: {r.reason}" for r in problems]
    if not_needed:
        cells = len({r.cell_id for r in not_needed})
        lines += [
            "",
            f"Run until decided: {len(not_needed)} paired process(es) of {cells} cell(s) not "
            "needed (recorded as skipped: an earlier look stopped their cells).",
        ]
    return "\n".join(lines)


def claim_headline(
    records: Sequence[Record],
    *,
    claims: Claims = DEFAULT_CLAIMS,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    run_folder: str | Path | None = None,
) -> str:
    """The report's headline sections alone, for the end of ``mgbench run``: per claim a
    heading, the paired estimate, CI and verdict per comparison, its notes, and the command
    for the report."""
    sections = headline_sections(
        paired_comparisons(records, alpha=alpha, claims=claims, min_effect_pct=min_effect_pct),
        Caveats.of(r.device_mode for r in records),
        alpha,
        claims=claims,
        min_effect_pct=min_effect_pct,
    )
    lines: list[str] = []
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.rows:
            lines += [table(section), ""]
        lines += [f"- {note}" for note in section.notes] + [""]
    if run_folder is not None:
        same_claims = "".join(f" --claim {arg}" for arg in claim_args(claims))
        lines += [f"Full report: mgbench report {run_folder}{same_claims}"]
    return "\n".join(lines).rstrip("\n")
