"""What every executor shares: the :class:`Spawner` the launcher calls for each worker process,
and the worker's two files, written and read the same wherever the worker runs: its spec
(:func:`worker_spec`: the cell, device options, a timeline's steps) and its payload, read back
into a :class:`WorkerResult` with the reason when there is none (:func:`worker_result`)."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mgbench.config.suite import Cell
from mgbench.execution import child
from mgbench.platform import quiet

# Lines of a worker's log kept in its record when the worker says nothing of why it failed.
LOG_TAIL_LINES = 20


class RunError(ValueError):
    """The run cannot start or resume; the message says why."""


@dataclass(frozen=True)
class DeviceOptions:
    virtual_gpus: int = 0
    virtual_gpu_memory_mb: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "virtual_gpus": self.virtual_gpus,
            "virtual_gpu_memory_mb": self.virtual_gpu_memory_mb,
        }


@dataclass(frozen=True)
class WorkerResult:
    payload: dict[str, Any]  # the worker's part of the record, with at least "status"
    wall_s: float


class Spawner(Protocol):
    """Runs one worker process of ``cell`` (measured, or under TF's profiler for a
    ``timeline={"steps": n, "logdir": path}``), its output to ``log_path``, and returns its
    result: what an executor is to the launcher."""

    def __call__(
        self,
        cell: Cell,
        options: DeviceOptions,
        log_path: Path,
        *,
        timeline: dict[str, Any] | None = None,
    ) -> WorkerResult: ...


def worker_spec(
    cell: Cell, options: DeviceOptions, timeline: dict[str, Any] | None
) -> dict[str, Any]:
    """What one worker process is to do: its SPEC.json (``mgbench.execution.worker`` reads it)."""
    spec: dict[str, Any] = {"cell": cell.to_dict(), "devices": options.to_dict()}
    if timeline is not None:
        spec["timeline"] = timeline
    return spec


def worker_result(
    cell: Cell, out_path: Path, log_path: Path, returncode: int | None, wall_s: float
) -> WorkerResult:
    """The worker's payload, or a failed/timeout payload saying why there is none."""
    if returncode is None:
        reason = f"exceeded the cell timeout of {cell.timeout_s:g} s"
        return WorkerResult(
            {"status": "timeout", "reason": reason, "error_tail": _log_tail(log_path)}, wall_s
        )
    result = child.read_result(out_path)
    if result.missing:
        reason = f"worker exited with code {returncode} before writing a record"
        if returncode < 0:
            reason = f"worker killed by signal {signal.Signals(-returncode).name}"
        return WorkerResult(
            {"status": "failed", "reason": reason, "error_tail": _log_tail(log_path)}, wall_s
        )
    payload = result.payload or {
        "status": "failed",
        "reason": f"unreadable worker output: {result.unreadable}",
    }
    if payload.get("status") == "failed" and not payload.get("error_tail"):
        payload["error_tail"] = _log_tail(log_path)
    return WorkerResult(payload, wall_s)


def _log_tail(log_path: Path) -> str:
    # The log's end as it is, TF's start-up lines too: records have always kept them.
    return quiet.tail(log_path, LOG_TAIL_LINES, skip_startup_noise=False)
