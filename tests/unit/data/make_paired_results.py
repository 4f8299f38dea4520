"""SYNTHETIC paired records (made up, no machine ran them) with a known ratio and known noise.

A paired process of A against B: every round, A's block of steps takes ``step_s`` x noise and B's
takes ``step_s`` x (1 + true speed-up) x noise, so ``log(median B / median A)`` is centred on
``log(1 + true_pct / 100)`` plus a process effect (sd ``process_sd``, in log units) and round
noise (sd ``round_sd``). Pure: the same seed gives the same records.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mgbench.config.suite import Cell

PAIRED_CELL: dict[str, Any] = {
    "model": "ResNet50",
    "image_size": 32,
    "classes": 10,
    "batch_per_replica": 8,
    "strategy": "inplace",
    "replicas": 2,
    "warmup_steps": 2,
    "timed_steps": 10,
    "input": "host",
    "weights": "cpu",
    "dtype": "float32",
    "timeout_s": 600.0,
    "placement": False,
    "backend": "keras3",
    "versus": "wholebatch",
    "rounds": 20,
    "block_steps": 5,
}
ENVIRONMENT = {
    "host": "synthetic-host",
    "cpu": "Synthetic CPU",
    "tensorflow": "2.21.0",
    "keras": "3.15.1",
    "mgbench": "0.1.0",
    "gpus": [],
}


def paired_record(
    repeat: int,
    rng: np.random.Generator,
    *,
    true_pct: float = 0.0,
    process_sd: float = 0.0,
    round_sd: float = 0.02,
    rounds: int = 20,
    step_s: float = 0.1,
    status: str = "ok",
    device_mode: str = "gpu",
    **cell: Any,
) -> dict[str, Any]:
    """One paired process's record as JSON; ``cell`` overrides fields of :data:`PAIRED_CELL`."""
    cell_dict = {**PAIRED_CELL, "rounds": rounds, **cell}
    block = cell_dict["block_steps"]
    record: dict[str, Any] = {
        "schema_version": 1,
        "cell_id": Cell.from_dict(cell_dict).cell_id,
        "repeat": repeat,
        "status": status,
        "reason": None if status == "ok" else f"{status}: synthetic",
        "error_tail": None,
        "cell": cell_dict,
        "suite": "synthetic",
        "run_id": "synthetic",
        "profile": "default",
        "device_mode": device_mode,
        "jit_compile": False,
        "wall_s": 60.0,
        "environment": ENVIRONMENT,
    }
    if status != "ok":
        return record
    process_effect = rng.normal(0, process_sd) if process_sd else 0.0
    shift = np.log1p(true_pct / 100) + process_effect
    paired_rounds = []
    for index in range(rounds):
        # The round's noise is put on B's whole block, so its block median moves by exactly it.
        a = step_s * np.exp(rng.normal(0, 0.002, block))
        b = a * np.exp(shift + rng.normal(0, round_sd))
        paired_rounds.append(
            {
                "first": "a" if index % 2 == 0 else "b",
                "a_step_s": [float(x) for x in a],
                "b_step_s": [float(x) for x in b],
            }
        )
    record["paired"] = {
        "a": cell_dict["strategy"],
        "b": cell_dict["versus"],
        "block_steps": block,
        "first_step_s": [2.0, 2.1],
        "rounds": paired_rounds,
    }
    return record


def paired_run(processes: int, seed: int, **options: Any) -> list[dict[str, Any]]:
    """``processes`` paired records of one cell (repeats 0, 1, ...)."""
    rng = np.random.default_rng(seed)
    return [paired_record(repeat, rng, **options) for repeat in range(processes)]
