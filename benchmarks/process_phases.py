"""Where a paired process's time goes, phase by phase: runs a suite's paired processes, and
tabulates the median of each phase over run folders, before and after a change of the harness.

Run: a suite's paired cells (by default ``suites/imagenet.toml``'s, under its ``[cpu]``
profile: the cells ``mgbench run`` would run there), each in a fresh worker process as ``mgbench
run`` starts it, one process at a time, the models taking turns (ResNet50, MobileNetV2,
ResNet50, ...) so that a drift of the machine spreads over both; every record is appended to
``OUTPUT/results.jsonl`` as its process ends (``--resume`` goes on with a folder, skipping
processes already recorded ok).

Table: per cell, the median seconds of each phase (``mgbench.trackers.phases``; ``exit`` is the
wall time beyond the recorded phases) and of the process's wall time, over the ok processes of
the ``--before`` folders and of the ``--after`` folders, side by side; then, per strategy, the
median first step and the median of its rounds' median steps (what a cut must leave as it was).
Only records with the process's phases measured from its creation count (older ones lack
``interpreter_and_imports``).

Warm-up: the rule of ``mgbench.analysis.warmup`` over run folders' paired processes, per model:
is round 0 slower than the later rounds, and how many warm-up steps the data say are needed.

    python benchmarks/process_phases.py run --output /tmp/phases-before --repeats 4
    python benchmarks/process_phases.py table --before /tmp/phases-before --after /tmp/phases-after
    python benchmarks/process_phases.py warmup results/imagenet/*-vm
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def paired_cells(suite_path: Path, profile: str, models: Sequence[str] | None) -> list[Any]:
    """The suite's paired cells under ``profile`` (``cpu`` or ``default``), those of ``models``
    when given, in the suite's order."""
    from mgbench.config.suite import load_suite

    suite = load_suite(suite_path, cpu_only=profile == "cpu")
    cells = [c for c in suite.cells() if c.paired and (not models or c.model in models)]
    if not cells:
        of = f" of {', '.join(models)}" if models else ""
        raise SystemExit(f"{suite_path}: no paired cell{of}")
    return cells


def run(args: argparse.Namespace) -> None:
    from worker_runs import WorkerRun

    measured = WorkerRun(args.output, "process-phases", args.profile, args, resume=args.resume)
    done = measured.finished()
    cells = paired_cells(args.suite, args.profile, args.models)
    for repeat in range(args.repeats):
        for cell in cells:  # the models take turns
            if (cell.cell_id, repeat) in done:
                continue
            record = measured.measure(cell, repeat)
            print(
                f"[{repeat + 1}/{args.repeats}] {cell.cell_id}: {record.status} "
                f"({record.wall_s:.1f} s)",
                flush=True,
            )


def _records(folders: Sequence[Path], started_after: str | None = None) -> list[Any]:
    """The paired records of ``folders``; those started at or after ``started_after`` (an ISO
    time, as records write it) when given."""
    from mgbench.records import store
    from mgbench.records.run_folder import RunFolder

    return [
        record
        for folder in folders
        for record in store.read_records(RunFolder(folder).results)
        if record.cell.paired
        and (started_after is None or (record.started_at or "") >= started_after)
    ]


def table(before: Sequence[Path], after: Sequence[Path], started_after: str | None = None) -> str:
    """Per cell: each phase's median before and after, and the change (processes started at or
    after ``started_after`` only, when given)."""
    from tabulate import tabulate

    from mgbench.analysis.phases import median_phases_s
    from mgbench.records import environment

    groups = {"before": _records(before, started_after), "after": _records(after, started_after)}
    cell_ids = dict.fromkeys(r.cell_id for records in groups.values() for r in records)
    lines = []
    machines = [r for records in groups.values() for r in records]
    if machines:
        lines += [f"Median seconds per phase; machine: {environment.machine_label(machines)}", ""]
    for cell_id in cell_ids:
        medians = {
            name: median_phases_s(r for r in records if r.cell_id == cell_id)
            for name, records in groups.items()
        }
        if not any(count for count, _ in medians.values()):
            continue  # no process of it recorded its phases
        names = dict.fromkeys(n for _, m in medians.values() for n in m)
        rows = []
        for name in names:
            was, now = (medians[g][1].get(name) for g in ("before", "after"))
            change = "" if was is None or now is None else f"{now - was:+.2f}"
            rows.append([name, _seconds(was), _seconds(now), change])
        rows += _strategy_rows(
            {g: [r for r in records if r.cell_id == cell_id] for g, records in groups.items()}
        )
        counts = ", ".join(f"{g} {medians[g][0]} process(es)" for g in medians)
        lines += [f"{cell_id} ({counts})", ""]
        lines.append(
            tabulate(
                rows,
                headers=["phase", "before s", "after s", "after - before s"],
                tablefmt="github",
                disable_numparse=True,
            )
        )
        lines.append("")
    return "\n".join(lines)


def _strategy_rows(groups: dict[str, list[Any]]) -> list[list[str]]:
    """Per strategy, the median over processes of its first step and of its rounds' median step
    (what the cuts must leave as they were), before and after; processes with phases only."""
    import statistics

    from mgbench.analysis.phases import process_phases_s

    measured = {
        g: [r.paired for r in records if r.ok and process_phases_s(r) is not None]
        for g, records in groups.items()
    }
    strategies = dict.fromkeys(s for each in measured.values() for p in each for s in p.strategies)
    rows = []
    for what in ("first step", "round step"):
        for name in strategies:
            values = []
            for group in ("before", "after"):
                seconds = [
                    p.first_steps_s[p.strategies.index(name)]
                    if what == "first step"
                    else statistics.median(
                        t for r in p.rounds for t in r.blocks[p.strategies.index(name)]
                    )
                    for p in measured[group]
                    if name in p.strategies
                ]
                values.append(statistics.median(seconds) if seconds else None)
            was, now = values
            change = "" if was is None or now is None else f"{now - was:+.3f}"
            rows.append([f"({what}, {name})", _seconds(was, 3), _seconds(now, 3), change])
    return rows


def warmup_table(folders: Sequence[Path]) -> str:
    """Per model and warm-up: round 0's excess over the steady pace and the steps needed."""
    from tabulate import tabulate

    from mgbench.analysis.warmup import TOLERANCE_PCT, steps_needed, warmup_check

    records = [r for r in _records(folders) if r.ok]
    rows = []
    for model, warmup in dict.fromkeys((r.cell.model, r.cell.warmup_steps) for r in records):
        check = warmup_check(
            r for r in records if r.cell.model == model and r.cell.warmup_steps == warmup
        )
        needed = steps_needed(check)
        steps = ", ".join(f"{pct:+.1f}%" for pct in check.warmup_excess_pct)
        rows.append(
            [
                model,
                warmup,
                check.processes,
                f"{check.round0_excess_pct:+.1f}%",
                f"{check.round0_p_value:.3g}",
                steps or "not recorded",
                f"{warmup}, none to cut (round 0 slower)" if needed is None else needed,
            ]
        )
    headers = [
        "model",
        "warm-up steps",
        "processes",
        "round 0 vs later",
        "p (slower)",
        "warm-up steps vs later",
        "steps needed",
    ]
    return "\n".join(
        [
            f"Round 0 and each warm-up step against the later rounds' pace (median over "
            f"processes; at the pace within {TOLERANCE_PCT:g}%)",
            "",
            tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True),
        ]
    )


def _seconds(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    running = commands.add_parser("run", help="run the suite's paired processes")
    running.add_argument("--suite", type=Path, default=Path("suites/imagenet.toml"))
    running.add_argument("--profile", choices=("cpu", "default"), default="cpu")
    running.add_argument("--models", nargs="*", help="only these models' paired cells")
    running.add_argument("--repeats", type=int, default=3, help="processes per cell")
    running.add_argument("--output", type=Path, required=True, help="run folder (e.g. under /tmp)")
    running.add_argument("--resume", action="store_true", help="go on with --output")
    tabulating = commands.add_parser("table", help="medians per phase, before and after")
    tabulating.add_argument("--before", type=Path, nargs="+", required=True)
    tabulating.add_argument("--after", type=Path, nargs="*", default=[])
    tabulating.add_argument("--write", type=Path, help="also write the table to this file")
    tabulating.add_argument(
        "--started-after",
        help="only processes started at or after this time (ISO, e.g. 2026-12-07T04:23:00+00:00)",
    )
    checking = commands.add_parser("warmup", help="the warm-up rule over run folders")
    checking.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "run":
        run(args)
        return
    if args.command == "warmup":
        print(warmup_table(args.folders))
        return
    text = table(args.before, args.after, args.started_after)
    if args.write:
        args.write.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
