"""A report as data: sections of rows that keep their numbers, and columns that say how each
number is shown (and in which unit it is kept). Renderers (``present.render``) make the text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mgbench import analysis
from mgbench.analysis import stats
from mgbench.config.suite import Cell
from mgbench.present import formats
from mgbench.records import environment
from mgbench.records.record import Record

CPU_SIMULATION_NOTE = (
    "**CPU simulation**: replicas are logical CPUs on the same cores and the host is also the "
    "default device, so the in-place and concat splits coincide. These numbers test the harness "
    "and placement, not the 5-12% claim."
)


@dataclass(frozen=True)
class Column:
    """A heading, how its values are shown, the unit they are kept in, and the text for None."""

    header: str
    show: Callable[[Any], str] = formats.text
    unit: str | None = None
    missing: str = "n/a"

    def text(self, value: Any) -> str:
        return self.missing if value is None else self.show(value)


@dataclass
class Section:
    title: str
    columns: list[Column]
    rows: list[list[Any]]  # numbers, strings, None, or small lists/dicts of them (JSON-able)
    notes: list[str] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    def text_rows(self) -> list[list[str]]:
        return [
            [column.text(value) for column, value in zip(self.columns, row, strict=True)]
            for row in self.rows
        ]


@dataclass
class Report:
    title: str
    preamble: list[str]
    sections: list[Section]


# -- columns shared by the sections ------------------------------------------------------------

CELL_COLUMNS = [Column("model"), Column("backend"), Column("px"), Column("batch/replica")]
STRATEGY_COLUMNS = [Column("strategy"), Column("replicas")]
RATE = "images/s"


def cell_values(cell: Cell) -> list[Any]:
    """The values of CELL_COLUMNS."""
    return [cell.model, cell.backend, cell.image_size, cell.batch_per_replica]


def strategy_values(cell: Cell) -> list[Any]:
    return [cell.strategy, cell.replicas]


def rate_column(header: str) -> Column:
    return Column(header, formats.rate, RATE)


def comparison_columns(change_header: str) -> list[Column]:
    return [
        Column(change_header, formats.signed_pct, "%"),
        Column("95% CI", formats.pct_interval, "%"),
        Column("U p-value", formats.p_value),
        Column("verdict"),
    ]


def comparison_values(comparison: stats.Comparison, verdict: str) -> list[Any]:
    return [comparison.change_pct, comparison.ci_pct, comparison.p_value, verdict]


def mib_column(header: str, missing: str = "n/a") -> Column:
    return Column(header, formats.mib, "bytes", missing)


def devices_column(header: str) -> Column:
    return Column(header, formats.devices_mib, "bytes")


# -- the full report ---------------------------------------------------------------------------


def build_report(
    records: Sequence[Record],
    *,
    title: str,
    cells: Sequence[analysis.CellResult] | None = None,
    claim_pct: tuple[float, float] = (5.0, 12.0),
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    allow_mixed: bool = False,
    seed: int = 0,
) -> Report:
    """The report of one run; pass ``cells`` when the caller has them already."""
    mixed = environment.check_not_mixed(records, allow_mixed)
    if cells is None:
        cells = analysis.cell_results(records, seed=seed)
    cpu_simulation = environment.is_cpu_simulation(records)
    preamble = [f"Machine: {environment.machine_label(records)}"]
    backends = sorted({r.cell.backend for r in records})
    preamble.append(f"Backend: {', '.join(backends)}")
    if cpu_simulation:
        preamble.append(CPU_SIMULATION_NOTE)
    preamble.append(
        f"Verdicts: a difference is detected when the Mann-Whitney U p-value < {alpha:g}, the "
        f"95% bootstrap CI excludes 0 and |change| >= {min_effect_pct:g}%; "
        f"claim: in-place {claim_pct[0]:g}-{claim_pct[1]:g}% faster than concat."
    )
    pairs = analysis.claim_pairs(
        cells, claim_pct, alpha=alpha, min_effect_pct=min_effect_pct, seed=seed
    )
    notes = mixed + analysis.weak_result_notes(cells)
    sections = [
        claim_section(pairs, cpu_simulation),
        cells_section(cells),
        scaling_section(analysis.scaling_rows(cells)),
        memory_section(analysis.memory_rows(cells)),
        placement_section(cells),
    ]
    if notes:
        sections.append(Section("Warnings", [], [], notes))
    return Report(title, preamble, sections)


def claim_section(pairs: Sequence[analysis.ClaimPair], cpu_simulation: bool) -> Section:
    # On a CPU both splits slice on CPU:0: a verdict there says nothing about the claim.
    marker = " (CPU simulation: not the claim)" if cpu_simulation else ""
    rows = [
        [
            *cell_values(pair.inplace.cell),
            pair.key.replicas,
            pair.inplace.images_per_s,
            pair.concat.images_per_s,
            *comparison_values(pair.comparison, pair.verdict + marker),
        ]
        for pair in pairs
    ]
    return Section(
        "In-place split against concat split (the claim)",
        [
            *CELL_COLUMNS,
            Column("replicas"),
            rate_column("inplace img/s"),
            rate_column("concat img/s"),
            *comparison_columns("speedup"),
        ],
        rows,
    )


def cells_section(cells: Sequence[analysis.CellResult]) -> Section:
    rows = []
    for cell in cells:
        pp, ps = cell.per_process, cell.per_step
        rows.append(
            [
                *cell_values(cell.cell),
                *strategy_values(cell.cell),
                {"ok": cell.ok, "runs": cell.runs},
                cell.images_per_s,
                cell.ci,
                pp.median if pp else None,
                {"mean": pp.mean, "stdev": pp.stdev} if pp else None,
                ps.cv if ps else None,
                cell.step_time.p90 if cell.step_time else None,
                cell.first_step_s,
                len(cell.processes),
                cell.step_samples,
            ]
        )
    return Section(
        "Throughput per cell (images/s; processes are the unit of replication)",
        [
            *CELL_COLUMNS,
            *STRATEGY_COLUMNS,
            Column("runs ok", formats.ok_of_runs),
            rate_column("img/s"),
            Column("95% CI", formats.interval, RATE),
            rate_column("median (proc)"),
            Column("mean ± sd (proc)", formats.mean_stdev, RATE),
            Column("CV (step)", formats.fraction_pct1, "fraction"),
            Column("p90 step ms", formats.milliseconds, "s"),
            Column("first step s", formats.seconds, "s"),
            Column("processes"),
            Column("steps"),
        ],
        rows,
    )


def scaling_section(scaling: Sequence[analysis.ScalingRow]) -> Section:
    rows = [
        [
            *cell_values(row.cell.cell),
            *strategy_values(row.cell.cell),
            row.cell.images_per_s,
            row.efficiency,
            row.vs_mirrored,
        ]
        for row in scaling
    ]
    return Section(
        "Scaling against one device and against MirroredStrategy",
        [
            *CELL_COLUMNS,
            *STRATEGY_COLUMNS,
            rate_column("img/s"),
            Column("scaling efficiency", formats.fraction_pct0, "fraction"),
            Column("vs mirrored", formats.times, "ratio"),
        ],
        rows,
    )


def memory_section(memory: Sequence[analysis.MemoryRow]) -> Section:
    by_key = {(m.cell.key, m.cell.strategy): m for m in memory}
    rows, reasons = [], set()
    for row in memory:
        tf = row.tf_peak_bytes
        first = next(iter(tf), None)
        others = [v for d, v in tf.items() if d != first]
        saving = None
        concat = by_key.get((row.cell.key, "concat"))
        if row.cell.strategy == "inplace" and concat is not None and first is not None:
            saving = analysis.memory_saving_pct(row, concat, first)
        if row.reason:
            reasons.add(row.reason)
        rows.append(
            [
                *cell_values(row.cell.cell),
                *strategy_values(row.cell.cell),
                {first: tf[first]} if first is not None else None,
                max(others) if others else None,
                row.nvml_process_peak_bytes or None,
                row.host_rss_peak_bytes,
                saving,
            ]
        )
    notes = [f"TF peaks: {r}" for r in sorted(reasons)]
    return Section(
        "Peak memory per device (MiB; max over processes, never summed across devices)",
        [
            *CELL_COLUMNS,
            *STRATEGY_COLUMNS,
            devices_column("TF peak first device"),
            mib_column("TF peak other replicas (max)"),
            devices_column("NVML process peak"),
            mib_column("host RSS"),
            Column("in-place saving", formats.signed_pct, "%", missing=""),
        ],
        rows,
        notes,
    )


def placement_section(cells: Sequence[analysis.CellResult]) -> Section:
    rows = []
    for cell in cells:
        if not cell.records:
            continue
        record = cell.records[0]
        c = cell.cell
        placement = record.placement
        if placement is None:
            not_traced = record.placement_reason or "n/a"
            rows.append([c.strategy, c.replicas, c.model, c.backend, not_traced, *[None] * 4])
            continue
        rows.append(
            [
                c.strategy,
                c.replicas,
                c.model,
                c.backend,
                placement.slice_devices,
                placement.merge_devices,
                placement.grad_aggregate_devices,
                placement.update_devices,
                {"ops": placement.unplaced_total, "default_device": placement.default_device},
            ]
        )
    devices = [
        Column(header, formats.device_list, missing="")
        for header in ("input slicing", "merge", "gradient aggregation", "variable updates")
    ]
    return Section(
        "Placement of the traced training step",
        [
            *STRATEGY_COLUMNS,
            Column("model"),
            Column("backend"),
            *devices,
            Column("unplaced ops", formats.unplaced_ops, missing=""),
        ],
        rows,
    )


# -- a run against an earlier run --------------------------------------------------------------


def build_comparison(
    before: Sequence[Record],
    after: Sequence[Record],
    *,
    title: str,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    seed: int = 0,
) -> Report:
    environment.check_not_mixed(before, False)
    environment.check_not_mixed(after, False)
    changes = analysis.run_changes(
        analysis.cell_results(before, seed=seed),
        analysis.cell_results(after, seed=seed),
        alpha=alpha,
        min_effect_pct=min_effect_pct,
        seed=seed,
    )
    rows, missing = [], []
    for change in changes:
        if change.after is None:
            continue  # only in the baseline: nothing to show after
        if change.before is None or change.comparison is None:
            missing.append(change.cell_id)
            continue
        rows.append(
            [
                *cell_values(change.after.cell),
                *strategy_values(change.after.cell),
                change.before.images_per_s,
                change.after.images_per_s,
                *comparison_values(change.comparison, stats.change_verdict(change.comparison)),
            ]
        )
    preamble = [
        f"Before: {environment.machine_label(before)}",
        f"After: {environment.machine_label(after)}",
    ]
    if environment.is_cpu_simulation([*before, *after]):
        preamble.append(CPU_SIMULATION_NOTE)
    preamble.append(
        f"A change is detected when the Mann-Whitney U p-value < {alpha:g}, the 95% bootstrap "
        f"CI excludes 0 and |change| >= {min_effect_pct:g}%."
    )
    section = Section(
        "After against before (images/s)",
        [
            *CELL_COLUMNS,
            *STRATEGY_COLUMNS,
            rate_column("before img/s"),
            rate_column("after img/s"),
            *comparison_columns("change"),
        ],
        rows,
        [f"{cell_id}: not in both runs (or no successful run)" for cell_id in missing],
    )
    return Report(title, preamble, [section])
