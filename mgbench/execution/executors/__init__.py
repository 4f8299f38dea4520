"""Executors: where each worker process of a run is started. Every one keeps the launcher's
semantics (one fresh process per cell run, the same spec and payload files, timeouts, resume,
interleaving, records gathered in one run folder) and is a :class:`Spawner`, made by
:func:`make_spawner`.

* ``local`` (:mod:`.local`): the worker is a child of this process; a multiworker cell's
  workers run side by side on loopback.
* ``submitit-local`` (:mod:`.submitit_jobs`): each worker process is one submitit job on this
  machine, the code path a Slurm cluster takes through submitit.
* ``slurm`` (:mod:`.slurm`): each worker process is one Slurm job on a whole node.

What they share (:mod:`.spawner`): the :class:`Spawner` interface, :class:`DeviceOptions`,
:class:`WorkerResult`, :class:`RunError`, and the worker's spec and payload. Every process is
started through :mod:`mgbench.execution.child`. The launcher calls executors, never the reverse.
"""

from __future__ import annotations

from pathlib import Path

from mgbench.config.slurm import SlurmOptions
from mgbench.execution.executors.local import spawn_worker
from mgbench.execution.executors.slurm import SlurmSpawner, node_of
from mgbench.execution.executors.spawner import DeviceOptions, RunError, Spawner, WorkerResult
from mgbench.execution.executors.submitit_jobs import SubmititSpawner
from mgbench.records.run_folder import RunFolder

__all__ = [
    "EXECUTORS",
    "DeviceOptions",
    "RunError",
    "Spawner",
    "WorkerResult",
    "make_spawner",
]

EXECUTORS = ("local", "submitit-local", "slurm")


def make_spawner(name: str, run_folder: Path, slurm: SlurmOptions | None = None) -> Spawner:
    """The spawner of executor ``name`` (``slurm``: with these options); ValueError naming the
    known ones otherwise."""
    if name == "local":
        return spawn_worker
    if name == "submitit-local":
        return SubmititSpawner(RunFolder(run_folder).logs, cluster="local")
    if name == "slurm":
        spawner = SlurmSpawner(RunFolder(run_folder).logs, slurm or SlurmOptions())
        spawner.node = node_of(run_folder)
        return spawner
    raise ValueError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
