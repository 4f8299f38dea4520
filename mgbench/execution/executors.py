"""Executors: where each worker process of a run is started. Every one keeps the launcher's
semantics (one fresh process per cell run, the same spec and payload files, timeouts, resume,
interleaving, records gathered in one run folder) and is a :data:`~launcher.Spawner`.

* ``local``: the worker is a child of this process (:func:`launcher.spawn_worker`).
* ``submitit-local``: each worker process is one submitit job on this machine
  (``submitit.AutoExecutor(cluster="local")``), the code path a Slurm cluster takes through
  submitit, so it is tested without one. submitit's local executor starts a job as soon as it is
  submitted, so jobs are submitted one at a time: the next only when the last has ended, and
  timed jobs never overlap.

A Slurm executor (``cluster="slurm"``, whole nodes, a ``[slurm]`` suite table) is the next step
(issue 13); it has not met a cluster yet.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mgbench.config.suite import Cell
from mgbench.execution.launcher import (
    DeviceOptions,
    Spawner,
    WorkerResult,
    run_worker_process,
    spawn_worker,
    worker_result,
    write_worker_spec,
)

EXECUTORS = ("local", "submitit-local")
POLL_S = 0.2  # how often the launcher looks whether the job it waits for has ended


def run_worker_job(spec_path: str, out_path: str, log_path: str, timeout_s: float) -> int | None:
    """What one submitit job runs: the worker process, exactly as the local executor runs it."""
    return run_worker_process(Path(spec_path), Path(out_path), Path(log_path), timeout_s)


class SubmititSpawner:
    """One submitit job per worker process, submitted one at a time."""

    def __init__(
        self,
        folder: Path,
        *,
        cluster: str = "local",
        clock: Callable[[], float] = time.monotonic,
    ):
        import submitit

        # submitit's own files (pickled call, its stdout/stderr) stay beside the run's logs.
        self._executor = submitit.AutoExecutor(
            folder=str(folder / "submitit" / "%j"), cluster=cluster
        )
        self._clock = clock

    def __call__(
        self,
        cell: Cell,
        options: DeviceOptions,
        log_path: Path,
        *,
        profile: dict[str, Any] | None = None,
    ) -> WorkerResult:
        started = self._clock()
        # The job's margin over the cell timeout: the worker's own timeout acts first.
        self._executor.update_parameters(timeout_min=math.ceil(cell.timeout_s / 60) + 1)
        with tempfile.TemporaryDirectory(prefix="mgbench-", dir=log_path.parent) as scratch:
            spec_path, out_path = write_worker_spec(Path(scratch), cell, options, profile)
            job = self._executor.submit(
                run_worker_job, str(spec_path), str(out_path), str(log_path), cell.timeout_s
            )
            try:
                while not job.done():
                    time.sleep(POLL_S)
            except BaseException:
                job.cancel(check=False)  # Ctrl-C: no job outlives the run
                raise
            try:
                returncode = job.result()
            except Exception as error:  # submitit lost or killed the job
                first = (str(error).strip().splitlines() or [type(error).__name__])[0]
                return WorkerResult(
                    {
                        "status": "failed",
                        "reason": f"submitit job {job.job_id} failed: {first}"[:500],
                    },
                    self._clock() - started,
                )
            return worker_result(cell, out_path, log_path, returncode, self._clock() - started)


def make_spawner(name: str, run_folder: Path) -> Spawner:
    """The spawner of executor ``name``; ValueError naming the known ones otherwise."""
    if name == "local":
        return spawn_worker
    if name == "submitit-local":
        return SubmititSpawner(run_folder / "logs", cluster="local")
    raise ValueError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
