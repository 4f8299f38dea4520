"""Executors: where each worker process of a run is started. Every one keeps the launcher's
semantics (one fresh process per cell run, the same spec and payload files, timeouts, resume,
interleaving, records gathered in one run folder) and is a :data:`~launcher.Spawner`.

* ``local``: the worker is a child of this process (:func:`launcher.spawn_worker`).
* ``submitit-local``: each worker process is one submitit job on this machine
  (``submitit.AutoExecutor(cluster="local")``), the code path a Slurm cluster takes through
  submitit, so it is tested without one. submitit's local executor starts a job as soon as it is
  submitted, so jobs are submitted one at a time: the next only when the last has ended, and
  timed jobs never overlap.
* ``slurm``: each worker process is one Slurm job (``cluster="slurm"``, submitted with
  ``sbatch``, watched with ``sacct``, cancelled with ``scancel``): one whole node
  (``--exclusive``), one task, the ``[slurm]`` table's partition, account, GPUs per node, time
  limit and extra ``#SBATCH`` lines (:mod:`mgbench.config.slurm`), ``--no-requeue`` so a
  measurement is never silently rerun. The worker runs on the node, exactly as the local
  executor runs it: its spec, payload and log, and submitit's files, are written under the run
  folder, so **the run folder (and the directory mgbench runs in) must be on a file system the
  nodes share**. A job Slurm cancels, times out or loses (``NODE_FAIL``, ``PREEMPTED``,
  ``OUT_OF_MEMORY``...) is recorded as failed, its reason naming the job id and the Slurm state;
  Ctrl-C cancels the job in flight.

  After the first job, every job asks for the first one's node (``--nodelist``), so a run's
  processes, every comparison's, are measured on one machine; a multiworker cell's job asks for
  ``workers`` nodes, one task each, that one among them. Limitation: jobs are still submitted one
  at a time, as with ``submitit-local``, although a cluster could run processes side by side on
  different nodes. The Slurm path is tested against faked ``sbatch``,
  ``sacct``, ``scancel`` and ``srun`` only (``tests/tf/test_slurm_executor.py``): it has not met
  a real cluster yet.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mgbench.config.slurm import TIME_MARGIN_MIN, SlurmOptions
from mgbench.config.suite import Cell
from mgbench.execution import multiworker
from mgbench.execution.launcher import (
    DeviceOptions,
    RunError,
    Spawner,
    WorkerResult,
    run_slurm_worker_task,
    run_worker_process,
    spawn_worker,
    worker_result,
    write_worker_spec,
)
from mgbench.records import store

EXECUTORS = ("local", "submitit-local", "slurm")
POLL_S = 0.2  # how often the launcher looks whether the job it waits for has ended
SLURM_COMMANDS = ("sbatch", "sacct", "scancel", "srun")  # what submitit's Slurm executor calls
# Slurm signals a job this long before its time limit (submitit then ends it). The limit is at
# least the cell timeout + TIME_MARGIN_MIN, so the signal comes well after the worker's own
# timeout would have recorded it, however long submitit took to start on the node.
SIGNAL_DELAY_S = 30
# Slurm states after which a job never runs again although submitit keeps waiting: it expects
# a requeue after preemption, which --no-requeue forbids.
_FINAL_UNFINISHED = {"PREEMPTED"}


def run_worker_job(spec_path: str, out_path: str, log_path: str, timeout_s: float) -> int | None:
    """What one submitit job runs: the worker process, exactly as the local executor runs it."""
    return run_worker_process(Path(spec_path), Path(out_path), Path(log_path), timeout_s)


def run_worker_task(
    spec_path: str, out_path: str, log_path: str, timeout_s: float, gpus_per_node: int
) -> int | None:
    """What each task of a multiworker cell's Slurm job runs: one worker, of the task's rank."""
    return run_slurm_worker_task(
        Path(spec_path), Path(out_path), Path(log_path), timeout_s, gpus_per_node
    )


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
        with tempfile.TemporaryDirectory(prefix="mgbench-", dir=log_path.parent) as scratch:
            spec_path, out_path = write_worker_spec(Path(scratch), cell, options, timeline)
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


def _state_word(state: str) -> str:
    """``"CANCELLED by 1000"`` -> ``"CANCELLED"``."""
    return (state.split() or ["UNKNOWN"])[0].upper()


class SlurmSpawner(SubmititSpawner):
    """One Slurm job per worker process, on a whole node, submitted one at a time."""

    def __init__(
        self,
        folder: Path,
        options: SlurmOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        missing = [name for name in SLURM_COMMANDS if shutil.which(name) is None]
        if missing:
            raise RunError(
                f"--executor slurm: {', '.join(missing)} not found on PATH; run mgbench where "
                "Slurm's commands are (a login node), from a shared file system"
            )
        super().__init__(folder, cluster="slurm", clock=clock)
        self.options = options
        # The node every later job asks for, once the first job has run: a run's processes,
        # so every comparison's, are measured on one machine.
        self.node: str | None = None

    def job_parameters(self, cell: Cell) -> dict[str, Any]:
        """The job of one process of ``cell``: every Slurm request is made here."""
        options = self.options
        return {
            "name": f"mgbench-{cell.cell_id}",
            # ValueError when [slurm] time_min is too short (run_command checks every cell first)
            "timeout_min": options.time_limit_min(cell.timeout_s),
            # A multiworker cell's workers: one task on each of ``workers`` whole nodes.
            "nodes": cell.workers,
            "tasks_per_node": 1,
            "gpus_per_node": options.gpus_per_node,
            "slurm_partition": options.partition,
            "slurm_account": options.account,
            # Whole nodes: no other job shares the node's GPUs, links or CPUs with a timed one.
            "slurm_exclusive": True,
            "slurm_signal_delay_s": SIGNAL_DELAY_S,
            "slurm_setup": list(options.setup) or None,
            # submitit writes these as "#SBATCH --key[=value]" lines, after its own.
            "slurm_additional_parameters": {
                "no-requeue": True,
                **({"nodelist": self.node} if self.node else {}),
                **options.sbatch_parameters(),
            },
        }

    def job_call(self, cell: Cell) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        if cell.multiprocess:  # one task per worker, each on its own node
            return run_worker_task, (self.options.gpus_per_node or 0,)
        return run_worker_job, ()

    def _ended(self, job: Any) -> bool:
        return bool(job.done()) or _state_word(job.state) in _FINAL_UNFINISHED

    def _ran_on(self, job: Any) -> None:
        if self.node is not None:
            return
        nodes = str(job.get_info(mode="force").get("NodeList") or "")
        # One plain host name only: a multi-node job's list ("gpu[01-02]") pins nothing.
        if nodes and not any(c in nodes for c in ",[ ") and nodes not in ("None", "(null)"):
            self.node = nodes

    def _unfinished(self, job: Any) -> str | None:
        if job.paths.result_pickle.exists():
            return None
        state = job.state
        if _state_word(state) == "COMPLETED":
            return None  # its result may not be visible yet on a shared file system
        return (
            f"Slurm job {job.job_id} ended {state} and left no result "
            f"(submitit's log: {job.paths.stderr})"
        )

    def _describe(self, job: Any) -> str:
        state = job.get_info(mode="force").get("State") or "UNKNOWN"
        return f"Slurm job {job.job_id} ({state})"


def _node_of(run_folder: Path) -> str | None:
    """The host an earlier part of this run was measured on (``--resume`` keeps to it)."""
    results = run_folder / store.RESULTS_FILE
    if not results.exists():
        return None
    hosts = [r.environment.host for r in store.read_records(results) if r.ok]
    return next((h for h in hosts if h), None)


def make_spawner(name: str, run_folder: Path, slurm: SlurmOptions | None = None) -> Spawner:
    """The spawner of executor ``name`` (``slurm``: with these options); ValueError naming the
    known ones otherwise."""
    if name == "local":
        return spawn_worker
    if name == "submitit-local":
        return SubmititSpawner(run_folder / "logs", cluster="local")
    if name == "slurm":
        spawner = SlurmSpawner(run_folder / "logs", slurm or SlurmOptions())
        spawner.node = _node_of(run_folder)
        return spawner
    raise ValueError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
