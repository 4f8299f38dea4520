"""A report as data: sections of rows that keep their numbers, and columns that say how each
number is shown (and in which unit it is kept). Renderers (``present.render``) make the text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
from mgbench.analysis.comparisons import (
    ClaimPair,
    PairedComparison,
    claim_pairs,
    memory_saving_pct,
    paired_comparisons,
    run_changes,
)
from mgbench.analysis.paired import Outcome
from mgbench.analysis.timeline import summarise_profile
from mgbench.config.suite import Cell
from mgbench.present import formats
from mgbench.present.timeline import category_header
from mgbench.records import environment
from mgbench.records.profile import ProfileRecord
from mgbench.records.record import Record
from mgbench.trackers.profiler import CATEGORIES
from mgbench.transfers import TRANSFER_ROLES

CPU_SIMULATION_VERDICT = " (CPU simulation: the splits coincide here, not evidence about GPUs)"
HEADLINE_TITLE = "The claim, paired in-process: in-place against concat"
CROSS_CHECK_TITLE = "Unpaired cross-check: isolated processes, in-place against concat"
PAIRED_METHOD = (
    "Paired method: each paired process builds both strategies over one template and "
    "alternates blocks of timed steps A B, B A, ... (ABBA); a round gives log(median B step / "
    "median A step). Processes are the groups of a random-effects model (DerSimonian-Laird "
    "between-process variance tau^2); the CI uses Student's t with Satterthwaite degrees of "
    "freedom, so it is the pooled t-interval when processes agree and widens when they do not."
)


def verdict_rule(claim_pct: tuple[float, float]) -> str:
    low, high = claim_pct
    return (
        f"Verdict rule (claim: in-place {low:g}-{high:g}% faster than concat), read from the CI, "
        f"not the point estimate: supports the claim when the CI lies inside [{low:g}, {high:g}]%; "
        f"contradicts: smaller than claimed when its upper end is below {low:g}% (also saying "
        "'no detectable difference' when it covers 0, 'slower' when below 0); contradicts: larger "
        f"than claimed when its lower end is above {high:g}%; inconclusive otherwise, with the "
        "rounds (or paired processes, when processes disagree) that would decide at this alpha."
    )


CPU_SIMULATION_NOTE = (
    "**CPU simulation**: replicas are logical CPUs on the same cores and the host is also the "
    "default device, so the in-place and concat splits coincide. These numbers test the harness "
    "and placement, not the 5-12% claim."
)

VIRTUAL_GPU_MODE = "virtual-gpu"  # a record's device_mode when one chip is split into replicas
VIRTUAL_GPU_MARKER = "virtual GPUs on one chip: not the claim's hardware"
VIRTUAL_GPU_VERDICT = f" ({VIRTUAL_GPU_MARKER})"
VIRTUAL_GPU_NOTE = (
    "**Virtual GPUs on one chip**: the replicas are logical GPUs of one physical GPU. The concat "
    "split's extra GPU:0 -> GPU:i copies stay inside the chip's memory and cost almost nothing, "
    "and the host -> GPU traffic crosses the same single link for both splits, so these numbers "
    "test placement, the pipeline and memory accounting, not the 5-12% claim. Every claim row "
    f"says so ({VIRTUAL_GPU_MARKER}), and no scaling efficiency is shown: the replicas share "
    "one chip's compute."
)
VIRTUAL_GPU_SCALING_NOTE = (
    "Scaling efficiency not shown: the replicas are virtual GPUs sharing one chip's compute, so "
    "images/s against replicas x one device's images/s measures the split, not scaling."
)
NVML_NOTE = (
    "NVML process peak: what the process reserved from the driver on each physical GPU (TF's "
    "memory pool and the CUDA context), not the memory its tensors used; the TF peaks are TF's "
    "allocator figures per logical device. Virtual GPUs of one chip share one NVML device and "
    "cannot be told apart. The in-place saving compares TF peaks only."
)
NVML_VIRTUAL_GPU_NOTE = (
    "Virtual GPUs: with a memory_limit per virtual GPU TF reserves the whole limit, so NVML's "
    "process figure is the same for every strategy and says nothing about the splits."
)
ENERGY_NOTE = (
    "J/image: energy of the timed steps from NVML's counter, every physical GPU of the process "
    "summed (the whole device's energy, other work on it included), over the images of those "
    "steps; median over processes. Windows shorter than the counter's update period (20-100 ms) "
    "are left out."
)


def is_virtual_gpu(records: Sequence[Record]) -> bool:
    """Any record measured on virtual GPUs of one chip."""
    return any(r.device_mode == VIRTUAL_GPU_MODE for r in records)


def claim_marker(cpu_simulation: bool, virtual_gpus: bool) -> str:
    """What every claim row's verdict carries when the hardware cannot show the claim."""
    return (CPU_SIMULATION_VERDICT if cpu_simulation else "") + (
        VIRTUAL_GPU_VERDICT if virtual_gpus else ""
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
    return [cell.strategy_label, cell.replicas]


def rate_column(header: str) -> Column:
    return Column(header, formats.rate, RATE)


def comparison_columns(change_header: str, alpha: float = stats.DEFAULT_ALPHA) -> list[Column]:
    return [
        Column(change_header, formats.signed_pct, "%"),
        Column(f"{stats.confidence_label(alpha)} CI", formats.pct_interval, "%"),
        Column("U p-value", formats.p_value),
        Column("verdict"),
    ]


def comparison_values(comparison: stats.Comparison, verdict: str) -> list[Any]:
    return [comparison.change_pct, comparison.ci_pct, comparison.p_value, verdict]


def joules_text(value: float) -> str:
    """Joules to three significant figures (J/image spans 0.01 to 10 across GPUs and models)."""
    return f"{value:.3g}"


def mib_column(header: str, missing: str = "n/a") -> Column:
    return Column(header, formats.mib, "bytes", missing)


def devices_column(header: str) -> Column:
    return Column(header, formats.devices_mib, "bytes")


# -- the full report ---------------------------------------------------------------------------


def build_report(
    records: Sequence[Record],
    *,
    title: str,
    cells: Sequence[CellResult] | None = None,
    claim_pct: tuple[float, float] = (5.0, 12.0),
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    allow_mixed: bool = False,
    seed: int = 0,
    warnings: Sequence[str] = (),
    profiles: Sequence[ProfileRecord] = (),
) -> Report:
    """The report of one run; pass ``cells`` when the caller has them already, and the store's
    ``warnings`` (duplicates collapsed, a torn line skipped) to show them."""
    mixed = environment.check_not_mixed(records, allow_mixed)
    if cells is None:
        cells = cell_results(records, seed=seed)
    cpu_simulation = environment.is_cpu_simulation(records)
    virtual_gpus = is_virtual_gpu(records)
    preamble = [f"Machine: {environment.machine_label(records)}"]
    backends = sorted({r.cell.backend for r in records})
    preamble.append(f"Backend: {', '.join(backends)}")
    if cpu_simulation:
        preamble.append(CPU_SIMULATION_NOTE)
    if virtual_gpus:
        preamble.append(VIRTUAL_GPU_NOTE)
    preamble += [PAIRED_METHOD, verdict_rule(claim_pct)]
    preamble.append(
        f"Unpaired cross-check and per-cell comparisons: Mann-Whitney U test at alpha "
        f"{alpha:g} over per-process images/s and a {stats.confidence_label(alpha)} bootstrap CI "
        f"(processes, then steps); with fewer than {stats.MIN_BOOTSTRAP_PROCESSES} processes a "
        "side its CI is not shown and its verdict is inconclusive."
    )
    paired_rows = paired_comparisons(records, alpha=alpha, claim_pct=claim_pct)
    pairs = claim_pairs(cells, claim_pct, alpha=alpha, min_effect_pct=min_effect_pct, seed=seed)
    notes = list(warnings) + mixed + weak_result_notes(cells)
    notes += [note for comparison in paired_rows for note in comparison.notes]
    sections = [
        headline_section(paired_rows, cpu_simulation, alpha, virtual_gpus=virtual_gpus),
        claim_section(pairs, cpu_simulation, alpha, virtual_gpus=virtual_gpus),
        cells_section(cells),
        scaling_section(scaling_rows(cells), virtual_gpus=virtual_gpus),
        memory_section(memory_rows(cells), virtual_gpus=virtual_gpus),
        placement_section(cells),
    ]
    transfers = transfers_section(cells)
    if transfers is not None:  # runs recorded before the audit existed have none
        sections.append(transfers)
    workers = worker_rows(cells)
    if workers:
        sections.append(workers_section(workers))
    if profiles:
        sections.append(timeline_section(profiles))
    if notes:
        sections.append(Section("Warnings", [], [], notes))
    return Report(title, preamble, sections)


def paired_verdict_text(
    comparison: PairedComparison, cpu_simulation: bool, *, virtual_gpus: bool = False
) -> str:
    """The verdict shown for a paired comparison; on a CPU simulation or on virtual GPUs of one
    chip never 'supports', and always with the hardware's marker."""
    estimate, verdict = comparison.estimate, comparison.verdict
    marker = claim_marker(cpu_simulation, virtual_gpus)
    if estimate is None:
        statuses = ", ".join(comparison.statuses) or "no rounds"
        reasons = "; ".join(comparison.reasons)
        return f"no paired estimate ({statuses}{': ' + reasons if reasons else ''})" + marker
    if verdict is None:  # not the claim's pair (an A/A calibration, say): read against 0
        low, high = estimate.ci_pct
        text = "CI covers 0" if low <= 0 <= high else ("A faster" if low > 0 else "A slower")
    elif (cpu_simulation or virtual_gpus) and verdict.outcome is Outcome.SUPPORTS:
        text = f"CI inside the claimed range ({verdict.detail})"
    else:
        text = verdict.text
    return text + marker


def headline_section(
    paired_rows: Sequence[PairedComparison],
    cpu_simulation: bool,
    alpha: float,
    *,
    virtual_gpus: bool = False,
) -> Section:
    """The headline: one row per paired comparison, A's speed-up over B with its CI."""
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
                paired_verdict_text(comparison, cpu_simulation, virtual_gpus=virtual_gpus),
            ]
        )
    notes = [
        "speed-up: A over B, from the paired rounds (positive: A faster); between-process sd: "
        "tau, the spread of the processes' own speed-ups (n/a with one process)."
    ]
    if any(not c.is_claim for c in paired_rows):
        notes.append("Rows other than inplace against concat are read against 0, not the claim.")
    if not paired_rows:
        notes = ["No paired comparison in this run (a suite's compare = [[A, B]] adds one)."]
    return Section(
        HEADLINE_TITLE,
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
            Column("verdict"),
        ],
        rows,
        notes,
    )


def cross_check_verdict_text(verdict: stats.Verdict, virtual_gpus: bool) -> str:
    """The unpaired verdict; on virtual GPUs of one chip never 'supports' (the chip cannot show
    the claim's mechanism)."""
    if virtual_gpus and verdict.outcome == Outcome.SUPPORTS.value:
        return f"CI inside the claimed range ({verdict.detail})"
    return verdict.text


def claim_section(
    pairs: Sequence[ClaimPair],
    cpu_simulation: bool,
    alpha: float = stats.DEFAULT_ALPHA,
    *,
    virtual_gpus: bool = False,
) -> Section:
    """The unpaired cross-check from the isolated processes; its CI is hidden below 5 a side."""
    marker = claim_marker(cpu_simulation, virtual_gpus)
    rows, hidden = [], []
    for pair in pairs:
        c = pair.comparison
        shown = min(c.processes) >= stats.MIN_BOOTSTRAP_PROCESSES
        if not shown:
            hidden.append(pair.key.label)
        rows.append(
            [
                *cell_values(pair.inplace.cell),
                pair.key.replicas,
                {"inplace": c.processes[0], "concat": c.processes[1]},
                pair.inplace.images_per_s,
                pair.concat.images_per_s,
                c.change_pct,
                c.ci_pct if shown else None,
                c.p_value,
                cross_check_verdict_text(pair.verdict, virtual_gpus) + marker,
            ]
        )
    notes = [
        f"{label}: CI not shown: fewer than {stats.MIN_BOOTSTRAP_PROCESSES} processes a side, "
        "and a bootstrap over so few understates the spread between processes"
        for label in hidden
    ]
    return Section(
        CROSS_CHECK_TITLE,
        [
            *CELL_COLUMNS,
            Column("replicas"),
            Column("processes", formats.processes_per_side),
            rate_column("inplace img/s"),
            rate_column("concat img/s"),
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
            Column("J/image", joules_text, "J"),
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
    return [ENERGY_NOTE] + [
        f"J/image left out: {reason} ({_which_cells(ids, len(rows))})"
        for reason, ids in sorted(by_reason.items())
    ]


def _which_cells(cell_ids: Sequence[str], of: int) -> str:
    return "every cell" if len(cell_ids) == of else ", ".join(cell_ids)


def scaling_section(scaling: Sequence[ScalingRow], *, virtual_gpus: bool = False) -> Section:
    """Scaling against one device, against MirroredStrategy and, when the run has it, against
    today's recipe (one-process DataParallel, Keras 3 on JAX); on virtual GPUs of one chip
    without the efficiency (kept as None, its column says why)."""
    with_dataparallel = any(row.vs_dataparallel is not None for row in scaling)
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
    notes = [VIRTUAL_GPU_SCALING_NOTE] if virtual_gpus else []
    if with_dataparallel:
        columns.append(Column("vs dataparallel", formats.times, "ratio"))
        notes.append(DATAPARALLEL_NOTE)
    return Section("Scaling against one device and against MirroredStrategy", columns, rows, notes)


DATAPARALLEL_NOTE = (
    "vs dataparallel: against keras.distribution.DataParallel in one process (Keras 3 on JAX, "
    "what Keras's documentation points a multi-GPU user to today) on the same model, batch and "
    "replicas. XLA compiles JAX's whole step, so its cells have no placement or transfer audit."
)


def memory_section(memory: Sequence[MemoryRow], *, virtual_gpus: bool = False) -> Section:
    """Peaks per device: TF's allocator per logical device, NVML's reservation per physical GPU
    (explained in the notes, with every reason NVML gave none), host RSS, and the in-place
    saving from TF peaks only."""
    by_key = {(m.cell.key, m.cell.strategy): m for m in memory}
    rows, reasons = [], set()
    nvml_reasons: dict[str, list[str]] = {}
    for row in memory:
        tf = row.tf_peak_bytes
        first = next(iter(tf), None)
        others = [v for d, v in tf.items() if d != first]
        saving = None
        concat = by_key.get((row.cell.key, "concat"))
        if row.cell.strategy == "inplace" and concat is not None and first is not None:
            saving = memory_saving_pct(row, concat, first)
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
                saving,
            ]
        )
    notes = [f"TF peaks: {r}" for r in sorted(reasons)]
    if memory:
        notes.append(NVML_NOTE)
    if virtual_gpus:
        notes.append(NVML_VIRTUAL_GPU_NOTE)
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
            Column("in-place saving", formats.signed_pct, "%", missing=""),
        ],
        rows,
        notes,
    )


def placement_section(cells: Sequence[CellResult]) -> Section:
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


TRANSFERS_NOTE = (
    "Bytes one training step sends between devices, from the traced step (mgbench.transfers): "
    "each tensor once per destination device, placed by TF's placer rules as on a GPU machine "
    "(unplaced ops on GPU:0, replicas GPU:0..n-1, the batch arriving on the host). It is the "
    "accounting, not an observation: TF may elide or fuse copies at run time."
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
    notes = [TRANSFERS_NOTE]
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


MULTIPROCESS_NOTE = (
    "One process per worker; the cell's images/s is the chief's (worker 0), counting every "
    "worker's images; each worker's memory is its own (framework peak: TF's allocator since the "
    "timed steps began, JAX's since the process started). Loss: what fit logged after the first "
    "step -> after the last, which Keras keeps as the mean over the steps so far."
)
MULTIWORKER_NOTE = (
    "multiworker: tf.distribute.MultiWorkerMirroredStrategy on the tf_keras backend (Keras 3's "
    "fit cannot train under it: keras-team/keras issue 20585), gradients all-reduced by "
    "collectives (a ring on CPUs, NCCL on GPUs). tf_keras sums its logged loss over the workers "
    "under this strategy (its per-epoch log does not): falling is what it shows."
)
DATAPARALLEL_WORKERS_NOTE = (
    "dataparallel-wN: keras.distribution.DataParallel across N processes (Keras 3 on JAX, "
    "keras.distribution.initialize; gloo collectives on CPUs), each feeding its own rows."
)


def loss_text(value: Sequence[float]) -> str:
    first, last = value
    return f"{first:.3g} -> {last:.3g}"


def workers_section(rows: Sequence[WorkerRow]) -> Section:
    """Each worker of each multi-process cell: its host, median step and peaks (the cell itself
    sits beside mirrored in the scaling table)."""
    strategies = {row.cell.cell.strategy for row in rows}
    notes = [MULTIPROCESS_NOTE]
    notes += [MULTIWORKER_NOTE] if "multiworker" in strategies else []
    notes += [DATAPARALLEL_WORKERS_NOTE] if "dataparallel" in strategies else []
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


def timeline_section(profiles: Sequence[ProfileRecord]) -> Section:
    """Where the step time goes, per strategy and device (ms per step, profiled processes)."""
    rows = []
    notes = [
        "One extra process per cell ran its steps under TF's profiler (slower than the timed "
        "runs; never mixed with them). Each device's time is its ops' summed kernel time per "
        "step, so ops overlapping on several threads can sum past the wall time."
    ]
    for profile in profiles:
        c = profile.cell
        if profile.status != "ok" or profile.profile is None:
            notes.append(f"{profile.cell_id}: not profiled ({profile.status}: {profile.reason})")
            continue
        summary = summarise_profile(profile.profile)
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
            notes.append(f"{profile.cell_id}: trace for TensorBoard in {summary.trace_path}")
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
) -> Report:
    """Every isolated cell of ``after`` against ``before``; ``warnings`` come from the store."""
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
        preamble.append(CPU_SIMULATION_NOTE)
    preamble.append(
        f"Verdicts: faster or slower when the Mann-Whitney U p-value < {alpha:g}, the "
        f"{stats.confidence_label(alpha)} bootstrap CI excludes 0 and |change| >= "
        f"{min_effect_pct:g}%; no difference when the CI lies inside ±{min_effect_pct:g}%; "
        f"inconclusive otherwise, or with fewer than {stats.MIN_BOOTSTRAP_PROCESSES} processes "
        "a side or too few for the U test to reach alpha, saying how many processes a side "
        "would decide."
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
    return Report(title, preamble, [section])
