"""SYNTHETIC paired records (made up, no machine ran them) with a known ratio and known noise.

A paired process of A against B: every round, A's block of steps takes ``step_s`` x noise and B's
takes ``step_s`` x (1 + true speed-up) x noise, so ``log(median B / median A)`` is centred on
``log(1 + true_pct / 100)`` plus a process effect (sd ``process_sd``, in log units) and round
noise (sd ``round_sd``). Pure: the same seed gives the same records.

A k-way process (:func:`kway_record`) holds k strategies; strategy i's steps are ``slower_pct[i]``
percent slower than the first's, so the true speed-up of x over y is
``(1 + slower_pct[y] / 100) / (1 + slower_pct[x] / 100) - 1``; each strategy after the first gets
its own process effect and round noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mgbench.config.suite import Cell
from mgbench.trackers.paired import block_order

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


def kway_record(
    repeat: int,
    rng: np.random.Generator,
    *,
    strategies: tuple[str, ...] = ("inplace", "wholebatch", "concat"),
    slower_pct: tuple[float, ...] = (0.0, 8.0, 3.0),
    process_sd: float = 0.0,
    round_sd: float = 0.02,
    rounds: int = 20,
    step_s: float = 0.1,
    status: str = "ok",
    device_mode: str = "gpu",
    **cell: Any,
) -> dict[str, Any]:
    """One k-way paired process's record as JSON (its rounds in the paired loop's orders)."""
    a, b, *others = strategies
    record = paired_record(
        repeat,
        rng,
        rounds=rounds,
        status="skipped",  # the record without its measurement; filled in below
        device_mode=device_mode,
        **{"strategy": a, "versus": b, "also": others, **cell},
    )
    record.update(status=status, reason=None if status == "ok" else f"{status}: synthetic")
    if status != "ok":
        return record
    k, block = len(strategies), record["cell"]["block_steps"]
    effects = [0.0] + [rng.normal(0, process_sd) if process_sd else 0.0 for _ in range(k - 1)]
    shifts = [np.log1p(pct / 100) + effect for pct, effect in zip(slower_pct, effects, strict=True)]
    paired_rounds = []
    for order in block_order(rounds, k):
        base = step_s * np.exp(rng.normal(0, 0.002, block))
        # Each strategy's round noise is put on its whole block: its median moves by exactly it.
        noise = [0.0, *rng.normal(0, round_sd, k - 1)]
        blocks = [base * np.exp(shift + n) for shift, n in zip(shifts, noise, strict=True)]
        paired_rounds.append(
            {
                "first": order[0],
                "a_step_s": [float(x) for x in blocks[0]],
                "b_step_s": [float(x) for x in blocks[1]],
                "order": list(order),
                "others_step_s": [[float(x) for x in other] for other in blocks[2:]],
            }
        )
    record["paired"] = {
        "a": a,
        "b": b,
        "others": others,
        "block_steps": block,
        "first_step_s": [2.0, 2.1],
        "others_first_step_s": [2.2] * len(others),
        "rounds": paired_rounds,
    }
    return record


def true_speedup_pct(slower_pct: tuple[float, ...], x: int, y: int) -> float:
    """The true speed-up of strategy ``x`` over ``y`` in a :func:`kway_record`, in percent."""
    return ((1 + slower_pct[y] / 100) / (1 + slower_pct[x] / 100) - 1) * 100


def kway_run(processes: int, seed: int, **options: Any) -> list[dict[str, Any]]:
    """``processes`` k-way records of one cell (repeats 0, 1, ...)."""
    rng = np.random.default_rng(seed)
    return [kway_record(repeat, rng, **options) for repeat in range(processes)]


def paired_run(processes: int, seed: int, **options: Any) -> list[dict[str, Any]]:
    """``processes`` paired records of one cell (repeats 0, 1, ...)."""
    rng = np.random.default_rng(seed)
    return [paired_record(repeat, rng, **options) for repeat in range(processes)]
