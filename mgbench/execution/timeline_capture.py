"""One built cell's timeline, in this process: where its step time goes, per device.

The placement audit of the same step names each op's device and role; the profiler's trace
names each op's time. ``capture_timeline`` joins the two into an attribution (seconds and bytes
per device and category, over the steps under the profiler) small enough to keep in a record;
the per-step summary is ``analysis.timeline.summarise_timeline`` of it (analysis sits above
execution, so the worker keeps the attribution and the report summarises it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mgbench import devices
from mgbench.backends.base import Backend, Built, ModelSpec
from mgbench.trackers import tf_profiler


def placement_map(report: Any) -> dict[str, tuple[str, str]]:
    """op name -> (device, role) from a placement report (empty without one)."""
    if report is None:
        return {}
    return {op.name: (op.device, op.role) for op in report.ops}


def capture_timeline(
    backend: Backend,
    spec: ModelSpec,
    built: Built,
    *,
    warmup_steps: int,
    steps: int,
    logdir: str | Path,
) -> dict[str, Any]:
    """Warm up, run ``steps`` steps under TF's profiler, and audit the step the warm-up traced;
    the attribution and trace path.

    The audit reads the very graph the function under the profiler runs (``Backend.watch_step``,
    as the measured worker does: no second trace); its op names match the trace's once the call
    scopes (``StatefulPartitionedCall/``) are stripped, so every op the audit knows gets its
    device and role, and ``attribution["unmatched"]`` lists any it did not.
    """
    backend.watch_step(built)
    step = backend.step_function(spec, built)
    for _ in range(warmup_steps):
        step()
    captured = tf_profiler.profile(step, steps=steps, logdir=logdir)
    traced, reason = backend.fitted_step(spec, built)
    report = traced.placement() if traced is not None else None
    host = devices.short_name(devices.HOST_DEVICE)
    attribution = tf_profiler.attribute(captured.events, placement_map(report), host=host)
    return {
        "steps": captured.steps,
        "warmup_steps": warmup_steps,
        "wall_s": captured.wall_s,
        "trace_path": str(captured.trace_path),
        "host": host,
        "replica_devices": [devices.short_name(d) for d in built.replica_devices],
        "placement_reason": reason,
        "attribution": attribution.to_json(),
    }
