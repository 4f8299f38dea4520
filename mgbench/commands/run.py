"""``mgbench run``: load a suite, pick the profile and run folder, run it, print the summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from mgbench.config import suite
from mgbench.config.suite import Suite
from mgbench.execution import launcher
from mgbench.platform import hardware
from mgbench.present.summary import claim_headline, summary_table

SUMMARY_FILE = "summary.md"


def run_command(
    suite_path: str,
    *,
    output: str | None = None,
    resume: bool = False,
    profile: str = "auto",
    models: Sequence[str] | None = None,
    replicas: Sequence[int] | None = None,
    repeats: int | None = None,
    pairs: int | None = None,
    virtual_gpus: int = 0,
    virtual_gpu_memory_mb: int = 4096,
) -> int:
    cpu_only = {"auto": None, "cpu": True, "default": False}[profile]
    if cpu_only is None:
        cpu_only = hardware.gpu_count() == 0 and not virtual_gpus
    loaded = suite.load_suite(suite_path, cpu_only=cpu_only).select(
        models=models, replicas=replicas, repeats=repeats, pairs=pairs
    )
    if output:
        folder = Path(output)
    elif resume:
        folder = launcher.latest_output(loaded)
    else:
        folder = launcher.default_output(loaded)
    options = launcher.DeviceOptions(virtual_gpus, virtual_gpu_memory_mb)
    return run_and_summarise(loaded, folder, resume=resume, options=options)


def run_and_summarise(
    loaded: Suite,
    folder: Path,
    *,
    resume: bool = False,
    options: launcher.DeviceOptions | None = None,
    spawn: launcher.Spawner = launcher.spawn_worker,
    emit: Callable[[str], None] = print,
) -> int:
    """Run the suite, write and print its summary; the exit code is 1 when a cell run failed."""
    outcome = launcher.run_suite(
        loaded,
        folder,
        resume=resume,
        options=options or launcher.DeviceOptions(),
        spawn=spawn,
        emit=emit,
    )
    table = summary_table(outcome.records)
    (outcome.folder / SUMMARY_FILE).write_text(table + "\n", encoding="utf-8")
    emit("")
    emit(table)
    # The run ends on its answer: the paired estimate of the claim, and how to see the rest.
    emit("")
    emit(claim_headline(outcome.records, run_folder=outcome.folder))
    emit(f"\nresults: {outcome.results_path}")
    if outcome.failed:
        emit(f"{len(outcome.failed)} cell run(s) failed; see their records and {outcome.logs}")
    return outcome.exit_code
