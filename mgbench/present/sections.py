"""The report's sections, built from records: the claim's paired headline and unpaired
cross-check, throughput, scaling, memory, placement, transfers, workers and timelines, and a run
against an earlier run. Each returns a :class:`~mgbench.present.model.Section` of numbers; the
words come from :mod:`mgbench.present.prose`, the verdicts from :mod:`mgbench.analysis.claim`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mgbench.analysis import stats
from mgbench.analysis.cells import (
    CellResult,
    EnergyRow,
    MemoryRow,
    ScalingRow,
    WorkerRow,
    cell_results,
    energy_rows,
    memory_rows,
    scaling_rows,
    weak_result_notes,
    worker_rows,
)
from mgbench.analysis.claim import DEFAULT_CLAIMS, NO_CAVEATS, Caveats, Claim, Claims
from mgbench.analysis.comparisons import (
    ClaimPair,
    PairedComparison,
    claim_pairs,
    memory_saving_pct,
    paired_comparisons,
    run_changes,
)
from mgbench.analysis.duplication import (
    DuplicationRow,
    MemoryDifference,
    duplication_rows,
    memory_differences,
)
from mgbench.analysis.timeline import summarise_timeline
from mgbench.present import formats, prose
from mgbench.present.model import (
    CELL_COLUMNS,
    RATE,
    STRATEGY_COLUMNS,
    VERDICT_HEADER,
    Column,
    Report,
    Section,
    cell_values,
    comparison_columns,
    comparison_values,
    devices_column,
    mib_column,
    rate_column,
    strategy_values,
)
from mgbench.present.timeline import category_header
from mgbench.records import environment
from mgbench.records.record import Record
from mgbench.records.timelines import TimelineRecord
from mgbench.trackers.tf_profiler import CATEGORIES
from mgbench.transfers import TRANSFER_ROLES
from mgbench.vocabulary import WRAPPERS, Strategy

# -- the full report ---------------------------------------------------------------------------


def build_report(
    records: Sequence[Record],
    *,
    title: str,
    cells: Sequence[CellResult] | None = None,
    claims: Claims = DEFAULT_CLAIMS,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    allow_mixed: bool = False,
    seed: int = 0,
    warnings: Sequence[str] = (),
    timelines: Sequence[TimelineRecord] = (),
    prediction: Section | None = None,
) -> Report:
    """The report of one run; pass ``cells`` when the caller has them already, and the store's
    ``warnings`` (duplicates collapsed, a torn line skipped) to show them.

    It opens with one paired table per claim (the claim's own comparison first, then the seed's
    question), then ``prediction`` (on a hardware spec) when given, the memory half, and the
    paired pairs no claim is about."""
    mixed = environment.check_not_mixed(records, allow_mixed)
    if cells is None:
        cells = cell_results(records, seed=seed)
    caveats = Caveats.of(r.device_mode for r in records)
    preamble = [f"Machine: {environment.machine_label(records)}"]
    backends = sorted({r.cell.backend for r in records})
    preamble.append(f"Backend: {', '.join(backends)}")
    preamble += prose.preamble_caveats(claims, caveats)
    preamble.append(prose.PAIRED_METHOD)
    preamble += [prose.verdict_rule(claim, min_effect_pct) for claim in claims.items]
    preamble.append(
        f"Unpaired cross-check and per-cell comparisons: Mann-Whitney U test at alpha "
        f"{alpha:g} over per-process images/s and a {stats.confidence_label(alpha)} bootstrap CI "
        f"(processes, then steps); with fewer than {stats.MIN_BOOTSTRAP_PROCESSES} processes a "
        "side its CI is not shown and its verdict is inconclusive."
    )
    paired_rows = paired_comparisons(
        records, alpha=alpha, claims=claims, min_effect_pct=min_effect_pct
    )
    notes = list(warnings) + mixed + weak_result_notes(cells)
    notes += [note for comparison in paired_rows for note in comparison.notes]
    memory = memory_rows(cells)
    sections = headline_sections(
        paired_rows, caveats, alpha, claims=claims, min_effect_pct=min_effect_pct
    )
    if prediction is not None:
        sections.append(prediction)
    duplication = duplication_section(duplication_rows(cells), memory, caveats, claims=claims)
    if duplication is not None:
        sections.append(duplication)
    others = [c for c in paired_rows if c.claim is None]
    if others:
        sections.append(headline_section(others, caveats, alpha, title=prose.OTHER_PAIRS_TITLE))
    for claim in claims.items:
        pairs = claim_pairs(cells, claim, alpha=alpha, min_effect_pct=min_effect_pct, seed=seed)
        if pairs or claim is claims.primary:
            section = claim_section(pairs, caveats, alpha, claim=claim)
            if not pairs:
                section.notes.append(prose.no_isolated_pair_note(claim))
            sections.append(section)
    sections += [
        cells_section(cells),
        scaling_section(scaling_rows(cells), caveats),
        memory_section(memory, caveats, claims=claims),
        placement_section(cells),
    ]
    transfers = transfers_section(cells)
    if transfers is not None:  # runs recorded before the audit existed have none
        sections.append(transfers)
    workers = worker_rows(cells)
    if workers:
        sections.append(workers_section(workers))
    if timelines:
        sections.append(timeline_section(timelines))
    if notes:
        sections.append(Section(prose.WARNINGS_TITLE, [], [], notes))
    return Report(title, preamble, sections, prose.hardware_notes(claims))


def headline_sections(
    paired_rows: Sequence[PairedComparison],
    caveats: Caveats,
    alpha: float,
    *,
    claims: Claims = DEFAULT_CLAIMS,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
) -> list[Section]:
    """One paired table per claim, in the claims' order (the claim's own first, said to be not
    run when the run has none of its pairs). A question with no rows is left out. A table of
    several rows with verdicts says under it how the rows read together (Holm-adjusted)."""
    sections = []
    for claim in claims.items:
        rows = [c for c in paired_rows if c.claim is not None and c.claim.pair == claim.pair]
        if rows or claim is claims.primary:
            section = headline_section(rows, caveats, alpha, title=prose.headline_title(claim))
            family = prose.family_note(rows, claim, alpha, min_effect_pct)
            if family is not None:
                section.notes.append(family)
            if not rows:
                section.notes = [prose.not_run_note(claim)]
                if not paired_rows:
                    section.notes.append(prose.NO_PAIRED_NOTE)
            sections.append(section)
    return sections


def headline_section(
    paired_rows: Sequence[PairedComparison], caveats: Caveats, alpha: float, *, title: str
) -> Section:
    """A paired table: one row per paired comparison, A's speed-up over B with its CI."""
    rows = []
    for comparison in paired_rows:
        estimate = comparison.estimate
        rows.append(
            [
                *cell_values(comparison.cell),
                comparison.key.replicas,
                comparison.a,
                comparison.b,
                {"ok": comparison.ok, "runs": comparison.runs},
                estimate.rounds if estimate else None,
                estimate.speedup_pct if estimate else None,
                estimate.ci_pct if estimate else None,
                estimate.tau_pct if estimate else None,
                prose.paired_verdict_text(comparison, caveats),
            ]
        )
    return Section(
        title,
        [
            *CELL_COLUMNS,
            Column("replicas"),
            Column("A"),
            Column("B"),
            Column("processes", formats.ok_of_runs),
            Column("rounds"),
            Column("speed-up", formats.signed_pct, "%"),
            Column(f"{stats.confidence_label(alpha)} CI", formats.pct_interval, "%"),
            Column("between-process sd", formats.pct1, "%"),
            Column(VERDICT_HEADER),
        ],
        rows,
        [prose.HEADLINE_NOTE, *filter(None, [prose.sequential_note(paired_rows)])],
    )


def duplication_section(
    rows: Sequence[DuplicationRow],
    memory: Sequence[MemoryRow],
    caveats: Caveats = NO_CAVEATS,
    *,
    claims: Claims = DEFAULT_CLAIMS,
    not_measured: str | None = None,
) -> Section | None:
    """The memory half: batch inputs on each GPU per split from the audit, the duplication
    factor, and per claim a sentence of the predicted difference beside the measured one
    (``not_measured``: why nothing was, when the caller knows, as a trace that ran nothing)."""
    # Each workload's splits together, in the vocabulary's order (cells come in run order).
    workloads = list(dict.fromkeys(r.key for r in rows))
    shown = sorted(
        (r for r in rows if r.key.replicas > 1),
        key=lambda r: (workloads.index(r.key), _wrapper_rank(r.strategy)),
    )
    if not shown:
        return None
    differences = memory_differences(shown, memory, [c.pair for c in claims.items])
    reasons = {(m.cell.key, m.cell.strategy): m.reason for m in memory}
    notes = [prose.DUPLICATION_NOTE]
    notes += [
        prose.memory_verdict(d, not_measured or _not_measured(d, reasons, caveats))
        for d in differences
    ]
    return Section(
        prose.DUPLICATION_TITLE,
        [
            *STRATEGY_COLUMNS,
            *CELL_COLUMNS,
            Column("batch MiB", formats.mib_fine, "bytes"),
            Column("batch data per GPU (MiB)", formats.devices_mib_fine, "bytes"),
            Column("on all GPUs", formats.mib_fine, "bytes"),
            Column("duplication", formats.times, "ratio"),
        ],
        [
            [
                row.strategy,
                row.key.replicas,
                row.key.model,
                row.key.backend,
                row.key.image_size,
                row.key.batch_per_replica,
                row.batch_bytes,
                row.per_gpu_bytes,
                row.total_bytes,
                row.factor,
            ]
            for row in shown
        ],
        notes,
    )


def _wrapper_rank(strategy: str) -> int:
    return WRAPPERS.index(strategy) if strategy in WRAPPERS else len(WRAPPERS)


def _not_measured(
    difference: MemoryDifference, reasons: dict[Any, str | None], caveats: Caveats
) -> str:
    """Why a memory difference has no measured side."""
    for strategy in (difference.a, difference.b):
        reason = reasons.get((difference.key, strategy))
        if reason:
            return reason
    if caveats.cpu_simulation:
        return "CPU simulation: no GPU memory"
    return "no TF allocator peaks per GPU in this run"


def claim_section(
    pairs: Sequence[ClaimPair],
    caveats: Caveats,
    alpha: float = stats.DEFAULT_ALPHA,
    *,
    claim: Claim,
) -> Section:
    """The unpaired cross-check from the isolated processes; its CI is hidden below 5 a side."""
    rows, hidden = [], []
    for pair in pairs:
        c = pair.comparison
        shown = min(c.processes) >= stats.MIN_BOOTSTRAP_PROCESSES
        if not shown:
            hidden.append(pair.key.label)
        rows.append(
            [
                *cell_values(pair.a.cell),
                pair.key.replicas,
                {claim.a: c.processes[0], claim.b: c.processes[1]},
                pair.a.images_per_s,
                pair.b.images_per_s,
                c.change_pct,
                c.ci_pct if shown else None,
                c.p_value,
                prose.verdict_text(pair.verdict, caveats),
            ]
        )
    notes = [
        f"{label}: CI not shown: fewer than {stats.MIN_BOOTSTRAP_PROCESSES} processes a side, "
        "and a bootstrap over so few understates the spread between processes"
        for label in hidden
    ]
    return Section(
        prose.cross_check_title(claim),
        [
            *CELL_COLUMNS,
            Column("replicas"),
            Column("processes", formats.processes_per_side),
            rate_column(f"{claim.a} img/s"),
            rate_column(f"{claim.b} img/s"),
            *comparison_columns("speedup", alpha),
        ],
        rows,
        notes,
    )


def cells_section(cells: Sequence[CellResult]) -> Section:
    energy = {row.cell.cell_id: row for row in energy_rows(cells)}
    rows = []
    for cell in cells:
        pp, ps = cell.per_process, cell.per_step
        joules = energy.get(cell.cell_id)
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
                joules.joules_per_image if joules else None,
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
            Column("J/image", formats.joules, "J"),
        ],
        rows,
        energy_notes(list(energy.values())),
    )


def energy_notes(rows: Sequence[EnergyRow]) -> list[str]:
    """What J/image is, once, and why cells have none (each reason once, naming its cells)."""
    if not rows:
        return []
    by_reason: dict[str, list[str]] = {}
    for row in rows:
        for reason in row.reasons:
            by_reason.setdefault(reason, []).append(row.cell.cell_id)
    return [prose.ENERGY_NOTE] + [
        f"J/image left out: {reason} ({_which_cells(ids, len(rows))})"
        for reason, ids in sorted(by_reason.items())
    ]


def _which_cells(cell_ids: Sequence[str], of: int) -> str:
    return "every cell" if len(cell_ids) == of else ", ".join(cell_ids)


def scaling_section(scaling: Sequence[ScalingRow], caveats: Caveats = NO_CAVEATS) -> Section:
    """Scaling against one device, against MirroredStrategy and, when the run has it, against
    today's recipe (one-process DataParallel, Keras 3 on JAX); on virtual GPUs of one chip
    without the efficiency (kept as None, its column says why)."""
    with_dataparallel = any(row.vs_dataparallel is not None for row in scaling)
    virtual_gpus = caveats.virtual_gpus
    rows = [
        [
            *cell_values(row.cell.cell),
            *strategy_values(row.cell.cell),
            row.cell.images_per_s,
            None if virtual_gpus else row.efficiency,
            row.vs_mirrored,
            *([row.vs_dataparallel] if with_dataparallel else []),
        ]
        for row in scaling
    ]
    efficiency_missing = "not shown" if virtual_gpus else "n/a"
    columns = [
        *CELL_COLUMNS,
        *STRATEGY_COLUMNS,
        rate_column("img/s"),
        Column("scaling efficiency", formats.fraction_pct0, "fraction", efficiency_missing),
        Column("vs mirrored", formats.times, "ratio"),
    ]
    notes = [prose.VIRTUAL_GPU_SCALING_NOTE] if virtual_gpus else []
    if with_dataparallel:
        columns.append(Column("vs dataparallel", formats.times, "ratio"))
        notes.append(prose.DATAPARALLEL_NOTE)
    return Section("Scaling against one device and against MirroredStrategy", columns, rows, notes)


def memory_section(
    memory: Sequence[MemoryRow],
    caveats: Caveats = NO_CAVEATS,
    *,
    claims: Claims = DEFAULT_CLAIMS,
) -> Section:
    """Peaks per device: TF's allocator per logical device, NVML's reservation per physical GPU
    (explained in the notes, with every reason NVML gave none), host RSS, and for each claim
    whose two splits the run has, the saving of its faster strategy over the other from TF
    peaks only."""
    by_key = {(m.cell.key, m.cell.strategy): m for m in memory}
    strategies = {m.cell.strategy for m in memory}
    compared = [c for c in claims.items if c.a in strategies and c.b in strategies]
    rows, reasons = [], set()
    nvml_reasons: dict[str, list[str]] = {}
    for row in memory:
        tf = row.tf_peak_bytes
        first = next(iter(tf), None)
        others = [v for d, v in tf.items() if d != first]
        savings = []
        for claim in compared:
            other = by_key.get((row.cell.key, claim.b))
            saving = None
            if row.cell.strategy == claim.a and other is not None and first is not None:
                saving = memory_saving_pct(row, other, first)
            savings.append(saving)
        if row.reason:
            reasons.add(row.reason)
        for reason in row.nvml_reasons:
            nvml_reasons.setdefault(reason, []).append(row.cell.cell_id)
        rows.append(
            [
                *cell_values(row.cell.cell),
                *strategy_values(row.cell.cell),
                {first: tf[first]} if first is not None else None,
                max(others) if others else None,
                row.nvml_process_peak_bytes or None,
                row.host_rss_peak_bytes,
                *savings,
            ]
        )
    notes = [f"TF peaks: {r}" for r in sorted(reasons)]
    if memory:
        notes.append(prose.nvml_note())
    if caveats.virtual_gpus:
        notes.append(prose.NVML_VIRTUAL_GPU_NOTE)
    notes += [
        f"NVML process peak n/a: {reason} ({_which_cells(ids, len(memory))})"
        for reason, ids in sorted(nvml_reasons.items())
    ]
    return Section(
        "Peak memory per device (MiB; max over processes, never summed across devices)",
        [
            *CELL_COLUMNS,
            *STRATEGY_COLUMNS,
            devices_column("TF peak first device"),
            mib_column("TF peak other replicas (max)"),
            devices_column("NVML process peak"),
            mib_column("host RSS"),
            *(
                Column(prose.saving_header(c.a, c.b), formats.signed_pct, "%", missing="")
                for c in compared
            ),
        ],
        rows,
        notes,
    )


def placement_section(cells: Sequence[CellResult]) -> Section:
    rows: list[list[Any]] = []
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


def transfers_section(cells: Sequence[CellResult]) -> Section | None:
    rows = []
    as_run_totals: dict[str, set[int]] = {}
    for cell in cells:
        record = next((r for r in cell.records if r.transfers is not None), None)
        if record is None or record.transfers is None:
            continue
        c = cell.cell
        by_role = dict.fromkeys(TRANSFER_ROLES, 0)
        for row in record.transfers.on_gpus:
            by_role[row.role] = by_role.get(row.role, 0) + row.bytes
        first_gpu = sum(row.bytes for row in record.transfers.on_gpus if row.dst == "GPU:0")
        rows.append(
            [
                c.strategy,
                c.replicas,
                *cell_values(c),
                *(by_role[role] for role in TRANSFER_ROLES),
                sum(by_role.values()),
                first_gpu,
            ]
        )
        total = sum(row.bytes for row in record.transfers.as_run)
        as_run_totals.setdefault(c.strategy, set()).add(total)
    if not rows:
        return None
    notes = [prose.TRANSFERS_NOTE]
    shown = "; ".join(
        f"{strategy} {' / '.join(formats.mib_fine(t) for t in sorted(totals))} MiB"
        for strategy, totals in as_run_totals.items()
    )
    notes.append(f"As run on this machine's devices, all roles: {shown}.")
    fine = [Column(role, formats.mib_fine, "bytes") for role in (*TRANSFER_ROLES, "total")]
    return Section(
        "Bytes moved per step, by role (MiB, on GPUs)",
        [
            *STRATEGY_COLUMNS,
            *CELL_COLUMNS,
            *fine,
            Column("into GPU:0", formats.mib_fine, "bytes"),
        ],
        rows,
        notes,
    )


def loss_text(value: Sequence[float]) -> str:
    first, last = value
    return f"{first:.3g} -> {last:.3g}"


def workers_section(rows: Sequence[WorkerRow]) -> Section:
    """Each worker of each multi-process cell: its host, median step and peaks (the cell itself
    sits beside mirrored in the scaling table)."""
    strategies = {row.cell.cell.strategy for row in rows}
    notes = [prose.MULTIPROCESS_NOTE]
    notes += [prose.MULTIWORKER_NOTE] if Strategy.MULTIWORKER in strategies else []
    notes += [prose.DATAPARALLEL_WORKERS_NOTE] if Strategy.DATAPARALLEL in strategies else []
    return Section(
        "Multi-worker cells, worker by worker",
        [
            *CELL_COLUMNS,
            Column("strategy"),
            Column("replicas"),
            Column("workers"),
            Column("worker"),
            Column("host", formats.device_list),
            Column("median step ms", formats.milliseconds, "s"),
            mib_column("host RSS peak MiB"),
            mib_column("framework peak MiB (all devices)"),
            Column("loss after first -> last step (chief)", loss_text, missing=""),
        ],
        [
            [
                *cell_values(row.cell.cell),
                row.cell.cell.strategy,
                row.cell.cell.replicas,
                row.cell.cell.workers,
                row.index,
                list(row.hosts),
                row.median_step_s,
                row.host_rss_peak_bytes,
                row.tf_peak_bytes,
                None if row.losses is None else list(row.losses),
            ]
            for row in rows
        ],
        notes,
    )


def timeline_section(timelines: Sequence[TimelineRecord]) -> Section:
    """Where the step time goes, per strategy and device (ms per step, timeline processes)."""
    rows = []
    notes = [prose.TIMELINE_NOTE]
    for record in timelines:
        c = record.cell
        if record.status != "ok" or record.timeline is None:
            notes.append(f"{record.cell_id}: not profiled ({record.status}: {record.reason})")
            continue
        summary = summarise_timeline(record.timeline)
        for device in summary.devices:
            rows.append(
                [
                    c.strategy,
                    c.replicas,
                    *cell_values(c),
                    f"{device.device} {device.label}",
                    *(device.seconds.get(category, 0.0) for category in CATEGORIES),
                    device.total_s,
                ]
            )
        if summary.note and summary.note not in notes:
            notes.append(summary.note)
        if summary.trace_path:
            notes.append(f"{record.cell_id}: trace for TensorBoard in {summary.trace_path}")
    return Section(
        "Where the time goes (ms per step, profiled)",
        [
            *STRATEGY_COLUMNS,
            *CELL_COLUMNS,
            Column("device"),
            *(Column(category_header(c), formats.milliseconds_fine, "s") for c in CATEGORIES),
            Column("total", formats.milliseconds_fine, "s"),
        ],
        rows,
        notes,
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
    warnings: Sequence[str] = (),
    claims: Claims = DEFAULT_CLAIMS,
) -> Report:
    """Every isolated cell of ``after`` against ``before``; ``warnings`` come from the store;
    ``claims`` only name what a CPU simulation cannot test."""
    environment.check_not_mixed(before, False)
    environment.check_not_mixed(after, False)
    changes = run_changes(
        cell_results(before, seed=seed),
        cell_results(after, seed=seed),
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
                *comparison_values(change.comparison, stats.change_verdict(change.comparison).text),
            ]
        )
    preamble = [
        f"Before: {environment.machine_label(before)}",
        f"After: {environment.machine_label(after)}",
    ]
    if environment.is_cpu_simulation([*before, *after]):
        preamble.append(prose.cpu_simulation_note(claims))
    preamble.append(
        f"Verdicts: faster or slower when the Mann-Whitney U p-value < {alpha:g}, the "
        f"{stats.confidence_label(alpha)} bootstrap CI excludes 0 and |change| >= "
        f"{min_effect_pct:g}%; no difference when the CI lies inside ±{min_effect_pct:g}%; "
        f"inconclusive otherwise, or with fewer than {stats.MIN_BOOTSTRAP_PROCESSES} processes "
        "a side or too few for the U test to reach alpha, saying how many processes a side "
        f"would decide (below {stats.MIN_BOOTSTRAP_PROCESSES} a side no count can be estimated, "
        f"so it asks for {stats.MIN_BOOTSTRAP_PROCESSES} a side first)."
    )
    section = Section(
        "After against before (images/s)",
        [
            *CELL_COLUMNS,
            *STRATEGY_COLUMNS,
            rate_column("before img/s"),
            rate_column("after img/s"),
            *comparison_columns("change", alpha),
        ],
        rows,
        [
            *warnings,
            *(f"{cell_id}: not in both runs (or no successful run)" for cell_id in missing),
        ],
    )
    return Report(title, preamble, [section], prose.hardware_notes(claims))
