"""A/A calibration of the paired comparison: how often does its CI contain the true value 0?

Runs the same paired comparison N times, each in a fresh worker process (the way `mgbench run`
does), and prints per configuration the fraction of 95% CIs (one process each: the t-interval
over its rounds) that contain 0. Where the true difference is exactly 0 that fraction should be
about the CI's level:

* ``inplace`` against ``inplace`` (the same strategy twice over one template): 0 by construction;
* ``inplace`` against ``concat`` on a CPU: host and default device are both CPU:0, so the two
  splits run the same ops; for models whose steps take tens of milliseconds (ResNet50,
  MobileNetV2) the per-step overhead of the dynamic slice is negligible. Not for tiny models.

Every process's record is kept in ``OUTPUT/results.jsonl`` (a real run folder, labelled with the
machine), so the table can be recomputed with ``--from OUTPUT``.

    python benchmarks/calibration.py --repeats 10 [--rounds 30] [--configs aa-MobileNetV2,...]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

CONFIGS = {
    # name: (model, strategy A, strategy B)
    "aa-MobileNetV2": ("MobileNetV2", "inplace", "inplace"),
    "MobileNetV2": ("MobileNetV2", "inplace", "concat"),
    "ResNet50": ("ResNet50", "inplace", "concat"),
}


def run(args: argparse.Namespace, output: Path) -> None:
    from worker_runs import WorkerRun, paired_cell

    measured = WorkerRun(output, "calibration", "default", args)
    names = args.configs.split(",")
    # Interleaved: repeat r of every configuration before repeat r + 1, so drift spreads evenly.
    for repeat in range(args.repeats):
        for name in names:
            model, a, b = CONFIGS[name]
            record = measured.measure(paired_cell(model, (a, b), args), repeat)
            print(f"[{repeat + 1}/{args.repeats}] {name}: {record.status} ({record.wall_s:.0f} s)")


def table(folder: Path, alpha: float) -> str:
    from tabulate import tabulate

    from mgbench.analysis import paired
    from mgbench.records import environment, store
    from mgbench.records.run_folder import RunFolder

    records = store.read_records(RunFolder(folder).results)
    groups: dict[str, list[paired.PairedEstimate]] = {}
    for record in records:
        if record.status != "ok" or record.paired is None:
            continue
        ratios = [paired.round_log_ratio(r.a_step_s, r.b_step_s) for r in record.paired.rounds]
        groups.setdefault(record.cell_id, []).append(paired.estimate([ratios], alpha))
    rows = []
    for cell_id, estimates in groups.items():
        covered = sum(e.ci_pct[0] <= 0 <= e.ci_pct[1] for e in estimates)
        halves = [e.half_width_pct for e in estimates]
        rows.append(
            [
                cell_id,
                len(estimates),
                estimates[0].rounds,
                f"{covered}/{len(estimates)}",
                f"{covered / len(estimates):.0%}",
                f"{statistics.median(halves):.1f}",
                f"{min(halves):.1f}-{max(halves):.1f}",
                f"{statistics.median(e.speedup_pct for e in estimates):+.1f}",
            ]
        )
    headers = [
        "paired cell",
        "processes",
        "rounds each",
        "CIs containing 0",
        "fraction",
        "median half-width %",
        "half-width range %",
        "median estimate %",
    ]
    machine = environment.machine_label(records)
    level = f"{1 - alpha:.0%}"
    return f"Calibration, {level} CIs, one process each; machine: {machine}\n\n" + tabulate(
        rows, headers=headers, tablefmt="github", disable_numparse=True
    )


def main() -> None:
    from worker_runs import add_paired_arguments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    add_paired_arguments(parser, rounds=30, warmup_steps=3)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--output", type=Path, help="run folder (default results/calibration/...)")
    parser.add_argument("--from", dest="existing", type=Path, help="only tabulate this folder")
    args = parser.parse_args()
    unknown = [c for c in args.configs.split(",") if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration {unknown[0]!r}; known: {', '.join(CONFIGS)}")
    from mgbench.records.run_folder import RunFolder

    folder = args.existing
    if folder is None:
        folder = args.output or RunFolder.new("calibration").path
        run(args, folder)
    text = table(folder, args.alpha)
    (folder / "calibration.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
