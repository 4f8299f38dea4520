"""Runs ONE cell in this (fresh) process and writes its record.

``python -m mgbench.execution.worker SPEC.json OUT.json``, started by an executor
(:mod:`mgbench.execution.executors`) as a child process (:mod:`mgbench.execution.child`).

The cell's backend (:func:`mgbench.backends.get`) does all the framework's work: it sets up the
devices first, before the framework starts; then it builds the strategy, traces its placement and
runs the real training loop (``fit`` over a tf.data pipeline), timed step by step while memory is
sampled. A paired cell builds its strategies (two, or more) over one template and runs timed
blocks of steps of each in turn (:mod:`mgbench.trackers.paired`). A multiworker cell runs this
module once per worker, each given its peers by its executor (:mod:`mgbench.platform.cluster`);
every worker writes its own payload, with its index and host, and the executor merges them
(:mod:`mgbench.execution.multiworker`). This module imports no framework. A cell that cannot
run here (more replicas than devices) is recorded as skipped with its reason; an exception
becomes a failed record with its last lines.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from mgbench import backends
from mgbench.backends.base import MIRRORED_WEIGHTS, Backend, Built, CellSkipped, DeviceSetup
from mgbench.config.suite import Cell
from mgbench.execution import child
from mgbench.platform import cluster, quiet
from mgbench.records.environment import host_environment
from mgbench.trackers import phases as phase
from mgbench.trackers.energy import EnergyMeter
from mgbench.trackers.memory import MemorySampler
from mgbench.trackers.paired import run_paired
from mgbench.trackers.phases import PhaseClock
from mgbench.trackers.timing import StepTimer

__all__ = ["CellSkipped", "main", "run_cell"]


def _open_nvml(setup: DeviceSetup) -> tuple[Any, list[int], str | None]:
    """NVML, the NVML indices of this process's GPUs (TF's GPU i is entry i, matched by UUID so
    CUDA_VISIBLE_DEVICES counts; only the first when virtual GPUs split it), or why none."""
    from mgbench.platform import hardware

    if not setup.has_gpus:
        return None, [], "no GPU: CPU simulation"
    try:
        nvml = hardware.open_nvml()
        indices = hardware.visible_gpu_indices(nvml)
    except (hardware.NvmlUnavailable, ValueError) as reason:
        return None, [], str(reason)
    return nvml, indices[:1] if setup.split_first_gpu else indices, None


def _audits(cell: Cell, backend: Backend, built: Any) -> dict[str, Any]:
    """The record's placement digest and transfer audit of the step ``fit`` traced (or why
    none): read after the timed steps, from the trace ``fit`` made anyway."""
    if not cell.placement:
        return {"placement_reason": "placement tracing turned off in the suite"}
    from mgbench import transfers

    traced, reason = backend.fitted_step(cell, built)
    if traced is None:
        return {"placement_reason": reason}
    return {
        "placement": traced.placement().summary(),
        "transfers": transfers.both_resolutions(
            traced,
            global_batch=cell.global_batch,
            input_device=built.replica_devices[0] if cell.input == "device" else None,
        ),
    }


PAIRED_MEMORY_REASON = (
    "paired process: both strategies ran in it, so its memory cannot be told apart "
    "(the isolated cells record each strategy's)"
)
PAIRED_ENERGY_REASON = (
    "paired process: both strategies ran in it, so its energy cannot be told apart "
    "(the isolated cells record each strategy's)"
)
PAIRED_PLACEMENT_REASON = "paired process: placement is recorded by the isolated cells"

# What the framework would tear down, at a cost, once the measurement no longer needs it: held
# until the process ends (a measured worker ends without tearing down: main's _exit_now).
_KEPT_UNTIL_EXIT: list[Any] = []


def run_cell(
    cell: Cell,
    *,
    virtual_gpus: int = 0,
    virtual_gpu_memory_mb: int = 0,
    phases: PhaseClock | None = None,
) -> dict[str, Any]:
    """Measure one cell in this process; returns the worker's part of the record. ``phases``
    (default: opened here, with the process's age as its first phase) times where it goes
    (:mod:`mgbench.trackers.phases`): the record keeps them as ``timing.phases_s`` or
    ``paired.phases_s``."""
    if phases is None:
        phases = PhaseClock(already=(phase.INTERPRETER, phase.process_age_s()))
    import psutil

    from mgbench import devices

    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    backend = backends.get(cell.backend)
    if cell.paired:
        # before the framework starts: a refusal costs nothing
        backend.check_pairable(cell, cell.paired_strategies)
    setup = backend.prepare_process(
        cell.replicas_per_worker,
        virtual_gpus=virtual_gpus,
        virtual_gpu_memory_mb=virtual_gpu_memory_mb,
        multiworker=cell.multiprocess,
    )
    backend.check_runnable(cell, virtual_gpus)
    nvml, gpu_indices, nvml_reason = _open_nvml(setup)
    phases.done(phase.DEVICES)
    process = psutil.Process()
    sampler = MemorySampler(nvml, gpu_indices, os.getpid(), lambda: process.memory_info().rss)
    energy = EnergyMeter(nvml, gpu_indices, unavailable_reason=nvml_reason)
    if cell.paired:
        built, measured = _run_paired(cell, backend, sampler, phases)
        energy_result = {"energy": None, "energy_reason": PAIRED_ENERGY_REASON}
    else:
        # The process's creation on the clock since boot: psutil's create_time adds a boot time
        # Linux gives in whole seconds, an error as large as what a worker that exits at once
        # spends after its first timed step.
        created_at = time.time() - phase.process_age_s()
        built, measured = _run_isolated(cell, backend, sampler, energy, phases, created_at)
        energy_result = energy.result()
    framework_peaks, framework_peak_reason = backend.memory_peaks(_cell_devices(built[0]))
    if cell.paired:
        framework_peak_reason = "; ".join(
            filter(None, (PAIRED_MEMORY_REASON, framework_peak_reason))
        )
    environment = {**host_environment(), **backend.environment(nvml)}
    _KEPT_UNTIL_EXIT.extend(built)  # the models and their graphs, freed only with the process
    phases.done(phase.RECORD)
    # The phases end here: what is left (the payload written, the process exiting) is the
    # launcher's wall time beyond them.
    measured["paired" if cell.paired else "timing"]["phases_s"] = dict(phases.seconds)
    return {
        "device_mode": setup.mode,
        "jit_compile": any(bool(b.model.jit_compile) for b in built),
        "replica_devices": [devices.short_name(d) for d in built[0].replica_devices],
        "weights_device": devices.short_name(built[0].weights_device)
        if built[0].weights_device != MIRRORED_WEIGHTS
        else MIRRORED_WEIGHTS,
        **measured,
        "memory": {
            "tf_peak_bytes": framework_peaks,
            "tf_peak_reason": framework_peak_reason,
            "nvml": sampler.nvml_result() if nvml is not None else None,
            "nvml_reason": nvml_reason,
            "host_rss_peak_bytes": sampler.host_rss_peak_bytes,
            "sample_period_s": sampler.period_s,
            "samples": sampler.samples,
            "sampler_error": sampler.error,
        },
        **energy_result,
        "backend": cell.backend,
        **_worker_identity(cell),
        # This process's machine: a Slurm job's node, not the launcher's host.
        "environment": environment,
    }


def _worker_identity(cell: Cell) -> dict[str, Any]:
    """A multiworker process's place in its cluster (the executor merges the workers by it)."""
    if not cell.multiprocess:
        return {}
    return {"worker": {"index": cluster.worker_index(), "count": cell.workers}}


def _run_isolated(
    cell: Cell,
    backend: Backend,
    sampler: MemorySampler,
    energy: EnergyMeter,
    phases: PhaseClock,
    process_created_at: float,
) -> tuple[tuple[Built, ...], dict[str, Any]]:
    """One strategy: build, ``fit`` with every step timed, then audit the step ``fit`` traced."""
    built = backend.build_compiled(cell)
    if cell.placement:
        backend.watch_step(built)
    phases.done(phase.BUILD)
    first_timed_at: list[float] = []

    def timed_start() -> None:
        first_timed_at.append(time.time())
        backend.reset_memory_peaks()
        sampler.start()
        energy.start()  # last: the energy window opens right before the first timed step

    def timed_end() -> None:
        energy.stop()  # first: the window closes right after the last timed step
        sampler.stop()

    timer = StepTimer(
        warmup_steps=cell.warmup_steps,
        timed_steps=cell.timed_steps,
        images_per_step=cell.global_batch,
        on_timed_start=timed_start,
        on_timed_end=timed_end,
    )
    timing = backend.fit_timed(built, backend.dataset(cell, built), timer).to_dict()
    timing["process_to_first_timed_step_s"] = first_timed_at[0] - process_created_at
    phases.done(phase.FIT)
    audits = _audits(cell, backend, built)
    phases.done(phase.AUDIT)  # after the timed steps: not part of the fixed cost before them
    return (built,), {
        "timing": timing,
        **audits,
    }


def _run_paired(
    cell: Cell, backend: Backend, sampler: MemorySampler, phases: PhaseClock
) -> tuple[tuple[Built, ...], dict[str, Any]]:
    """The cell's strategies (two or more) over ONE template, trained in turn in timed blocks
    (:func:`mgbench.trackers.paired.run_paired`)."""
    if cell.versus is None or cell.rounds is None or cell.block_steps is None:
        raise ValueError(f"{cell.cell_id}: a paired cell needs versus, rounds and block_steps")
    names = cell.paired_strategies
    built = backend.build_many(cell, names)
    phases.done(phase.BUILD)
    steps, step_function_s = [], []
    for each in built:
        steps.append(backend.step_function(cell, each))
        step_function_s.append(phases.done(phase.STEP_FUNCTIONS))

    def rounds_start() -> None:
        backend.reset_memory_peaks()
        sampler.start()

    timing = run_paired(
        *steps,
        names=names,
        warmup_steps=cell.warmup_steps,
        rounds=cell.rounds,
        block_steps=cell.block_steps,
        on_rounds_start=rounds_start,
        on_rounds_end=sampler.stop,
        phases=phases,
    )
    # Freeing a step function frees its tf.data iterator, which can stall for seconds (1.8 and
    # 11.5 s on a busy 2-core VM, measuring nothing): they are kept until the process ends.
    _KEPT_UNTIL_EXIT.extend(steps)
    return built, {
        "paired": {**timing.to_dict(), "step_function_s": step_function_s},
        "placement": None,
        "placement_reason": PAIRED_PLACEMENT_REASON,
    }


def timeline_cell(
    cell: Cell,
    *,
    steps: int,
    logdir: str,
    virtual_gpus: int = 0,
    virtual_gpu_memory_mb: int = 0,
) -> dict[str, Any]:
    """One isolated cell's timeline in this process: warm up, then ``steps`` steps under TF's
    profiler; returns the worker's part of a timeline record (its timeline under the payload's
    ``profile`` key, the record's JSON name for it)."""
    from mgbench.execution.timeline_capture import capture_timeline

    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    backend = backends.get(cell.backend)
    if cell.paired:
        raise CellSkipped("a paired process gets no timeline: its isolated cells do")
    backend.check_steppable(cell)  # before the framework starts: a refusal costs nothing
    setup = backend.prepare_process(
        cell.replicas, virtual_gpus=virtual_gpus, virtual_gpu_memory_mb=virtual_gpu_memory_mb
    )
    backend.check_runnable(cell, virtual_gpus)
    built = backend.build_compiled(cell)
    timeline = capture_timeline(
        backend, cell, built, warmup_steps=max(cell.warmup_steps, 1), steps=steps, logdir=logdir
    )
    return {
        "profile": {**timeline, "device_mode": setup.mode},
        "environment": backend.environment(None),
    }


def _cell_devices(built: Built) -> list[str]:
    """The devices a cell's memory belongs to: its replicas and where its weights live."""
    where = [] if built.weights_device == MIRRORED_WEIGHTS else [built.weights_device]
    return [*built.replica_devices, *where]


def main(argv: list[str] | None = None, *, exit_when_written: bool = False) -> int:
    """SPEC.json holds the cell and device options (and ``timeline``: steps and logdir, for a
    process under TF's profiler); OUT.json receives the payload. ``exit_when_written`` (the
    worker process's own ``__main__``): a measured process of one worker ends the moment its
    payload is written (:func:`_exit_now`)."""
    spec_path, out_path = argv if argv is not None else sys.argv[1:]
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    cell = Cell.from_dict(spec["cell"])
    out: dict[str, Any]
    code = 0
    try:
        timeline = spec.get("timeline")
        if timeline is not None:
            out = {"status": "ok", **timeline_cell(cell, **timeline, **spec.get("devices", {}))}
        else:
            out = {"status": "ok", **run_cell(cell, **spec.get("devices", {}))}
    except CellSkipped as reason:
        out = {"status": "skipped", "reason": str(reason)}
    except Exception as error:  # a failed cell is data, not a crash of the suite
        first_line = (str(error).strip().splitlines() or [""])[0]
        out = {
            "status": "failed",
            "reason": f"{type(error).__name__}: {first_line}"[:500],
            "error_tail": quiet.tail_text(traceback.format_exc()),
        }
        code = 1
    child.write_result(Path(out_path), out)  # whole or not at all: never half a record
    if exit_when_written and spec.get("timeline") is None and not cell.multiprocess:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the process without the interpreter's teardown: once the payload is written nothing
    in it is measured, yet tearing down TensorFlow and a heap of traced graphs kept the launcher
    waiting seconds more per paired process on the CPU (the records' ``exit``). The output
    streams are flushed first, so the log is whole. Not for a multiworker process, whose peers'
    runtime expects an orderly goodbye."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main(exit_when_written=True))
