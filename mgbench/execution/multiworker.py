"""A multiworker cell's processes: ``workers`` worker processes that train one model together
(MultiWorkerMirroredStrategy), started side by side (:mod:`mgbench.execution.child`), watched
as one, merged into one payload.

On one machine the workers find each other on loopback ports (``TF_CONFIG``); under Slurm each
task of the job is one worker (:mod:`mgbench.platform.cluster`). Either way worker ``i`` writes
its own payload and log; :func:`merge_payloads` makes the cell's payload from them: the chief's
(worker 0) timing, every worker's host, memory and status. A worker that fails or is skipped
stops the others: they would wait for it in their collectives until the cell's timeout.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mgbench.config.suite import Cell
from mgbench.execution import child


def worker_out_path(out_path: Path, index: int) -> Path:
    return out_path.with_name(f"{out_path.stem}-w{index}{out_path.suffix}")


def worker_log_path(log_path: Path, index: int) -> Path:
    """The chief logs where a one-process cell would; worker i beside it."""
    return log_path if index == 0 else log_path.with_name(f"{log_path.stem}.w{index}.log")


def gpu_shares(workers: int, per_worker: int, visible: Sequence[str]) -> list[str] | None:
    """CUDA_VISIBLE_DEVICES of each local worker: its own ``per_worker`` of the ``visible``
    GPUs (MultiWorkerMirroredStrategy takes every GPU it sees). None when there are too few:
    the workers see them all and record why they cannot run."""
    if not visible or len(visible) < workers * per_worker:
        return None
    return [",".join(visible[i * per_worker : (i + 1) * per_worker]) for i in range(workers)]


def read_payload(path: Path) -> dict[str, Any] | None:
    return child.read_result(path).payload


def run_side_by_side(
    commands: Sequence[Sequence[str]],
    envs: Sequence[Mapping[str, str]],
    logs: Sequence[Path],
    out_paths: Sequence[Path],
    timeout_s: float,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> list[int | None] | None:
    """Start every worker, wait for all: their exit codes (None: killed because a peer failed
    first), or None when the cell's timeout passed (every worker is killed then). A worker
    that ends with a nonzero code, or without an ok payload, stops the others at once."""

    def stops_its_peers(index: int, code: int) -> bool:
        payload = read_payload(out_paths[index])
        return code != 0 or payload is None or payload.get("status") != "ok"

    return child.run_side_by_side(
        commands, envs, logs, timeout_s=timeout_s, failed=stops_its_peers, clock=clock
    )


def _summary(index: int, payload: dict[str, Any] | None, code: int | None) -> dict[str, Any]:
    """One worker in the cell's record: where it ran, how it ended, its steps and memory."""
    if payload is None:
        reason = (
            "stopped: a peer failed first"
            if code is None
            else f"exited with code {code} before writing a record"
        )
        return {"index": index, "status": "failed", "reason": reason}
    timing = payload.get("timing") or {}
    steps = timing.get("step_s") or []
    return {
        "index": index,
        "host": (payload.get("environment") or {}).get("host"),
        "status": payload.get("status", "failed"),
        "reason": payload.get("reason"),
        "device_mode": payload.get("device_mode"),
        "replica_devices": payload.get("replica_devices"),
        "median_step_s": statistics.median(steps) if steps else None,
        "memory": payload.get("memory"),
    }


def merge_payloads(
    cell: Cell, payloads: Sequence[dict[str, Any] | None], codes: Sequence[int | None]
) -> dict[str, Any]:
    """The cell's payload: the chief's, with every worker summarised under ``workers``; when a
    worker did not end ok, the first such worker's status and reason, named."""
    workers = [_summary(i, p, c) for i, (p, c) in enumerate(zip(payloads, codes, strict=True))]
    # The cause is a worker that said why it stopped; one that left nothing comes second.
    said = [
        w for w, p in zip(workers, payloads, strict=True) if p is not None and w["status"] != "ok"
    ]
    silent = [w for w in workers if w["status"] != "ok"]
    culprit = next(iter(said or silent), None)
    if culprit is not None:
        payload = payloads[culprit["index"]] or {}
        return {
            "status": culprit["status"],
            "reason": f"worker {culprit['index']} of {cell.workers}: {culprit['reason']}",
            "error_tail": payload.get("error_tail"),
            "workers": workers,
        }
    chief = dict(payloads[0] or {})
    chief.pop("worker", None)
    if chief.get("energy") is not None:
        # Worker 0 metered only its own GPUs, but the cell's images are every worker's.
        chief["energy"] = None
        chief["energy_reason"] = (
            "multi-process cell: each worker meters only its own GPUs (per worker, not summed)"
        )
    return {**chief, "workers": workers}


def merge_outputs(cell: Cell, out_path: Path, codes: Sequence[int | None]) -> None:
    """Read every worker's payload beside ``out_path`` and write the cell's there."""
    payloads = [read_payload(worker_out_path(out_path, i)) for i in range(cell.workers)]
    child.write_result(out_path, merge_payloads(cell, payloads, codes))
