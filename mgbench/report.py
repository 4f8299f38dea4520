"""Tables from records: returns strings, never prints. Bytes in data, MiB on screen."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tabulate import tabulate

from mgbench import stats

MIB = 2**20
CPU_SIMULATION_NOTE = (
    "**CPU simulation**: replicas are logical CPUs on the same cores and the host is also the "
    "default device, so the in-place and concat splits coincide. These numbers test the harness "
    "and placement, not the 5-12% claim."
)


def mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MIB:,.0f}"


def by_cell(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Records grouped by cell, in first-seen order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["cell_id"], []).append(record)
    return groups


def machine_label(records: Sequence[dict[str, Any]]) -> str:
    labels = []
    for record in records:
        env = record.get("environment") or {}
        gpus = [g.get("name") or "GPU" for g in env.get("gpus", [])]
        mode = record.get("device_mode") or "?"
        hardware = ", ".join(sorted(set(gpus))) if gpus else env.get("cpu", "?")
        label = f"{env.get('host', '?')} ({hardware}; {mode})"
        if label not in labels:
            labels.append(label)
    return "; ".join(labels) or "unknown machine"


def is_cpu_simulation(records: Iterable[dict[str, Any]]) -> bool:
    return any(r.get("device_mode") == "cpu-simulation" for r in records)


def _per_device(records: list[dict[str, Any]], field: str) -> str:
    """Peak per device over processes, e.g. ``GPU:0 1,234 · GPU:1 567`` (MiB), never summed."""
    peaks: dict[str, int] = {}
    for record in records:
        values = (record.get("memory") or {}).get(field) or {}
        for device, value in values.items():
            if isinstance(value, dict):
                value = value.get("process_peak_bytes")
            if value is not None:
                peaks[device] = max(peaks.get(device, 0), value)
    # NVML keys are physical GPU indices; TF keys are logical device names.
    shown = [f"{'#' + d if d.isdigit() else d} {mib(v)}" for d, v in sorted(peaks.items())]
    return " · ".join(shown) or "n/a"


def summary_table(records: Sequence[dict[str, Any]]) -> str:
    """Images/s and peak memory per cell, as Markdown, with the machine and any CPU caveat."""
    rows = []
    for group in by_cell(records).values():
        cell = group[0]["cell"]
        ok = [r for r in group if r["status"] == "ok"]
        rates = [r["timing"]["images_per_s"] for r in ok]
        firsts = [r["timing"]["first_step_s"] for r in ok]
        rss = [r["memory"]["host_rss_peak_bytes"] for r in ok if r.get("memory")]
        statuses = sorted({r["status"] for r in group if r["status"] != "ok"})
        rows.append(
            [
                cell["model"],
                cell["image_size"],
                cell["batch_per_replica"],
                cell["strategy"],
                cell["replicas"],
                f"{len(ok)}/{len(group)}" + (f" ({', '.join(statuses)})" if statuses else ""),
                f"{stats.median(rates):,.1f}" if rates else "n/a",
                f"{stats.median(firsts):.2f}" if firsts else "n/a",
                _per_device(ok, "tf_peak_bytes"),
                _per_device(ok, "nvml"),
                mib(max(rss)) if rss else "n/a",
            ]
        )
    headers = [
        "model",
        "px",
        "batch/replica",
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
    skipped = [r for r in records if r["status"] in ("skipped", "failed", "timeout")]
    if skipped:
        lines.append("")
        for record in skipped:
            lines.append(
                f"- {record['cell_id']} repeat {record['repeat']}: "
                f"{record['status']}: {record.get('reason')}"
            )
    return "\n".join(lines)
