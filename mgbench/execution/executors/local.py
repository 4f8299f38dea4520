"""The local executor: each worker process is a child of this one (:mod:`mgbench.execution.child`),
``python -m mgbench.execution.worker SPEC.json OUT.json``, killed with its whole process group
when it runs past the cell's timeout. A multiworker cell's workers run side by side, peers on
loopback ports, each with its own share of the GPUs, and their payloads are merged
(:mod:`mgbench.execution.multiworker`).

The submitit and Slurm executors run :func:`run_worker_process` (or :func:`run_one_worker`) inside
their jobs: a worker process is started the same way wherever it runs.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from mgbench.config.suite import Cell
from mgbench.execution import child, multiworker
from mgbench.execution.executors.spawner import (
    DeviceOptions,
    WorkerResult,
    worker_result,
    worker_spec,
)
from mgbench.platform import cluster, hardware

WORKER_MODULE = "mgbench.execution.worker"


def worker_command(spec_path: Path, out_path: Path) -> list[str]:
    """The command line of one worker process (the same under every executor)."""
    return child.command(WORKER_MODULE, spec_path, out_path)


def run_worker_process(
    spec_path: Path, out_path: Path, log_path: Path, timeout_s: float
) -> int | None:
    """Run one worker, its output to ``log_path``; its exit code, or None when it ran past
    ``timeout_s`` (its whole process group is killed then). A multiworker cell's workers run
    side by side on loopback (:func:`run_loopback_workers`)."""
    cell = Cell.from_dict(json.loads(spec_path.read_text(encoding="utf-8"))["cell"])
    if cell.multiprocess:
        return run_loopback_workers(cell, spec_path, out_path, log_path, timeout_s)
    return run_one_worker(spec_path, out_path, log_path, timeout_s, child.environment())


def run_one_worker(
    spec_path: Path, out_path: Path, log_path: Path, timeout_s: float, env: dict[str, str]
) -> int | None:
    """One worker process in ``env``; its exit code, or None past ``timeout_s``."""
    return child.run(
        worker_command(spec_path, out_path), env=env, log_path=log_path, timeout_s=timeout_s
    )


def run_loopback_workers(
    cell: Cell, spec_path: Path, out_path: Path, log_path: Path, timeout_s: float
) -> int | None:
    """A multiworker cell on this machine: its workers side by side, peers on loopback ports,
    each with its own share of the GPUs; their payloads merged into ``out_path``. The chief's
    exit code (or the first failure's), None on timeout."""
    ports = cluster.free_loopback_ports(cell.workers)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpus = [v.strip() for v in visible.split(",")] if visible else None
    visible_gpus = gpus or [str(i) for i in range(hardware.gpu_count())]
    shares = multiworker.gpu_shares(cell.workers, cell.replicas_per_worker, visible_gpus)
    if visible_gpus and shares is None:
        # Workers sharing a GPU would each pass their own check and time one chip twice over.
        need = cell.workers * cell.replicas_per_worker
        reason = (
            f"{cell.workers} workers x {cell.replicas_per_worker} GPU(s) need {need} GPUs, "
            f"{len(visible_gpus)} visible"
        )
        child.write_result(out_path, {"status": "skipped", "reason": reason})
        return 0
    envs = []
    for index in range(cell.workers):
        overrides = {"TF_CONFIG": cluster.loopback_tf_config(ports, index)}
        if shares is not None:
            overrides["CUDA_VISIBLE_DEVICES"] = shares[index]
        envs.append(child.environment(overrides))
    out_paths = [multiworker.worker_out_path(out_path, i) for i in range(cell.workers)]
    codes = multiworker.run_side_by_side(
        [worker_command(spec_path, path) for path in out_paths],
        envs,
        [multiworker.worker_log_path(log_path, i) for i in range(cell.workers)],
        out_paths,
        timeout_s,
    )
    if codes is None:
        return None
    multiworker.merge_outputs(cell, out_path, codes)
    return next((code for code in codes if code), 0)


def spawn_worker(
    cell: Cell,
    options: DeviceOptions,
    log_path: Path,
    *,
    timeline: dict[str, Any] | None = None,
) -> WorkerResult:
    """The local executor's :class:`~mgbench.execution.executors.spawner.Spawner`: run the
    worker for one cell (measured, or under the profiler for a ``timeline``) as a child of this
    process, its spec and payload in a scratch folder."""
    started = time.monotonic()
    with child.scratch(worker_spec(cell, options, timeline)) as files:
        returncode = run_worker_process(files.spec, files.out, log_path, cell.timeout_s)
        return worker_result(cell, files.out, log_path, returncode, time.monotonic() - started)
