"""What one paired process of k strategies costs against processes of two: prints numbers.

A suite whose comparisons hold k > 2 wrappers runs one process holding them all instead of one
process per comparison. This measures what that saves: each repeat runs, each in a fresh worker
process as ``mgbench run`` does (same rounds and block_steps everywhere):

* the processes of two the comparisons would need, the first strategy against each other one
  (``inplace,wholebatch,concat``: inplace-vs-wholebatch and inplace-vs-concat);
* with three strategies or more, the one process holding them all.

Per process it prints the wall time and its phases, taken from the record: *set-up* (interpreter,
TensorFlow, devices, building and compiling, writing the result: the wall time less the rest),
*first steps* (tracing, each strategy's), *warm-up* (not recorded: warm-up steps x each
strategy's median timed step) and *timed rounds* (every timed step); then the two-way processes'
total against the k-way process's. Every record is kept in ``OUTPUT/results.jsonl``.

On a CPU host and default device coincide (DESIGN.md fact 5): the times are the harness's costs,
not evidence about the splits.

    python benchmarks/paired_cost.py --strategies inplace,concat [--repeats 1]
    python benchmarks/paired_cost.py --strategies inplace,wholebatch,concat [--repeats 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
from pathlib import Path
from typing import Any


def paired_cell(strategies: tuple[str, ...], args: argparse.Namespace) -> Any:
    from mgbench.config.suite import Cell

    return Cell(
        model=args.model,
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


def cells(strategies: tuple[str, ...], args: argparse.Namespace) -> tuple[list[Any], Any]:
    """The two-way cells (the first strategy against each other one) and the k-way cell (None
    for two strategies: it is the two-way one)."""
    first, *others = strategies
    two_way = [paired_cell((first, other), args) for other in others]
    return two_way, paired_cell(strategies, args) if len(strategies) > 2 else None


def phases(record: Any) -> dict[str, float]:
    """A paired process's wall time split as the module says."""
    paired = record.paired
    blocks = [
        [t for r in paired.rounds for t in r.blocks[i]] for i in range(len(paired.strategies))
    ]
    first = sum(paired.first_steps_s)
    warmup = record.cell.warmup_steps * sum(statistics.median(each) for each in blocks)
    rounds = sum(sum(each) for each in blocks)
    return {
        "wall": record.wall_s,
        "set-up": record.wall_s - first - warmup - rounds,
        "first steps": first,
        "warm-up (est.)": warmup,
        "timed rounds": rounds,
    }


def run(args: argparse.Namespace, output: Path) -> None:
    from mgbench.execution.launcher import DeviceOptions, spawn_worker
    from mgbench.records import environment, store
    from mgbench.records.record import Record, RunContext
    from mgbench.records.run_folder import RunFolder

    folder = RunFolder(output)
    output.mkdir(parents=True, exist_ok=False)
    folder.logs.mkdir()
    context = RunContext("paired-cost", "cpu", output.name, environment.host_environment())
    folder.run_info.write_text(
        json.dumps({"argv": sys.argv, "args": vars(args)}, indent=2, default=str) + "\n",
        encoding="utf-8",
    )
    two_way, k_way = cells(tuple(args.strategies.split(",")), args)
    for repeat in range(args.repeats):
        order = [*two_way, *([k_way] if k_way else [])]
        if repeat % 2:  # alternate which kind runs first, so drift spreads over both
            order.reverse()
        for cell in order:
            started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            outcome = spawn_worker(cell, DeviceOptions(), folder.log(cell.cell_id, repeat))
            record = Record.from_payload(
                cell, repeat, outcome.payload, context, started_at=started_at, wall_s=outcome.wall_s
            )
            store.append_record(folder.results, record)
            print(
                f"[{repeat + 1}/{args.repeats}] {cell.cell_id}: {record.status} "
                f"({outcome.wall_s:.1f} s)",
                flush=True,
            )


def table(folder: Path) -> str:
    from tabulate import tabulate

    from mgbench.records import environment, store
    from mgbench.records.run_folder import RunFolder

    records = [r for r in store.read_records(RunFolder(folder).results) if r.ok]
    if not records:
        return f"{folder}: no successful process"
    names = list(phases(records[0]))
    rows = [[r.cell_id, r.repeat, *(f"{phases(r)[n]:.1f}" for n in names)] for r in records]
    lines = [
        f"Paired processes, seconds; machine: {environment.machine_label(records)}",
        "",
        tabulate(
            rows, headers=["process", "repeat", *names], tablefmt="github", disable_numparse=True
        ),
    ]
    walls: dict[str, list[float]] = {}
    for record in records:
        kind = "k-way" if record.cell.also else "two-way"
        walls.setdefault(f"{kind} {record.repeat}", []).append(record.wall_s)
    lines.append("")
    for repeat in sorted({r.repeat for r in records}):
        two = walls.get(f"two-way {repeat}", [])
        k = walls.get(f"k-way {repeat}", [])
        line = f"repeat {repeat}: {len(two)} two-way process(es) {sum(two):.1f} s"
        if k and two:
            line += f", one k-way process {sum(k):.1f} s ({sum(k) / sum(two):.2f} of the two-way)"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default="inplace,concat")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--model", default="MobileNetV2")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-per-replica", type=int, default=8)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--block-steps", type=int, default=5)
    parser.add_argument("--timeout-s", type=float, default=600.0)
    parser.add_argument("--output", type=Path, help="run folder (default results/paired-cost/...)")
    parser.add_argument("--from", dest="existing", type=Path, help="only tabulate this folder")
    args = parser.parse_args()
    if len(args.strategies.split(",")) < 2:
        parser.error("--strategies: two or more, comma-separated")
    from mgbench.records.run_folder import RunFolder

    folder = args.existing
    if folder is None:
        folder = args.output or RunFolder.new("paired-cost").path
        run(args, folder)
    text = table(folder)
    (folder / "paired-cost.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
