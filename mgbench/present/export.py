"""Export a run for other tools: a pytest-benchmark JSON file that ``pytest-benchmark compare``
reads (one benchmark per cell, the per-step times of all its processes as data; images/s, J/image
and memory as ``extra_info``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from mgbench.analysis.cells import cell_results, energy_rows
from mgbench.records import environment
from mgbench.records.record import Record


def _machine_info(record: Record) -> dict[str, Any]:
    env = record.environment
    return {
        "node": env.host,
        "processor": env.cpu,
        "machine": (env.platform or "").split("-")[-1] or None,
        "python_compiler": None,
        "python_implementation": "CPython",
        "python_implementation_version": env.python,
        "python_version": env.python,
        "python_build": None,
        "release": None,
        "system": env.platform,
        "cpu": {"brand_raw": env.cpu, "count": env.cpu_count},
        "mgbench": {  # the keys the pytest plugin's machine_info hook writes, where known
            "device_mode": record.device_mode,
            "gpu": ", ".join(name or "GPU" for name in env.gpu_names()) or "no GPU",
            "gpus": list(env.gpu_names()),
            "tensorflow": env.tensorflow,
            "keras": env.keras,
            "cuda_build": env.cuda_build,
            "cudnn_build": env.cudnn_build,
            "driver": env.driver,
        },
    }


def _commit_info(record: Record) -> dict[str, Any]:
    env = record.environment
    return {
        "id": env.git_commit,
        "time": None,
        "author_time": None,
        "dirty": env.git_dirty,
        "project": "mgbench",
        "branch": None,
    }


def to_pytest_benchmark(records: Sequence[Record]) -> dict[str, Any]:
    """The JSON document pytest-benchmark saves, built from mgbench records."""
    from pytest_benchmark import __version__ as pytest_benchmark_version
    from pytest_benchmark.stats import Stats

    environment.check_not_mixed(records, allow_mixed=False)
    ok = [r for r in records if r.ok]
    if not ok:
        raise ValueError("no successful cell runs to export")
    benchmarks = []
    cells = cell_results(records)
    energy = {row.cell.cell_id: row for row in energy_rows(cells)}
    for cell in cells:
        if not cell.processes:
            continue
        stats = Stats()
        for process in cell.processes:
            for step in process.step_s:
                stats.update(step)
        c = cell.cell
        first = cell.records[0]
        joules = energy.get(cell.cell_id)
        benchmarks.append(
            {
                "group": f"{c.model}-{c.image_size}px-b{c.batch_per_replica}",
                "name": cell.cell_id,
                "fullname": f"mgbench::{ok[0].suite}::{cell.cell_id}",
                "params": c.to_dict(),
                "param": cell.cell_id,
                "extra_info": {
                    "images_per_s": cell.images_per_s,
                    "images_per_s_ci95": list(cell.ci) if cell.ci else None,
                    "strategy": c.strategy,
                    "replicas": c.replicas,
                    "processes": len(cell.processes),
                    "device_mode": first.device_mode,
                    "memory": first.to_json()["memory"],
                    "joules_per_image": joules.joules_per_image if joules else None,
                    "joules_per_image_processes": joules.processes if joules else 0,
                    "joules_per_image_reasons": list(joules.reasons) if joules else [],
                    "energy": first.to_json()["energy"],
                    "energy_reason": first.energy_reason,
                },
                "options": {
                    "disable_gc": False,
                    "timer": "perf_counter",
                    "min_rounds": len(stats.data),
                    "max_time": 0.0,
                    "min_time": 0.0,
                    "warmup": False,
                },
                "stats": {**stats.as_dict(), "data": list(stats.data), "iterations": 1},
            }
        )
    return {
        "machine_info": _machine_info(ok[0]),
        "commit_info": _commit_info(ok[0]),
        "benchmarks": benchmarks,
        "datetime": ok[0].started_at or dt.datetime.now(dt.UTC).isoformat(),
        "version": pytest_benchmark_version,
    }
