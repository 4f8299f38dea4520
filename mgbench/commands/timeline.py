"""``mgbench timeline SUITE --cell ID`` (once ``mgbench profile``): one cell's steps under TF's
profiler, where the time goes.

The cell runs in a fresh worker process (devices must be set up before TensorFlow starts), as a
suite with ``timeline = true`` runs each of its cells after the measured ones; the record goes to
``profiles.jsonl`` in the output folder and the trace stays there for TensorBoard.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from mgbench.commands import flags
from mgbench.config import suite
from mgbench.execution import launcher
from mgbench.platform import hardware
from mgbench.records.run_folder import RunFolder
from mgbench.vocabulary import deprecated

NAME = "timeline"
ALIASES = ("profile",)  # its first name, still read
HELP = (
    "run one cell's steps under TF's profiler: where the time goes, per device ('profile' is "
    "its old name)"
)


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", help="a suite TOML file")
    parser.add_argument("--cell", required=True, help="the cell id, as the run prints it")
    parser.add_argument("--steps", type=int, help="steps under the profiler (default: the suite's)")
    parser.add_argument("--output", help="folder for the record and the trace")
    flags.add_virtual_gpus(parser)


def run_from_args(args: argparse.Namespace) -> int:
    if args.command in ALIASES:
        deprecated(f"mgbench {args.command}", f"mgbench {NAME}")
    return timeline_command(
        args.suite,
        args.cell,
        output=args.output,
        steps=args.steps,
        virtual_gpus=args.virtual_gpus,
        virtual_gpu_memory_mb=args.virtual_gpu_memory_mb,
    )


def timeline_command(
    suite_path: str,
    cell_id: str,
    *,
    output: str | None = None,
    steps: int | None = None,
    virtual_gpus: int = 0,
    virtual_gpu_memory_mb: int = flags.DEFAULT_VIRTUAL_GPU_MEMORY_MB,
    spawn: launcher.Spawner = launcher.spawn_worker,
    emit: Callable[[str], None] = print,
) -> int:
    """One isolated cell's timeline; 0 when its record was written, 1 when it failed."""
    from mgbench.analysis.timeline import summarise_timeline
    from mgbench.present.timeline import format_timeline

    cpu_only = hardware.gpu_count() == 0 and not virtual_gpus
    loaded = suite.load_suite(suite_path, cpu_only=cpu_only)
    cells = {cell.cell_id: cell for cell in loaded.cells() if not cell.paired}
    if cell_id not in cells:
        raise ValueError(
            f"{suite_path}: no isolated cell {cell_id!r} to take a timeline of; its cells: "
            f"{', '.join(cells) or 'none'}"
        )
    if steps is not None and steps < 1:
        raise ValueError(f"--steps must be at least 1, got {steps}")
    # A folder of its own beside the suite's runs, named as they are.
    folder = Path(output) if output else RunFolder.new(f"{loaded.name}-timeline").path
    folder.mkdir(parents=True, exist_ok=True)
    (record,) = launcher.run_timelines(
        [cells[cell_id]],
        folder,
        steps=steps or loaded.settings.timeline_steps,
        options=launcher.DeviceOptions(virtual_gpus, virtual_gpu_memory_mb),
        spawn=spawn,
        emit=emit,
    ) or (None,)
    if record is None:
        emit(f"{cell_id} already has a timeline in {RunFolder(folder).timelines}; nothing to do")
        return 0
    if record.status != "ok" or record.timeline is None:
        emit(f"{cell_id}: {record.status}: {record.reason}")
        return 0 if record.status == "skipped" else 1
    cell = record.cell
    title = (
        f"Where the time goes: {cell.model} {cell.image_size}px b{cell.batch_per_replica} "
        f"{cell.strategy} x{cell.replicas} ({cell.backend})"
    )
    emit("")
    emit(format_timeline(summarise_timeline(record.timeline), title))
    emit(f"\ntimeline record: {RunFolder(folder).timelines}")
    return 0
