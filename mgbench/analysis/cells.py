"""Records -> per-cell results: pure functions, no I/O, no printing.

A cell's repeats (one process each) are pooled into one :class:`CellResult`; cells that the claim
compares share a :class:`CellKey` (model, image size, batch per replica, replicas, backend).
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mgbench.analysis import stats
from mgbench.config.suite import Cell, backend_suffix
from mgbench.records.record import Record, Timing
from mgbench.vocabulary import Strategy


@dataclass(frozen=True, order=True)
class CellKey:
    """What two strategies must share to be compared."""

    model: str
    image_size: int
    batch_per_replica: int
    replicas: int
    backend: str

    @classmethod
    def of(cls, cell: Cell) -> CellKey:
        return cls(cell.model, cell.image_size, cell.batch_per_replica, cell.replicas, cell.backend)

    @property
    def label(self) -> str:
        """``model-SIZEpx-bBATCH-xREPLICAS[-backend]``: a cell id without its strategy."""
        suffix = backend_suffix(self.backend)
        return (
            f"{self.model}-{self.image_size}px-b{self.batch_per_replica}-x{self.replicas}{suffix}"
        )

    def same_workload(self, other: CellKey) -> bool:
        """Same model, input and backend, whatever the replica count."""
        return (self.model, self.image_size, self.batch_per_replica, self.backend) == (
            other.model,
            other.image_size,
            other.batch_per_replica,
            other.backend,
        )


def process_sample(record: Record) -> stats.ProcessSample:
    timing = record.timing
    if timing is None:
        raise ValueError(f"{record.cell_id} repeat {record.repeat}: no timing ({record.status})")
    return stats.ProcessSample(
        step_s=timing.step_s,
        images_per_step=timing.images_per_step,
        gap_factor=max(1.0, timing.timed_wall_s / sum(timing.step_s)),
    )


@dataclass(frozen=True)
class CellResult:
    cell_id: str
    cell: Cell
    runs: int
    ok: int
    statuses: tuple[str, ...]  # of the runs that did not succeed
    processes: tuple[stats.ProcessSample, ...]
    images_per_s: float | None  # mean over processes
    per_process: stats.Summary | None  # of each process's images/s
    per_step: stats.Summary | None  # of per-step throughputs, all processes pooled
    step_time: stats.Summary | None  # of per-step seconds, pooled (p90 = the slow tail)
    first_step_s: float | None  # median over processes
    step_samples: int
    records: tuple[Record, ...] = field(repr=False, default=())  # the successful ones
    seed: int = 0

    @functools.cached_property
    def ci(self) -> tuple[float, float] | None:
        """95% bootstrap CI of images/s; computed on first use (it resamples every process)."""
        return stats.throughput_ci(self.processes, seed=self.seed) if self.processes else None

    @property
    def key(self) -> CellKey:
        return CellKey.of(self.cell)

    @property
    def strategy(self) -> str:
        return self.cell.strategy


def cell_results(records: Sequence[Record], *, seed: int = 0) -> list[CellResult]:
    """One result per isolated cell id, in order of first appearance. Paired cells (both
    strategies in one process) are not here: ``comparisons.paired_comparisons`` reads them."""
    groups: dict[str, list[Record]] = {}
    for record in records:
        if record.cell.paired:
            continue
        groups.setdefault(record.cell_id, []).append(record)
    return [_cell_result(cell_id, group, seed) for cell_id, group in groups.items()]


def _cell_result(cell_id: str, group: list[Record], seed: int) -> CellResult:
    ok = [r for r in group if r.ok]
    processes = tuple(process_sample(r) for r in ok)
    statuses = tuple(sorted({r.status for r in group if not r.ok}))
    common: dict[str, Any] = {
        "cell_id": cell_id,
        "cell": group[0].cell,
        "runs": len(group),
        "ok": len(ok),
        "statuses": statuses,
        "seed": seed,
    }
    if not processes:
        return CellResult(
            **common,
            processes=(),
            images_per_s=None,
            per_process=None,
            per_step=None,
            step_time=None,
            first_step_s=None,
            step_samples=0,
        )
    step_rates = [float(x) for p in processes for x in p.step_rates()]
    return CellResult(
        **common,
        processes=processes,
        images_per_s=stats.throughput(processes),
        per_process=stats.describe([p.images_per_s for p in processes]),
        per_step=stats.describe(step_rates),
        step_time=stats.describe([s for p in processes for s in p.step_s]),
        first_step_s=stats.median([t.first_step_s for t in _timings(ok)]),
        step_samples=len(step_rates),
        records=tuple(ok),
    )


def _timings(records: Iterable[Record]) -> list[Timing]:
    return [r.timing for r in records if r.timing is not None]


def by_key_and_strategy(cells: Iterable[CellResult]) -> dict[CellKey, dict[str, CellResult]]:
    out: dict[CellKey, dict[str, CellResult]] = {}
    for cell in cells:
        # dataparallel over 1 and over 2 processes are different cells of one workload
        out.setdefault(cell.key, {})[cell.cell.strategy_label] = cell
    return out


def single_baseline(cells: Sequence[CellResult], key: CellKey) -> CellResult | None:
    """The one-device run of ``key``'s workload, if it succeeded."""
    for cell in cells:
        if cell.strategy == Strategy.SINGLE and cell.key.same_workload(key) and cell.processes:
            return cell
    return None


@dataclass(frozen=True)
class ScalingRow:
    cell: CellResult
    efficiency: float | None  # images/s / (replicas x single's images/s)
    vs_mirrored: float | None  # images/s / mirrored's images/s
    vs_dataparallel: float | None = None  # images/s / one-process DataParallel's (Keras 3 on JAX)


def scaling_rows(cells: Sequence[CellResult]) -> list[ScalingRow]:
    by_key = by_key_and_strategy(cells)
    rows = []
    for cell in cells:
        if cell.strategy == Strategy.SINGLE or cell.images_per_s is None:
            continue
        single = single_baseline(cells, cell.key)
        mirrored = by_key.get(cell.key, {}).get(Strategy.MIRRORED)
        efficiency = None
        if single is not None and single.images_per_s:
            efficiency = cell.images_per_s / (cell.cell.replicas * single.images_per_s)
        ratio = None
        if mirrored is not None and mirrored.images_per_s:
            ratio = cell.images_per_s / mirrored.images_per_s
        dataparallel = dataparallel_baseline(cells, cell.key)
        vs_dataparallel = None
        if dataparallel is not None and dataparallel.images_per_s:
            vs_dataparallel = cell.images_per_s / dataparallel.images_per_s
        rows.append(ScalingRow(cell, efficiency, ratio, vs_dataparallel))
    return rows


def dataparallel_baseline(cells: Sequence[CellResult], key: CellKey) -> CellResult | None:
    """Today's recipe on ``key``'s workload and replicas, whatever backend ``key`` is: the
    one-process DataParallel cell, if it succeeded."""
    for cell in cells:
        c = cell.cell
        same = dataclasses.replace(cell.key, backend=key.backend) == key
        if c.strategy == Strategy.DATAPARALLEL and not c.multiprocess and same and cell.processes:
            return cell
    return None


@dataclass(frozen=True)
class MemoryRow:
    cell: CellResult
    tf_peak_bytes: dict[str, int]  # logical device -> max over processes
    nvml_process_peak_bytes: dict[str, int]  # physical GPU index -> max over processes
    host_rss_peak_bytes: int | None
    reason: str | None  # why there are no TF peaks
    # Medians over processes, for gates: one unlucky process must not decide a regression.
    tf_peak_median_bytes: dict[str, int] = field(default_factory=dict)
    nvml_process_peak_median_bytes: dict[str, int] = field(default_factory=dict)
    host_rss_peak_median_bytes: int | None = None
    # Why NVML gave no process peak: the records' reasons (NVML unavailable, or the process
    # never listed, as inside a container), each once.
    nvml_reasons: tuple[str, ...] = ()


def _max_per_key(maps: Iterable[dict[str, int]]) -> dict[str, int]:
    peaks: dict[str, int] = {}
    for values in maps:
        for key, value in values.items():
            peaks[key] = max(peaks.get(key, 0), value)
    return dict(sorted(peaks.items()))


def _median_per_key(maps: Iterable[dict[str, int]]) -> dict[str, int]:
    values: dict[str, list[int]] = {}
    for peaks in maps:
        for key, value in peaks.items():
            values.setdefault(key, []).append(value)
    return {key: int(stats.median(v)) for key, v in sorted(values.items())}


def memory_rows(cells: Sequence[CellResult]) -> list[MemoryRow]:
    rows = []
    for cell in cells:
        if not cell.records:
            continue
        memories = [r.memory for r in cell.records if r.memory is not None]
        rss = [m.host_rss_peak_bytes for m in memories if m.host_rss_peak_bytes]
        reasons = {m.tf_peak_reason for m in memories if m.tf_peak_reason is not None}
        nvml = [
            {
                index: gpu.process_peak_bytes
                for index, gpu in m.nvml.items()
                if gpu.process_peak_bytes is not None
            }
            for m in memories
            if m.nvml is not None
        ]
        tf = [m.tf_peak_bytes for m in memories if m.tf_peak_bytes is not None]
        nvml_reasons = {m.nvml_reason for m in memories if m.nvml is None and m.nvml_reason}
        nvml_reasons |= {
            gpu.process_reason
            for m in memories
            for gpu in (m.nvml or {}).values()
            if gpu.process_peak_bytes is None and gpu.process_reason
        }
        rows.append(
            MemoryRow(
                cell,
                _max_per_key(tf),
                _max_per_key(nvml),
                max(rss) if rss else None,
                min(reasons) if reasons else None,
                tf_peak_median_bytes=_median_per_key(tf),
                nvml_process_peak_median_bytes=_median_per_key(nvml),
                host_rss_peak_median_bytes=int(stats.median(rss)) if rss else None,
                nvml_reasons=tuple(sorted(nvml_reasons)),
            )
        )
    return rows


NO_ENERGY_RECORDED = "no energy recorded (the record predates mgbench's energy readings)"


def process_joules_per_image(record: Record) -> tuple[float | None, str | None]:
    """Joules per image over one process's timed steps: every physical GPU's energy summed (energy
    adds up across devices, unlike memory peaks), over the images of those steps. None, with the
    reason, when a GPU gave no reading or the window was shorter than the counter's update."""
    if record.energy is None:
        return None, record.energy_reason or NO_ENERGY_RECORDED
    if record.timing is None:
        return None, "no timed steps"
    if not record.energy:
        return None, "no GPU energy reading"
    total = 0.0
    for index, gpu in sorted(record.energy.items()):
        if gpu.joules is None:
            return None, f"GPU {index}: {gpu.reason or 'no reading'}"
        if gpu.short_window:
            return None, (
                "timed window shorter than the energy counter's update period (20-100 ms): "
                "its reading is not trusted"
            )
        total += gpu.joules
    images = record.timing.images_per_step * len(record.timing.step_s)
    return (total / images, None) if images else (None, "no images in the timed steps")


@dataclass(frozen=True)
class EnergyRow:
    cell: CellResult
    joules_per_image: float | None  # median over the processes that gave one
    processes: int  # how many gave one
    reasons: tuple[str, ...]  # why the others gave none, each once


def energy_rows(cells: Sequence[CellResult]) -> list[EnergyRow]:
    """Joules per image per cell with a successful run, in the cells' order."""
    rows = []
    for cell in cells:
        if not cell.records:
            continue
        values, reasons = [], set()
        for record in cell.records:
            value, reason = process_joules_per_image(record)
            if value is None:
                reasons.add(reason or "no reading")
            else:
                values.append(value)
        median = stats.median(values) if values else None
        rows.append(EnergyRow(cell, median, len(values), tuple(sorted(reasons))))
    return rows


def weak_result_notes(cells: Sequence[CellResult]) -> list[str]:
    notes = []
    for cell in cells:
        if cell.per_process is None:
            notes.append(f"{cell.cell_id}: no successful run ({', '.join(cell.statuses)})")
            continue
        if cell.per_step is not None and cell.per_step.cv >= stats.CV_WARNING:
            notes.append(
                f"{cell.cell_id}: per-step CV {cell.per_step.cv:.0%} >= "
                f"{stats.CV_WARNING:.0%}; noisy"
            )
        if cell.step_samples < stats.MIN_STEP_SAMPLES or len(cell.processes) < stats.MIN_PROCESSES:
            notes.append(
                f"{cell.cell_id}: only {len(cell.processes)} process(es) and "
                f"{cell.step_samples} step samples; fewer than {stats.MIN_PROCESSES} processes "
                "cannot show a significant difference"
            )
    return notes


@dataclass(frozen=True)
class WorkerRow:
    """One worker of a multiworker cell over its processes: where it ran, its median step
    (median over processes), its peaks (max over processes); the chief's first and last loss."""

    cell: CellResult
    index: int
    hosts: tuple[str, ...]
    median_step_s: float | None
    host_rss_peak_bytes: int | None
    tf_peak_bytes: int | None  # all its devices together
    losses: tuple[float, float] | None  # chief only: medians of the processes' first and last


def worker_rows(cells: Sequence[CellResult]) -> list[WorkerRow]:
    rows = []
    for cell in cells:
        if not cell.cell.multiprocess:
            continue
        for index in range(cell.cell.workers):
            parts = [
                w
                for r in cell.records
                for w in r.workers or ()
                if w.index == index and w.status == "ok"
            ]
            steps = [w.median_step_s for w in parts if w.median_step_s is not None]
            rss = [
                w.memory.host_rss_peak_bytes
                for w in parts
                if w.memory and w.memory.host_rss_peak_bytes
            ]
            tf = [
                sum(w.memory.tf_peak_bytes.values())
                for w in parts
                if w.memory and w.memory.tf_peak_bytes
            ]
            rows.append(
                WorkerRow(
                    cell,
                    index,
                    tuple(dict.fromkeys(w.host or "?" for w in parts)),
                    statistics.median(steps) if steps else None,
                    max(rss) if rss else None,
                    max(tf) if tf else None,
                    _losses(cell.records) if index == 0 else None,
                )
            )
    return rows


def _losses(records: Iterable[Record]) -> tuple[float, float] | None:
    pairs = [
        (t.first_loss, t.last_loss)
        for t in _timings(records)
        if t.first_loss is not None and t.last_loss is not None
    ]
    if not pairs:
        return None
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
