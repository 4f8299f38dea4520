"""The ``slurm`` executor: each worker process is one Slurm job, through submitit
(``cluster="slurm"``: submitted with ``sbatch``, watched with ``sacct``, cancelled with
``scancel``), on one whole node (``--exclusive``), one task, with the ``[slurm]`` table's
partition, account, GPUs per node, time limit and extra ``#SBATCH`` lines
(:mod:`mgbench.config.slurm`), and ``--no-requeue`` so a measurement is never silently rerun.

The worker runs on the node exactly as the local executor runs it: its spec, payload and log, and
submitit's files, are written under the run folder, so **the run folder (and the directory
mgbench runs in) must be on a file system the nodes share**. A job Slurm cancels, times out or
loses (``NODE_FAIL``, ``PREEMPTED``, ``OUT_OF_MEMORY``...) is recorded as failed, its reason
naming the job id and the Slurm state; Ctrl-C cancels the job in flight.

After the first job, every job asks for the first one's node (``--nodelist``), so a run's
processes, every comparison's, are measured on one machine; a multiworker cell's job asks for
``workers`` nodes, one task each (:func:`run_worker_task`), that one among them. Limitation: jobs
are still submitted one at a time, as with ``submitit-local``, although a cluster could run
processes side by side on different nodes. The Slurm path is tested against faked ``sbatch``,
``sacct``, ``scancel`` and ``srun`` only (``tests/tf/test_slurm_executor.py``): it has not met a
real cluster yet.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mgbench.config.slurm import SlurmOptions
from mgbench.config.suite import Cell
from mgbench.execution import child, multiworker
from mgbench.execution.executors.local import run_one_worker
from mgbench.execution.executors.spawner import RunError
from mgbench.execution.executors.submitit_jobs import SubmititSpawner, run_worker_job
from mgbench.platform import cluster
from mgbench.records import store
from mgbench.records.run_folder import RunFolder

SLURM_COMMANDS = ("sbatch", "sacct", "scancel", "srun")  # what submitit's Slurm executor calls
# Slurm signals a job this long before its time limit (submitit then ends it). The limit is at
# least the cell timeout + TIME_MARGIN_MIN, so the signal comes well after the worker's own
# timeout would have recorded it, however long submitit took to start on the node.
SIGNAL_DELAY_S = 30
# Slurm states after which a job never runs again although submitit keeps waiting: it expects
# a requeue after preemption, which --no-requeue forbids.
_FINAL_UNFINISHED = {"PREEMPTED"}


def run_worker_task(
    spec_path: str, out_path: str, log_path: str, timeout_s: float, gpus_per_node: int
) -> int | None:
    """What each task of a multiworker cell's Slurm job runs: the worker of this task's rank,
    its peers found by TF's SlurmClusterResolver; the spawner merges the tasks' payloads
    afterwards."""
    index = int(os.environ["SLURM_PROCID"])
    env = child.environment(
        {cluster.CLUSTER_ENV: "slurm", cluster.GPUS_PER_NODE_ENV: str(gpus_per_node)}
    )
    return run_one_worker(
        Path(spec_path),
        multiworker.worker_out_path(Path(out_path), index),
        multiworker.worker_log_path(Path(log_path), index),
        timeout_s,
        env,
    )


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


def node_of(run_folder: Path) -> str | None:
    """The host an earlier part of this run was measured on (``--resume`` keeps to it)."""
    results = RunFolder(run_folder).results
    if not results.exists():
        return None
    hosts = [r.environment.host for r in store.read_records(results) if r.ok]
    return next((h for h in hosts if h), None)
