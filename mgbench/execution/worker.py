"""Runs ONE cell in this (fresh) process and writes its record.

``python -m mgbench.execution.worker SPEC.json OUT.json``.

Device simulation happens first, before TensorFlow starts; then the strategy is built, its
placement traced, and the real training loop (``fit`` over a tf.data pipeline) timed step by
step while memory is sampled. A cell that cannot run here (more replicas than devices) is
recorded as skipped with its reason; an exception becomes a failed record with its last lines.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from mgbench.config.suite import Cell

TF_PEAK_CPU_REASON = "TF allocator statistics exist only for GPUs (CPU simulation)"


class CellSkipped(Exception):
    """This cell cannot run on this machine; the message is the recorded reason."""


def _check_runnable(cell: Cell, virtual_gpus: int) -> None:
    from mgbench.platform import lazy

    tf = lazy.tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus and cell.replicas > (virtual_gpus or len(gpus)):
        raise CellSkipped(
            f"{cell.replicas} replicas asked for, but this machine has "
            f"{virtual_gpus or len(gpus)} {'virtual ' if virtual_gpus else ''}GPU(s)"
        )


def _open_nvml() -> tuple[Any, str | None]:
    from mgbench.platform import hardware, lazy

    if not lazy.tensorflow().config.list_physical_devices("GPU"):
        return None, "no GPU: CPU simulation"
    try:
        return hardware.open_nvml(), None
    except hardware.NvmlUnavailable as reason:
        return None, str(reason)


def _tf_peaks() -> tuple[dict[str, int] | None, str | None]:
    from mgbench import devices
    from mgbench.platform import lazy

    tf = lazy.tensorflow()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if not gpus:
        return None, TF_PEAK_CPU_REASON
    peaks = {}
    for name in gpus:
        peaks[devices.short_name(name)] = int(tf.config.experimental.get_memory_info(name)["peak"])
    return peaks, None


def _reset_tf_peaks() -> None:
    from mgbench.platform import lazy

    tf = lazy.tensorflow()
    for device in tf.config.list_logical_devices("GPU"):
        tf.config.experimental.reset_memory_stats(device.name)


def _placement(cell: Cell, built: Any, x: Any, y: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not cell.placement:
        return None, "placement tracing turned off in the suite"
    if built.distribution is not None:
        return None, "MirroredStrategy: placement is tf.distribute's, not traced by mgbench"
    if cell.backend == "tf_keras":
        from mgbench.backends.tf_keras import placement as legacy_placement

        return legacy_placement.trace_train_step(built.model).summary(), None
    from mgbench import placement

    return placement.trace_train_step(built.model, x, y).summary(), None


def _build(cell: Cell, input_device: str | None) -> Any:
    from mgbench.backends import keras3 as strategies

    options: dict[str, Any] = {"input_device": input_device}
    build_compiled = strategies.build_compiled
    if cell.backend == "tf_keras":
        from mgbench.backends.tf_keras.build import build_compiled

        options = {}  # the original in-place split slices wherever its input lives
    return build_compiled(
        cell.strategy,
        cell.model,
        image_size=cell.image_size,
        classes=cell.classes,
        replicas=cell.replicas,
        weights=cell.weights,
        **options,
    )


def run_cell(
    cell: Cell, *, virtual_gpus: int = 0, virtual_gpu_memory_mb: int = 0
) -> dict[str, Any]:
    """Measure one cell in this process; returns the worker's part of the record."""
    import psutil

    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    phase_started = time.monotonic()
    phases_s: dict[str, float] = {}

    def phase_done(name: str) -> None:
        nonlocal phase_started
        now = time.monotonic()
        phases_s[name] = now - phase_started
        phase_started = now

    from mgbench import devices
    from mgbench.platform import lazy

    if cell.backend == "tf_keras":
        # TF1 graph mode, as in 2018; it must be switched on before any TF op exists.
        lazy.tensorflow().compat.v1.disable_eager_execution()
    mode = devices.prepare(
        cell.replicas, virtual_gpus=virtual_gpus, virtual_gpu_memory_mb=virtual_gpu_memory_mb
    )
    _check_runnable(cell, virtual_gpus)
    from mgbench.platform import models
    from mgbench.records import store
    from mgbench.trackers.memory import MemorySampler
    from mgbench.trackers.timing import StepTimer, timed_fit

    keras = models.keras_module(cell.backend)
    if cell.dtype != "float32":
        keras.mixed_precision.set_global_policy(cell.dtype)
    nvml, nvml_reason = _open_nvml()
    phase_done("tensorflow_and_devices")
    input_device = None
    if cell.input == "device" and cell.strategy == "inplace":
        input_device = devices.replica_devices(cell.replicas)[0]
    built = _build(cell, input_device)
    phase_done("build_and_compile")
    x, y = models.synthetic_batch(cell.image_size, cell.classes, cell.global_batch)
    placement_summary, placement_reason = _placement(cell, built, x, y)
    phase_done("placement_trace")

    process = psutil.Process()
    gpu_indices = range(nvml.device_count()) if nvml is not None else ()
    if nvml is not None and devices.virtual_gpus_active():
        gpu_indices = range(1)
    sampler = MemorySampler(nvml, list(gpu_indices), os.getpid(), lambda: process.memory_info().rss)
    first_timed_at: list[float] = []

    def timed_start() -> None:
        first_timed_at.append(time.time())
        _reset_tf_peaks()
        sampler.start()

    timer = StepTimer(
        warmup_steps=cell.warmup_steps,
        timed_steps=cell.timed_steps,
        images_per_step=cell.global_batch,
        on_timed_start=timed_start,
        on_timed_end=sampler.stop,
    )

    dataset = models.synthetic_dataset(
        cell.image_size,
        cell.classes,
        cell.global_batch,
        input=cell.input,
        # MirroredStrategy distributes the pipeline onto its replicas itself.
        first_replica=None if built.distribution is not None else built.replica_devices[0],
    )
    timing = timed_fit(built.model, dataset, timer, keras).to_dict()
    timing["process_to_first_timed_step_s"] = first_timed_at[0] - process.create_time()
    phase_done("fit")
    timing["phases_s"] = phases_s
    tf_peaks, tf_reason = _tf_peaks()
    return {
        "device_mode": mode,
        "jit_compile": bool(built.model.jit_compile),
        "replica_devices": [devices.short_name(d) for d in built.replica_devices],
        "weights_device": devices.short_name(built.weights_device)
        if built.weights_device != "mirrored"
        else "mirrored",
        "timing": timing,
        "memory": {
            "tf_peak_bytes": tf_peaks,
            "tf_peak_reason": tf_reason,
            "nvml": sampler.nvml_result() if nvml is not None else None,
            "nvml_reason": nvml_reason,
            "host_rss_peak_bytes": sampler.host_rss_peak_bytes,
            "sample_period_s": sampler.period_s,
            "samples": sampler.samples,
            "sampler_error": sampler.error,
        },
        "placement": placement_summary,
        "placement_reason": placement_reason,
        "backend": cell.backend,
        "environment": store.tf_environment(nvml),
    }


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    """SPEC.json holds the cell and device options; OUT.json receives the payload."""
    spec_path, out_path = argv if argv is not None else sys.argv[1:]
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    cell = Cell.from_dict(spec["cell"])
    out: dict[str, Any]
    code = 0
    try:
        out = {"status": "ok", **run_cell(cell, **spec.get("devices", {}))}
    except CellSkipped as reason:
        out = {"status": "skipped", "reason": str(reason)}
    except Exception as error:  # a failed cell is data, not a crash of the suite
        first_line = (str(error).strip().splitlines() or [""])[0]
        out = {
            "status": "failed",
            "reason": f"{type(error).__name__}: {first_line}"[:500],
            "error_tail": _tail(traceback.format_exc()),
        }
        code = 1
    partial = Path(f"{out_path}.partial")
    partial.write_text(json.dumps(out, allow_nan=False), encoding="utf-8")
    os.replace(partial, out_path)  # the launcher never reads half a record
    return code


if __name__ == "__main__":
    sys.exit(main())
