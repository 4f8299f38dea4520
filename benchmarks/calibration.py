"""A/A calibration of the paired comparison: how often does its CI contain the true value 0?

Runs the same paired comparison N times, each time in ``--processes`` fresh worker processes (the
way `mgbench run` does), and prints per configuration the fraction of 95% CIs that contain 0,
with a Wilson interval for that fraction. Each CI is the one the reports print: with several
processes per repeat, `mgbench.analysis.paired.estimate` over them (trimmed mean per process, t
over processes); with one, the t-interval over its rounds. Where the true difference is exactly
0 that fraction should be about the CI's level:

* ``inplace`` against ``inplace`` (the same strategy twice over one template): 0 by construction;
* ``inplace`` against ``concat`` on a CPU: host and default device are both CPU:0, so the two
  splits run the same ops; for models whose steps take tens of milliseconds (ResNet50,
  MobileNetV2) the per-step overhead of the dynamic slice is negligible. Not for tiny models.

Every process's record is kept in ``OUTPUT/results.jsonl`` (a real run folder, labelled with the
machine), so the table can be recomputed with ``--from OUTPUT``.

    python benchmarks/calibration.py --repeats 10 [--rounds 30] [--configs aa-MobileNetV2,...]
    python benchmarks/calibration.py --repeats 20 --processes 3 --rounds 10 \
        --configs aa-MobileNetV2,MobileNetV2:10      # MobileNetV2 in the first 10 repeats only

An interrupted run goes on with ``--resume OUTPUT``: the arguments come from its ``run.json``
and every process already recorded ``ok`` is skipped.

A process's record has ``repeat = r * processes + k`` (repeat r, its k-th process), so
``--from`` regroups them by the ``processes`` the run recorded in ``run.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

CONFIGS = {
    # name: (model, strategy A, strategy B)
    "aa-MobileNetV2": ("MobileNetV2", "inplace", "inplace"),
    "MobileNetV2": ("MobileNetV2", "inplace", "concat"),
    "ResNet50": ("ResNet50", "inplace", "concat"),
}


def parse_configs(text: str, repeats: int) -> dict[str, int]:
    """``name[:count],...`` -> {name: repeats it runs in (the first ``count``, else all)}."""
    chosen: dict[str, int] = {}
    for item in (part for part in text.split(",") if part):
        name, _, count = item.partition(":")
        if name not in CONFIGS:
            raise ValueError(f"unknown configuration {name!r}; known: {', '.join(CONFIGS)}")
        if count and not (count.isdigit() and 0 < int(count) <= repeats):
            raise ValueError(f"{item!r}: the count must be a whole number in 1..{repeats}")
        chosen[name] = int(count) if count else repeats
    if not chosen:
        raise ValueError("no configuration given")
    return chosen


def run(args: argparse.Namespace, output: Path, *, resume: bool = False) -> None:
    from worker_runs import WorkerRun, paired_cell

    measured = WorkerRun(output, "calibration", "default", args, resume=resume)
    done = measured.finished()
    chosen = parse_configs(args.configs, args.repeats)
    # Interleaved: process k of repeat r of every configuration before the next, so drift
    # spreads evenly over configurations and processes.
    for repeat in range(args.repeats):
        for k in range(args.processes):
            for name, count in chosen.items():
                if repeat >= count:
                    continue
                model, a, b = CONFIGS[name]
                cell = paired_cell(model, (a, b), args)
                if (cell.cell_id, repeat * args.processes + k) in done:
                    continue
                record = measured.measure(cell, repeat * args.processes + k)
                print(
                    f"[{repeat + 1}/{args.repeats}, process {k + 1}/{args.processes}] {name}: "
                    f"{record.status} ({record.wall_s:.0f} s)",
                    flush=True,
                )


def recorded_processes(folder: Path) -> int:
    """Processes per repeat as the run recorded them (1 for runs made before the flag)."""
    from mgbench.records.run_folder import RunFolder

    info = json.loads(RunFolder(folder).run_info.read_text(encoding="utf-8"))
    return int(info.get("args", {}).get("processes", 1))


def table(folder: Path, alpha: float) -> str:
    from scipy import stats as sps
    from tabulate import tabulate

    from mgbench.analysis import paired
    from mgbench.records import environment, store
    from mgbench.records.run_folder import RunFolder

    records = store.read_records(RunFolder(folder).results)
    per_repeat = recorded_processes(folder)
    processes: dict[str, dict[int, list[list[float]]]] = {}
    for record in records:
        if record.status != "ok" or record.paired is None:
            continue
        ratios = [paired.round_log_ratio(r.a_step_s, r.b_step_s) for r in record.paired.rounds]
        by_repeat = processes.setdefault(record.cell_id, {})
        by_repeat.setdefault(record.repeat // per_repeat, []).append(ratios)
    rows = []
    for cell_id, by_repeat in processes.items():
        # A repeat that lost a process is left out: its CI would not be the one planned.
        complete = [groups for groups in by_repeat.values() if len(groups) == per_repeat]
        estimates = [paired.estimate(groups, alpha) for groups in complete]
        if not estimates:
            continue
        covered = sum(e.ci_pct[0] <= 0 <= e.ci_pct[1] for e in estimates)
        wilson = sps.binomtest(covered, len(estimates)).proportion_ci(0.95, method="wilson")
        halves = [e.half_width_pct for e in estimates]
        rows.append(
            [
                cell_id,
                len(estimates),
                f"{per_repeat} x {estimates[0].rounds // per_repeat}",
                f"{covered}/{len(estimates)}",
                f"{covered / len(estimates):.0%}",
                f"{wilson.low:.2f}-{wilson.high:.2f}",
                f"{statistics.median(halves):.1f}",
                f"{min(halves):.1f}-{max(halves):.1f}",
                f"{statistics.median(e.speedup_pct for e in estimates):+.1f}",
            ]
        )
    headers = [
        "paired cell",
        "CIs",
        "processes x rounds each",
        "CIs containing 0",
        "fraction",
        "Wilson 95%",
        "median half-width %",
        "half-width range %",
        "median estimate %",
    ]
    machine = environment.machine_label(records)
    level = f"{1 - alpha:.0%}"
    each = "one process" if per_repeat == 1 else f"{per_repeat} processes"
    return f"Calibration, {level} CIs, {each} each; machine: {machine}\n\n" + tabulate(
        rows, headers=headers, tablefmt="github", disable_numparse=True
    )


def main() -> None:
    from worker_runs import add_paired_arguments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--processes", type=int, default=1, help="paired processes per CI")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    add_paired_arguments(parser, rounds=30, warmup_steps=3)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--output", type=Path, help="run folder (default results/calibration/...)")
    parser.add_argument("--from", dest="existing", type=Path, help="only tabulate this folder")
    parser.add_argument(
        "--resume", type=Path, help="go on with this run folder (its arguments; ok processes kept)"
    )
    args = parser.parse_args()
    if args.resume is not None:
        recorded = json.loads((args.resume / "run.json").read_text(encoding="utf-8"))["args"]
        resume_folder = args.resume
        vars(args).update(recorded)
        args.resume = resume_folder
    if args.repeats < 1 or args.processes < 1:
        parser.error("--repeats and --processes must be at least 1")
    try:
        parse_configs(args.configs, args.repeats)
    except ValueError as error:
        parser.error(str(error))
    from mgbench.records.run_folder import RunFolder

    folder = args.existing
    if args.resume is not None:
        folder = args.resume
        run(args, folder, resume=True)
    elif folder is None:
        folder = args.output or RunFolder.new("calibration").path
        run(args, folder)
    text = table(folder, args.alpha)
    (folder / "calibration.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
