"""What the benchmark scripts that run paired worker processes share: the flags of a paired
cell, the cell itself, and a run folder whose processes run one at a time (a fresh worker
process each, as ``mgbench run`` does), every record appended the moment its process ends."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any


def add_paired_arguments(
    parser: argparse.ArgumentParser, *, rounds: int, warmup_steps: int
) -> None:
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--block-steps", type=int, default=5)
    parser.add_argument("--warmup-steps", type=int, default=warmup_steps)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-per-replica", type=int, default=8)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--timeout-s", type=float, default=600.0)


def paired_cell(model: str, strategies: tuple[str, ...], args: argparse.Namespace) -> Any:
    """One paired process of ``strategies`` (two, or more over one template) on ``model``."""
    from mgbench.config.suite import Cell

    return Cell(
        model=model,
        image_size=args.image_size,
        classes=10,
        batch_per_replica=args.batch_per_replica,
        strategy=strategies[0],
        replicas=args.replicas,
        warmup_steps=args.warmup_steps,
        timed_steps=0,
        input="host",
        weights="cpu",
        dtype="float32",
        timeout_s=args.timeout_s,
        placement=False,
        versus=strategies[1],
        also=strategies[2:],
        rounds=args.rounds,
        block_steps=args.block_steps,
    )


class WorkerRun:
    """A new run folder at ``output`` (refused if it exists) for ``suite``'s processes, or, with
    ``resume``, an existing one whose ``run.json`` gains a ``resumed`` entry (argv and time) so
    the folder says which of its records came later."""

    def __init__(
        self,
        output: Path,
        suite: str,
        profile: str,
        args: argparse.Namespace,
        *,
        resume: bool = False,
    ):
        from mgbench.records import environment
        from mgbench.records.record import RunContext
        from mgbench.records.run_folder import RunFolder

        self.folder = RunFolder(output)
        self.context = RunContext(suite, profile, output.name, environment.host_environment())
        if resume:
            info = json.loads(self.folder.run_info.read_text(encoding="utf-8"))
            now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            info.setdefault("resumed", []).append({"argv": sys.argv, "at": now})
            self.folder.run_info.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
            return
        output.mkdir(parents=True, exist_ok=False)
        self.folder.logs.mkdir()
        self.folder.run_info.write_text(
            json.dumps({"argv": sys.argv, "args": vars(args)}, indent=2, default=str) + "\n",
            encoding="utf-8",
        )

    def finished(self) -> set[tuple[str, int]]:
        """(cell id, repeat) of every process already recorded ``ok`` in this folder."""
        from mgbench.records import store

        if not self.folder.results.exists():
            return set()
        return {
            (record.cell_id, record.repeat)
            for record in store.read_records(self.folder.results)
            if record.status == "ok"
        }

    def measure(self, cell: Any, repeat: int) -> Any:
        """Run ``cell`` once in a fresh worker process; its record, already appended."""
        from mgbench.execution.launcher import DeviceOptions, spawn_worker
        from mgbench.records import store
        from mgbench.records.record import Record

        started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        outcome = spawn_worker(cell, DeviceOptions(), self.folder.log(cell.cell_id, repeat))
        record = Record.from_payload(
            cell,
            repeat,
            outcome.payload,
            self.context,
            started_at=started_at,
            wall_s=outcome.wall_s,
        )
        store.append_record(self.folder.results, record)
        return record
