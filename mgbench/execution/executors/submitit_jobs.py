"""The ``submitit-local`` executor: each worker process is one submitit job on this machine
(``submitit.AutoExecutor(cluster="local")``), the code path a Slurm cluster takes through
submitit (:mod:`mgbench.execution.executors.slurm` builds on it), so it is tested without one.

A job runs the worker exactly as the local executor does (:func:`run_worker_job`); its spec,
payload and log, and submitit's own files, are written under the run folder. submitit's local
executor starts a job as soon as it is submitted, so jobs are submitted one at a time: the next
only when the last has ended, and timed jobs never overlap. Ctrl-C cancels the job in flight.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mgbench.config.slurm import TIME_MARGIN_MIN
from mgbench.config.suite import Cell
from mgbench.execution import child, multiworker
from mgbench.execution.executors.local import run_worker_process
from mgbench.execution.executors.spawner import (
    DeviceOptions,
    RunError,
    WorkerResult,
    worker_result,
    worker_spec,
)

POLL_S = 0.2  # how often the spawner looks whether the job it waits for has ended


def run_worker_job(spec_path: str, out_path: str, log_path: str, timeout_s: float) -> int | None:
    """What one submitit job runs: the worker process, exactly as the local executor runs it."""
    return run_worker_process(Path(spec_path), Path(out_path), Path(log_path), timeout_s)


def _error_line(error: BaseException) -> str:
    """The line of a submitit error that says what went wrong: for a job that raised, the last
    line of the trace submitit frames in dashes, else the message's first line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    rules = [i for i, line in enumerate(lines) if set(line) == {"-"}]
    if len(rules) >= 2 and rules[1] > rules[0] + 1:
        return lines[rules[1] - 1]
    return lines[0] if lines else type(error).__name__


def _failed(reason: str, wall_s: float) -> WorkerResult:
    return WorkerResult({"status": "failed", "reason": reason[:500]}, wall_s)


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
            folder=str(folder.resolve() / "submitit" / "%j"), cluster=cluster
        )
        self._clock = clock

    def job_parameters(self, cell: Cell) -> dict[str, Any]:
        """The submitit parameters of the job that runs one process of ``cell``."""
        # The job's margin over the cell timeout: the worker's own timeout acts first.
        return {"timeout_min": math.ceil(cell.timeout_s / 60) + TIME_MARGIN_MIN}

    def __call__(
        self,
        cell: Cell,
        options: DeviceOptions,
        log_path: Path,
        *,
        timeline: dict[str, Any] | None = None,
    ) -> WorkerResult:
        started = self._clock()
        self._executor.update_parameters(**self.job_parameters(cell))
        # Absolute paths: the job may start in another working directory, or on another machine.
        log_path = log_path.resolve()
        spec = worker_spec(cell, options, timeline)
        with child.scratch(spec, parent=log_path.parent) as (spec_path, out_path):
            function, extra = self.job_call(cell)
            try:
                job = self._executor.submit(
                    function, str(spec_path), str(out_path), str(log_path), cell.timeout_s, *extra
                )
            except RuntimeError as error:  # sbatch refused it: the next job would fare no better
                raise RunError(
                    f"could not submit the job of {cell.cell_id}: {_error_line(error)}"
                ) from error
            try:
                while not self._ended(job):
                    time.sleep(POLL_S)
            except BaseException:
                job.cancel(check=False)  # Ctrl-C: no job outlives the run
                raise
            self._ran_on(job)
            unfinished = self._unfinished(job)
            if unfinished is not None:
                return _failed(unfinished, self._clock() - started)
            try:
                returncodes = job.results()
            except Exception as error:  # submitit lost or killed the job
                return _failed(
                    f"{self._describe(job)} failed: {_error_line(error)}", self._clock() - started
                )
            if len(returncodes) > 1:  # one task per worker of a multiworker cell
                multiworker.merge_outputs(cell, out_path, returncodes)
            returncode = next((code for code in returncodes if code), returncodes[0])
            if any(code is None for code in returncodes):  # a task ran past the cell timeout
                returncode = None
            return worker_result(cell, out_path, log_path, returncode, self._clock() - started)

    def job_call(self, cell: Cell) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The job's function and its arguments after the paths and timeout (a multiworker
        cell's workers run side by side inside one job here)."""
        return run_worker_job, ()

    def _ended(self, job: Any) -> bool:
        return bool(job.done())

    def _ran_on(self, job: Any) -> None:
        """Note where an ended job ran (Slurm pins the later jobs there)."""

    def _unfinished(self, job: Any) -> str | None:
        """Why an ended job left no result (a failed record's reason), or None: read it."""
        return None

    def _describe(self, job: Any) -> str:
        return f"submitit job {job.job_id}"
