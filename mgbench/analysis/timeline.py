"""Where a step's time goes, per device: the profiler's attribution as per-step numbers.

Pure: the input is the attribution a profiled process measured (``trackers.tf_profiler``, kept as
JSON in a record) or the trace events themselves with the placement audit's op -> (device, role)
mapping. Seconds and bytes are per step. Each device's time is the sum of its ops' kernel times;
on a CPU, ops of one device run on several threads at once, so a device's total can exceed the
step's wall time: it measures work, not elapsed time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mgbench.trackers.tf_profiler import (
    CATEGORIES,
    COPIES_MEMCPY,
    COPIES_RENDEZVOUS,
    COPY_CATEGORIES,
    UNKNOWN_DEVICE,
    Attribution,
    TraceEvent,
    attribute,
)

CATEGORY_LABELS = {
    "forward": "forward",
    "backward": "backward",
    "slicing": "slicing",
    "merge": "merge",
    "loss": "loss",
    "grad_aggregate": "grad aggregation",
    "update": "update",
    "copy_h2d": "copy host->device",
    "copy_d2d": "copy device->device",
    "copy_d2h": "copy device->host",
    "other": "other",
}
CPU_COPY_NOTE = (
    "CPU simulation: the copies are TensorFlow's _Send/_Recv hand-offs between logical CPUs that "
    "share one memory, so they are memory moves at most: for CPU to CPU the receiver takes the "
    "sender's buffer and no bytes cross any link (hence no byte counts). Their time is the "
    "hand-off's bookkeeping, not a transfer; on GPUs the same edges are Memcpy events with bytes."
)


@dataclass(frozen=True)
class DeviceTime:
    """One device's seconds per step in each category, and the bytes its copies moved."""

    device: str
    label: str  # "host", "replica 0", ...
    seconds: dict[str, float]  # every category, 0.0 where none
    bytes: dict[str, int]  # copy category -> bytes per step, only where the trace had them
    total_s: float
    attributed_share: float  # of total_s, the share in a named category (not "other")

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "label": self.label,
            "seconds": dict(self.seconds),
            "bytes": dict(self.bytes),
            "total_s": self.total_s,
            "attributed_share": self.attributed_share,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeviceTime:
        return cls(
            device=data["device"],
            label=data["label"],
            seconds={k: float(v) for k, v in data["seconds"].items()},
            bytes={k: int(v) for k, v in data.get("bytes", {}).items()},
            total_s=float(data["total_s"]),
            attributed_share=float(data["attributed_share"]),
        )


@dataclass(frozen=True)
class TimelineSummary:
    """A profiled cell's step time by device and category, per step."""

    steps: int
    devices: tuple[DeviceTime, ...]
    total_s: float  # all devices' time per step
    attributed_share: float  # of total_s, the share in a named category
    matched_share: float  # of total_s, the share whose op the placement audit knew
    copies: str  # how the trace showed copies: "rendezvous", "memcpy" or "none"
    wall_s_per_step: float | None = None  # profiled steps' wall time / steps (profiler on)
    note: str | None = None
    trace_path: str | None = None
    unmatched: tuple[str, ...] = field(default=())

    def device(self, name: str) -> DeviceTime:
        for device in self.devices:
            if device.device == name:
                return device
        raise KeyError(name)

    def category_s(self, category: str) -> float:
        """Seconds per step in ``category`` over all devices."""
        return sum(device.seconds.get(category, 0.0) for device in self.devices)

    def devices_with(self, category: str) -> list[str]:
        return [d.device for d in self.devices if d.seconds.get(category, 0.0) > 0.0]

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "devices": [device.to_json() for device in self.devices],
            "total_s": self.total_s,
            "attributed_share": self.attributed_share,
            "matched_share": self.matched_share,
            "copies": self.copies,
            "wall_s_per_step": self.wall_s_per_step,
            "note": self.note,
            "trace_path": self.trace_path,
            "unmatched": list(self.unmatched),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TimelineSummary:
        return cls(
            steps=int(data["steps"]),
            devices=tuple(DeviceTime.from_json(d) for d in data["devices"]),
            total_s=float(data["total_s"]),
            attributed_share=float(data["attributed_share"]),
            matched_share=float(data["matched_share"]),
            copies=data["copies"],
            wall_s_per_step=data.get("wall_s_per_step"),
            note=data.get("note"),
            trace_path=data.get("trace_path"),
            unmatched=tuple(data.get("unmatched", ())),
        )


def _share(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0


def _labels(host: str, replica_devices: Sequence[str]) -> dict[str, str]:
    labels = {device: f"replica {i}" for i, device in enumerate(replica_devices)}
    # On one device (single, or the CPU host standing in as a replica) say both.
    labels[host] = f"host, {labels[host]}" if host in labels else "host"
    labels[UNKNOWN_DEVICE] = "not placed"
    return labels


def _order(device: str, host: str, replica_devices: Sequence[str]) -> tuple[int, int, str]:
    if device == host:
        return (0, 0, device)
    if device in replica_devices:
        return (1, list(replica_devices).index(device), device)
    return (3, 0, device) if device == UNKNOWN_DEVICE else (2, 0, device)


def summarise(
    attribution: Attribution | Mapping[str, Any],
    *,
    steps: int,
    host: str = "CPU:0",
    replica_devices: Sequence[str] = (),
    wall_s: float | None = None,
    trace_path: str | None = None,
) -> TimelineSummary:
    """Per-step seconds per device and category from an attribution (or its JSON)."""
    if steps < 1:
        raise ValueError(f"summarise: steps must be at least 1, got {steps}")
    data = attribution.to_json() if isinstance(attribution, Attribution) else attribution
    seconds: Mapping[str, Mapping[str, float]] = data["seconds"]
    copied: Mapping[str, Mapping[str, int]] = data.get("bytes", {})
    labels = _labels(host, replica_devices)
    devices = []
    for device in sorted(seconds, key=lambda d: _order(d, host, replica_devices)):
        per_step = {c: seconds[device].get(c, 0.0) / steps for c in CATEGORIES}
        total = sum(per_step.values())
        devices.append(
            DeviceTime(
                device=device,
                label=labels.get(device, ""),
                seconds=per_step,
                bytes={
                    c: round(copied[device][c] / steps)
                    for c in COPY_CATEGORIES
                    if c in copied.get(device, {})
                },
                total_s=total,
                attributed_share=_share(total - per_step["other"], total),
            )
        )
    total_s = sum(d.total_s for d in devices)
    other_s = sum(d.seconds["other"] for d in devices)
    copies = data.get("copies", "none")
    note = CPU_COPY_NOTE if copies == COPIES_RENDEZVOUS else None
    if copies != COPIES_MEMCPY and any(d.device.startswith("GPU") for d in devices):
        note = "No Memcpy events in this trace: copies between GPUs were not observed."
    return TimelineSummary(
        steps=steps,
        devices=tuple(devices),
        total_s=total_s,
        attributed_share=_share(total_s - other_s, total_s),
        matched_share=_share(float(data.get("matched_s", 0.0)) / steps, total_s),
        copies=copies,
        wall_s_per_step=wall_s / steps if wall_s is not None else None,
        note=note,
        trace_path=trace_path,
        unmatched=tuple(data.get("unmatched", ())),
    )


def summarise_events(
    events: Iterable[TraceEvent],
    placement: Mapping[str, tuple[str, str]],
    *,
    steps: int,
    host: str = "CPU:0",
    replica_devices: Sequence[str] = (),
    wall_s: float | None = None,
    trace_path: str | None = None,
) -> TimelineSummary:
    """:func:`summarise` straight from trace events and the audit's op -> (device, role)."""
    return summarise(
        attribute(events, placement, host=host),
        steps=steps,
        host=host,
        replica_devices=replica_devices,
        wall_s=wall_s,
        trace_path=trace_path,
    )


def summarise_timeline(timeline: Mapping[str, Any]) -> TimelineSummary:
    """The summary of what ``execution.timeline_capture.capture_timeline`` returned (or a
    record kept)."""
    return summarise(
        timeline["attribution"],
        steps=int(timeline["steps"]),
        host=timeline.get("host", "CPU:0"),
        replica_devices=timeline.get("replica_devices", ()),
        wall_s=timeline.get("wall_s"),
        trace_path=timeline.get("trace_path"),
    )
