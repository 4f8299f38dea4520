"""Writes small_results.jsonl: SYNTHETIC records (made up, no machine ran them) for report tests.

Deterministic: ``python tests/unit/data/make_small_results.py`` rewrites the same file. It exercises
the GPU paths of the report (TF peaks per device, NVML) that a CPU-only test machine cannot.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MIB = 2**20
# In-place 8.4% faster than whole-batch (inside the claim's 5-12%), 3.4% faster than concat.
RATES = {"single": 100.0, "inplace": 180.0, "wholebatch": 166.0, "concat": 174.0, "mirrored": 176.0}
TF_PEAKS = {
    "single": {"GPU:0": 900 * MIB},
    "inplace": {"GPU:0": 700 * MIB, "GPU:1": 640 * MIB},
    "wholebatch": {"GPU:0": 760 * MIB, "GPU:1": 700 * MIB},
    "concat": {"GPU:0": 820 * MIB, "GPU:1": 640 * MIB},
    "mirrored": {"GPU:0": 760 * MIB, "GPU:1": 760 * MIB},
}
BATCH = 32 * 32 * 32 * 3 * 4  # 2 x 16 images of 32 x 32 x 3 float32
WEIGHTS = 2 * MIB
# The transfer audit on GPUs (src, dst, role, bytes) of each split: how the batch arrives.
BATCH_ROWS = {
    "single": [("CPU:0", "GPU:0", "batch", BATCH // 2)],
    "inplace": [("CPU:0", f"GPU:{i}", "slices", BATCH // 2) for i in (0, 1)],
    "wholebatch": [("CPU:0", f"GPU:{i}", "batch", BATCH) for i in (0, 1)],
    "concat": [("CPU:0", "GPU:0", "batch", BATCH), ("GPU:0", "GPU:1", "slices", BATCH // 2)],
}


def transfers(strategy: str, replicas: int) -> dict | None:
    if strategy not in BATCH_ROWS:
        return None
    rows = BATCH_ROWS[strategy] + [
        (src, dst, role, WEIGHTS)
        for i in range(replicas)
        for src, dst, role in (("CPU:0", f"GPU:{i}", "weights"), (f"GPU:{i}", "CPU:0", "gradients"))
    ]
    on_gpus = [{"src": a, "dst": b, "role": r, "bytes": n} for a, b, r, n in rows]
    return {"as_run": on_gpus, "on_gpus": on_gpus}


def record(strategy: str, repeat: int, rng: np.random.Generator) -> dict:
    replicas = 1 if strategy == "single" else 2
    images = 16 * replicas
    steps = [float(s) for s in images / RATES[strategy] * (1 + 0.02 * rng.standard_normal(10))]
    wall = sum(steps) * 1.01
    cell = {
        "model": "TinyCNN",
        "image_size": 32,
        "classes": 10,
        "batch_per_replica": 16,
        "strategy": strategy,
        "replicas": replicas,
        "warmup_steps": 2,
        "timed_steps": 10,
        "input": "host",
        "weights": "cpu",
        "dtype": "float32",
        "timeout_s": 60.0,
        "placement": True,
    }
    default = "GPU:0"
    return {
        "schema_version": 1,
        "cell_id": f"TinyCNN-32px-b16-{strategy}-x{replicas}",
        "repeat": repeat,
        "status": "ok",
        "reason": None,
        "error_tail": None,
        "cell": cell,
        "suite": "synthetic",
        "run_id": "synthetic",
        "profile": "default",
        "device_mode": "gpu",
        "jit_compile": False,
        "wall_s": 10.0,
        "timing": {
            "first_step_s": 2.0 + repeat * 0.1,
            "warmup_step_s": [0.2, 0.2],
            "step_s": steps,
            "timed_wall_s": wall,
            "images_per_step": images,
            "images_per_s": images * 10 / wall,
        },
        "memory": {
            "tf_peak_bytes": TF_PEAKS[strategy],
            "tf_peak_reason": None,
            "nvml": {
                str(i): {
                    "name": "Synthetic GPU",
                    "total_bytes": 80 * 2**30,
                    "process_peak_bytes": peak + 300 * MIB,
                    "device_used_peak_bytes": None,
                }
                for i, peak in enumerate(TF_PEAKS[strategy].values())
            },
            "nvml_reason": None,
            "host_rss_peak_bytes": 2048 * MIB,
        },
        "placement": None
        if strategy == "mirrored"
        else {
            "replica_devices": ["GPU:0", "GPU:1"][:replicas],
            "default_device": default,
            "variable_devices": ["CPU:0"],
            "ops_per_device": {},
            "slice_devices": {
                "inplace": ["CPU:0"],
                "wholebatch": ["GPU:0", "GPU:1"],
                "concat": ["GPU:0"],
            }.get(strategy, []),
            "merge_devices": [] if strategy == "single" else ["CPU:0"],
            "grad_aggregate_devices": [] if strategy == "single" else ["CPU:0"],
            "update_devices": ["CPU:0"],
            "unplaced_ops": {"loss": 12, "other": 40},
        },
        "placement_reason": "MirroredStrategy: not traced" if strategy == "mirrored" else None,
        "transfers": transfers(strategy, replicas),
        "environment": {
            "host": "synthetic-host",
            "cpu": "Synthetic CPU",
            "tensorflow": "2.21.0",
            "keras": "3.15.1",
            "mgbench": "0.1.0",
            "gpus": [{"name": "Synthetic GPU"}, {"name": "Synthetic GPU"}],
        },
    }


def main() -> None:
    rng = np.random.default_rng(2018)
    lines = [
        json.dumps(record(strategy, repeat, rng), sort_keys=True)
        for repeat in range(5)
        for strategy in RATES
    ]
    Path(__file__).with_name("small_results.jsonl").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
