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
import statistics
from pathlib import Path
from typing import Any


def cells(strategies: tuple[str, ...], args: argparse.Namespace) -> tuple[list[Any], Any]:
    """The two-way cells (the first strategy against each other one) and the k-way cell (None
    for two strategies: it is the two-way one)."""
    first, *others = strategies
    from worker_runs import paired_cell

    two_way = [paired_cell(args.model, (first, other), args) for other in others]
    return two_way, paired_cell(args.model, strategies, args) if len(strategies) > 2 else None


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
    from worker_runs import WorkerRun

    measured = WorkerRun(output, "paired-cost", "cpu", args)
    two_way, k_way = cells(tuple(args.strategies.split(",")), args)
    for repeat in range(args.repeats):
        order = [*two_way, *([k_way] if k_way else [])]
        if repeat % 2:  # alternate which kind runs first, so drift spreads over both
            order.reverse()
        for cell in order:
            record = measured.measure(cell, repeat)
            print(
                f"[{repeat + 1}/{args.repeats}] {cell.cell_id}: {record.status} "
                f"({record.wall_s:.1f} s)",
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
    from worker_runs import add_paired_arguments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default="inplace,concat")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--model", default="MobileNetV2")
    add_paired_arguments(parser, rounds=20, warmup_steps=2)
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
