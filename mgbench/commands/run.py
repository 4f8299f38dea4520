"""``mgbench run``: load a suite, pick the profile and run folder, run it, print the summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mgbench.config import suite
from mgbench.execution import launcher
from mgbench.platform import hardware


def run_command(
    suite_path: str,
    *,
    output: str | None = None,
    resume: bool = False,
    profile: str = "auto",
    models: Sequence[str] | None = None,
    replicas: Sequence[int] | None = None,
    repeats: int | None = None,
    virtual_gpus: int = 0,
    virtual_gpu_memory_mb: int = 4096,
) -> int:
    cpu_only = {"auto": None, "cpu": True, "default": False}[profile]
    if cpu_only is None:
        cpu_only = hardware.gpu_count() == 0 and not virtual_gpus
    loaded = suite.load_suite(suite_path, cpu_only=cpu_only).select(
        models=models, replicas=replicas, repeats=repeats
    )
    if output:
        folder = Path(output)
    elif resume:
        folder = launcher.latest_output(loaded)
    else:
        folder = launcher.default_output(loaded)
    options = launcher.DeviceOptions(virtual_gpus, virtual_gpu_memory_mb)
    return launcher.run_suite(loaded, folder, resume=resume, options=options)
