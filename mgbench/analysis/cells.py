"""Records -> the numbers a report shows: pure functions, no I/O, no printing.

Cells are grouped as the claim needs them: per model, image size, batch per replica and replica
count, the in-place split is compared with the concat split, and every strategy with ``single``
(scaling) and ``mirrored`` (today's answer).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mgbench.analysis import stats

GroupKey = tuple[str, int, int, int, str]  # model, image size, batch/replica, replicas, backend


class MixedResultsError(ValueError):
    """Records come from different machines or versions; the message lists them."""


def machine_identity(record: dict[str, Any]) -> tuple[str, ...]:
    env = record.get("environment") or {}
    gpus = ",".join(sorted(g.get("name") or "?" for g in env.get("gpus", [])))
    return (
        f"host={env.get('host')}",
        f"cpu={env.get('cpu')}",
        f"gpus={gpus or 'none'}",
        f"devices={record.get('device_mode')}",
        f"tensorflow={env.get('tensorflow')}",
        f"keras={env.get('keras')}",
        f"mgbench={env.get('mgbench')}",
    )


def identities(records: Iterable[dict[str, Any]]) -> list[tuple[str, ...]]:
    seen: list[tuple[str, ...]] = []
    for record in records:
        if record["status"] != "ok":
            continue
        identity = machine_identity(record)
        if identity not in seen:
            seen.append(identity)
    return seen


def check_not_mixed(records: Sequence[dict[str, Any]], allow_mixed: bool) -> list[str]:
    """Refuse records from different machines or versions; with ``allow_mixed``, a note."""
    found = identities(records)
    if len(found) <= 1:
        return []
    listing = "; ".join(" ".join(identity) for identity in found)
    if not allow_mixed:
        raise MixedResultsError(
            f"results come from {len(found)} different machines or versions ({listing}); "
            "comparing them mixes hardware with code. Pass --allow-mixed to do it anyway."
        )
    return [f"MIXED: results from {len(found)} machines or versions are merged: {listing}"]


def process_sample(record: dict[str, Any]) -> stats.ProcessSample:
    timing = record["timing"]
    steps = tuple(timing["step_s"])
    return stats.ProcessSample(
        step_s=steps,
        images_per_step=int(timing["images_per_step"]),
        gap_factor=max(1.0, timing["timed_wall_s"] / sum(steps)),
    )


@dataclass(frozen=True)
class CellResult:
    cell_id: str
    cell: dict[str, Any]
    runs: int
    ok: int
    statuses: tuple[str, ...]
    processes: tuple[stats.ProcessSample, ...]
    images_per_s: float | None  # mean over processes
    ci: tuple[float, float] | None
    per_process: stats.Summary | None  # of each process's images/s
    per_step: stats.Summary | None  # of per-step throughputs, all processes pooled
    step_time: stats.Summary | None  # of per-step seconds, pooled (p90 = the slow tail)
    first_step_s: float | None  # median over processes
    step_samples: int
    records: tuple[dict[str, Any], ...] = field(repr=False, default=())

    @property
    def key(self) -> GroupKey:
        c = self.cell
        return (
            c["model"],
            c["image_size"],
            c["batch_per_replica"],
            c["replicas"],
            c.get("backend", "keras3"),
        )

    @property
    def strategy(self) -> str:
        return self.cell["strategy"]


def cell_results(records: Sequence[dict[str, Any]], *, seed: int = 0) -> list[CellResult]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["cell_id"], []).append(record)
    out = []
    for cell_id, group in groups.items():
        ok = [r for r in group if r["status"] == "ok"]
        processes = tuple(process_sample(r) for r in ok)
        statuses = tuple(sorted({r["status"] for r in group if r["status"] != "ok"}))
        if processes:
            rates = [p.images_per_s for p in processes]
            step_rates = [float(x) for p in processes for x in p.step_rates()]
            result = CellResult(
                cell_id=cell_id,
                cell=group[0]["cell"],
                runs=len(group),
                ok=len(ok),
                statuses=statuses,
                processes=processes,
                images_per_s=stats.throughput(processes),
                ci=stats.throughput_ci(processes, seed=seed),
                per_process=stats.describe(rates),
                per_step=stats.describe(step_rates),
                step_time=stats.describe([s for p in processes for s in p.step_s]),
                first_step_s=stats.median([r["timing"]["first_step_s"] for r in ok]),
                step_samples=len(step_rates),
                records=tuple(ok),
            )
        else:
            result = CellResult(
                cell_id=cell_id,
                cell=group[0]["cell"],
                runs=len(group),
                ok=0,
                statuses=statuses,
                processes=(),
                images_per_s=None,
                ci=None,
                per_process=None,
                per_step=None,
                step_time=None,
                first_step_s=None,
                step_samples=0,
            )
        out.append(result)
    return out


@dataclass(frozen=True)
class ClaimRow:
    key: GroupKey
    comparison: stats.Comparison
    verdict: str
    inplace: CellResult
    concat: CellResult


def claim_rows(
    cells: Sequence[CellResult],
    claim_pct: tuple[float, float],
    *,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    seed: int = 0,
) -> list[ClaimRow]:
    """In-place over concat, per model x image size x batch x replica count."""
    by_key = _by_key_and_strategy(cells)
    rows = []
    for key, strategies in by_key.items():
        inplace, concat = strategies.get("inplace"), strategies.get("concat")
        if not (inplace and concat and inplace.processes and concat.processes):
            continue
        comparison = stats.compare(
            inplace.processes,
            concat.processes,
            alpha=alpha,
            min_effect_pct=min_effect_pct,
            seed=seed,
        )
        rows.append(
            ClaimRow(key, comparison, stats.claim_verdict(comparison, claim_pct), inplace, concat)
        )
    return rows


def _by_key_and_strategy(cells: Sequence[CellResult]) -> dict[GroupKey, dict[str, CellResult]]:
    out: dict[GroupKey, dict[str, CellResult]] = {}
    for cell in cells:
        out.setdefault(cell.key, {})[cell.strategy] = cell
    return out


def single_baseline(cells: Sequence[CellResult], key: GroupKey) -> CellResult | None:
    for cell in cells:
        same = cell.key[:3] == key[:3] and cell.key[4] == key[4]
        if cell.strategy == "single" and same and cell.processes:
            return cell
    return None


@dataclass(frozen=True)
class ScalingRow:
    cell: CellResult
    efficiency: float | None  # images/s / (replicas x single's images/s)
    vs_mirrored: float | None  # images/s / mirrored's images/s


def scaling_rows(cells: Sequence[CellResult]) -> list[ScalingRow]:
    by_key = _by_key_and_strategy(cells)
    rows = []
    for cell in cells:
        if cell.strategy == "single" or cell.images_per_s is None:
            continue
        single = single_baseline(cells, cell.key)
        mirrored = by_key.get(cell.key, {}).get("mirrored")
        efficiency = None
        if single is not None and single.images_per_s:
            efficiency = cell.images_per_s / (cell.cell["replicas"] * single.images_per_s)
        ratio = None
        if mirrored is not None and mirrored.images_per_s:
            ratio = cell.images_per_s / mirrored.images_per_s
        rows.append(ScalingRow(cell, efficiency, ratio))
    return rows


@dataclass(frozen=True)
class MemoryRow:
    cell: CellResult
    tf_peak_bytes: dict[str, int]  # logical device -> max over processes
    nvml_process_peak_bytes: dict[str, int]  # physical GPU index -> max over processes
    host_rss_peak_bytes: int | None
    reason: str | None


def _max_per_key(
    dicts: Iterable[dict[str, Any] | None], inner: str | None = None
) -> dict[str, int]:
    peaks: dict[str, int] = {}
    for values in dicts:
        for key, value in (values or {}).items():
            if inner is not None:
                value = value.get(inner)
            if value is not None:
                peaks[key] = max(peaks.get(key, 0), int(value))
    return dict(sorted(peaks.items()))


def memory_rows(cells: Sequence[CellResult]) -> list[MemoryRow]:
    rows = []
    for cell in cells:
        if not cell.records:
            continue
        memories = [r.get("memory") or {} for r in cell.records]
        rss = [m["host_rss_peak_bytes"] for m in memories if m.get("host_rss_peak_bytes")]
        reasons = {m.get("tf_peak_reason") for m in memories} - {None}
        rows.append(
            MemoryRow(
                cell,
                _max_per_key(m.get("tf_peak_bytes") for m in memories),
                _max_per_key((m.get("nvml") for m in memories), "process_peak_bytes"),
                max(rss) if rss else None,
                next(iter(reasons)) if reasons else None,
            )
        )
    return rows


def memory_saving_pct(inplace: MemoryRow, concat: MemoryRow, device: str) -> float | None:
    """How much less TF peak memory the in-place split needs on ``device``, in %."""
    a, b = inplace.tf_peak_bytes.get(device), concat.tf_peak_bytes.get(device)
    if a is None or not b:
        return None
    return (1 - a / b) * 100


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
