"""Where a multi-worker process finds its peers: ``TF_CONFIG`` on loopback ports (one machine),
or Slurm's allocation (``MGBENCH_CLUSTER=slurm``, read by TF's ``SlurmClusterResolver``).

The launcher writes the environment; the worker's backend reads it. Nothing here imports
TensorFlow until :func:`cluster_resolver` is called.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Mapping
from typing import Any

CLUSTER_ENV = "MGBENCH_CLUSTER"  # "slurm": peers come from Slurm's allocation, not TF_CONFIG
GPUS_PER_NODE_ENV = "MGBENCH_GPUS_PER_NODE"
SLURM_PORT_BASE = 8888  # SlurmClusterResolver's default; each task on a node takes the next


def free_loopback_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 now (held together while chosen, so they
    differ; another process could still take one before the workers bind it)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def loopback_tf_config(ports: list[int], index: int) -> str:
    """TF_CONFIG of worker ``index`` of a cluster listening on ``ports`` on this machine."""
    if not 0 <= index < len(ports):
        raise ValueError(f"worker index {index} outside a cluster of {len(ports)} workers")
    return json.dumps(
        {
            "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
            "task": {"type": "worker", "index": index},
        }
    )


def worker_index(env: Mapping[str, str] = os.environ) -> int:
    """This worker's index: Slurm's task rank under Slurm, TF_CONFIG's task index otherwise."""
    if env.get(CLUSTER_ENV) == "slurm":
        return int(env["SLURM_PROCID"])
    config = env.get("TF_CONFIG")
    if not config:
        raise ValueError("a multiworker process needs TF_CONFIG (or MGBENCH_CLUSTER=slurm)")
    return int(json.loads(config)["task"]["index"])


def loopback_peers(env: Mapping[str, str] = os.environ) -> tuple[list[str], int]:
    """Every worker's address and this worker's index, from the launcher's TF_CONFIG (which a
    JAX worker reads too: ``keras.distribution.initialize`` takes the first as coordinator)."""
    config = env.get("TF_CONFIG")
    if not config:
        raise ValueError("a multi-process cell's worker needs TF_CONFIG from the launcher")
    data = json.loads(config)
    return list(data["cluster"]["worker"]), int(data["task"]["index"])


def cluster_resolver(env: Mapping[str, str] = os.environ) -> Any:
    """TF's cluster resolver for this worker: Slurm's when under Slurm (GPUs set explicitly, not
    guessed from the node), else None (MultiWorkerMirroredStrategy reads TF_CONFIG itself)."""
    if env.get(CLUSTER_ENV) != "slurm":
        return None
    from mgbench.platform import lazy

    tf = lazy.tensorflow()
    return tf.distribute.cluster_resolver.SlurmClusterResolver(
        port_base=SLURM_PORT_BASE,
        auto_set_gpu=False,
        gpus_per_node=int(env.get(GPUS_PER_NODE_ENV, "0")),
    )
