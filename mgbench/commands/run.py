"""``mgbench run``: load a suite, pick the profile and run folder, run it, print the summary.

``--plan`` prints the run's estimate instead (:mod:`mgbench.analysis.plan`), with per-phase costs
from an earlier run of the suite on this machine (``--plan-from RUN``, or the newest matching one
under ``results/<suite>/``) or stated defaults, and the paired cells' rounds and processes by
variance component (:mod:`mgbench.analysis.allocation`). ``--deadline MINUTES`` runs that
allocation within the deadline (the chosen rounds and processes replace the suite's for paired
cells, and ``suite.json`` records them; not with ``--pairs``), with the same estimates deciding
whether the next process still fits. A run until decided lends its paired cells' futility the
spread of the same earlier run (:func:`futility_priors`), so a comparison that run showed
hopeless stops at the first look.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mgbench.analysis.claim import DEFAULT_CLAIMS, Claims
from mgbench.commands import flags
from mgbench.config import slurm, suite
from mgbench.config.suite import Cell, Suite
from mgbench.execution import executors, launcher
from mgbench.platform import hardware
from mgbench.records import environment, store
from mgbench.records.record import Record
from mgbench.records.run_folder import RESULTS_ROOT, RunFolder
from mgbench.records.timelines import read_timelines
from mgbench.vocabulary import DeviceMode

if TYPE_CHECKING:
    from mgbench.analysis.allocation import RunAllocation
    from mgbench.analysis.plan import EarlierRun, MachineHere, Noise, RunPlan
    from mgbench.analysis.sequential import PriorSpread

    # Per paired cell id, per (A, B): what an earlier run lends futility.
    FutilityPriors = Mapping[str, Mapping[tuple[str, str], PriorSpread]]

PROFILES = ("auto", "default", "cpu")  # the suite's run profile: --profile

NAME = "run"
HELP = "run a suite file: one process per cell and repeat"


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", help="a suite TOML file, e.g. suites/imagenet.toml")
    parser.add_argument("--output", help="run folder (default results/<suite>/<time>-<host>)")
    parser.add_argument(
        "--resume", action="store_true", help="continue a run without redoing recorded cells"
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=PROFILES[0],
        help="'auto' applies the suite's [cpu] profile when no GPU is found",
    )
    parser.add_argument(
        "--models", type=flags.name_list, help="only these models, comma-separated (e.g. ResNet50)"
    )
    parser.add_argument(
        "--replicas", type=flags.int_list, help="only these replica counts, comma-separated"
    )
    parser.add_argument(
        "--repeats", type=int, help="processes per cell (>= 4 for a U test to reach p < 0.05)"
    )
    parser.add_argument(
        "--pairs",
        type=int,
        help="paired processes per paired cell (its strategies, two or more, in one process, "
        "in turn; a cell of more gives every pair of them); with --until-decided, the most",
    )
    parser.add_argument(
        "--until-decided",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run each paired cell's processes until its comparisons are decided (a look after "
        "each from the second, a group-sequential design whose intervals are adjusted for the "
        "looks), at most --pairs; the rest are recorded as skipped, not needed (default: the "
        "suite's until_decided)",
    )
    _plan_arguments(parser)
    parser.add_argument(
        "--executor",
        choices=executors.EXECUTORS,
        default=executors.EXECUTORS[0],
        help="where each worker process starts: a child of this process (local), one "
        "submitit job per process on this machine (submitit-local), or one Slurm job per "
        "process on a whole node (slurm; the run folder must be on a shared file system); "
        "one at a time",
    )
    _slurm_arguments(parser)
    flags.add_virtual_gpus(parser)
    flags.add_claim(parser)


def _plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print the cells, processes, per-phase costs, estimated wall time and the paired CI "
        "half-width to expect; run nothing",
    )
    parser.add_argument(
        "--plan-from",
        metavar="RUN",
        help="per-phase costs for --plan/--deadline, and the spread a run until decided judges "
        "futility with, from this run folder (default: the newest run of the suite under "
        "results/<suite>/ made on this machine, else stated defaults)",
    )
    parser.add_argument(
        "--deadline",
        type=flags.minutes,
        metavar="MINUTES",
        help="fit the run in MINUTES: the paired cells' rounds and processes are chosen for the "
        "narrowest intervals the time allows (not with --pairs); no process starts that would "
        "not end in time, those left out are recorded as skipped (--resume runs them)",
    )


def _slurm_arguments(parser: argparse.ArgumentParser) -> None:
    """``--slurm-KEY``: each overrides the ``[slurm]`` table's KEY (``slurm.FLAGS``)."""
    group = parser.add_argument_group(
        "Slurm (--executor slurm; each overrides the suite's [slurm] table)"
    )
    group.add_argument(slurm.FLAGS["partition"], metavar="NAME")
    group.add_argument(slurm.FLAGS["account"], metavar="NAME")
    group.add_argument(slurm.FLAGS["gpus_per_node"], type=int, metavar="N")
    group.add_argument(
        slurm.FLAGS["time_min"],
        type=int,
        metavar="MINUTES",
        help="each job's time limit (default: its cell's timeout + 1 min, the least allowed)",
    )
    group.add_argument(
        slurm.FLAGS["sbatch"],
        action="append",
        metavar="LINE",
        help="one more #SBATCH option, added after the table's; repeatable; write it with '=', "
        "e.g. --slurm-sbatch=--qos=high",
    )


def slurm_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--slurm-*`` flags given, keyed as in the ``[slurm]`` table."""
    given = {
        key: getattr(args, flag.removeprefix("--").replace("-", "_"))
        for key, flag in slurm.FLAGS.items()
    }
    return {key: value for key, value in given.items() if value is not None}


def run_from_args(args: argparse.Namespace) -> int:
    return run_command(
        args.suite,
        output=args.output,
        resume=args.resume,
        profile=args.profile,
        models=args.models,
        replicas=args.replicas,
        repeats=args.repeats,
        pairs=args.pairs,
        until_decided=args.until_decided,
        virtual_gpus=args.virtual_gpus,
        virtual_gpu_memory_mb=args.virtual_gpu_memory_mb,
        plan=args.plan,
        plan_from=args.plan_from,
        deadline_min=args.deadline,
        executor=args.executor,
        slurm_overrides=slurm_overrides(args),
        claims=flags.claims(args),
    )


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
    until_decided: bool | None = None,
    virtual_gpus: int = 0,
    virtual_gpu_memory_mb: int = flags.DEFAULT_VIRTUAL_GPU_MEMORY_MB,
    plan: bool = False,
    plan_from: str | None = None,
    deadline_min: float | None = None,
    executor: str = "local",
    slurm_overrides: Mapping[str, Any] | None = None,
    claims: Claims = DEFAULT_CLAIMS,
    emit: Callable[[str], None] = print,
) -> int:
    """``slurm_overrides`` maps ``[slurm]`` keys to the ``--slurm-*`` flags' values, which
    override the suite's table (only with ``executor="slurm"``); the end-of-run verdict is
    against ``claims``."""
    from mgbench.analysis.plan import plan_run
    from mgbench.present.plan import plan_line, plan_text

    if executor not in executors.EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; known: {', '.join(executors.EXECUTORS)}")
    slurm_overrides = slurm_overrides or {}
    if slurm_overrides and executor != "slurm":
        raise ValueError(f"{slurm.given_flags(slurm_overrides)[0]}: only with --executor slurm")
    if deadline_min is not None and not 0 < deadline_min < float("inf"):
        raise ValueError(f"--deadline: expected minutes > 0, got {deadline_min:g}")
    gpus = hardware.gpu_count()
    cpu_only = {"auto": None, "cpu": True, "default": False}[profile]
    if cpu_only is None:
        cpu_only = gpus == 0 and not virtual_gpus
    loaded = suite.load_suite(suite_path, cpu_only=cpu_only).select(
        models=models, replicas=replicas, repeats=repeats, pairs=pairs, until_decided=until_decided
    )
    if plan_from is not None and not (
        plan or deadline_min is not None or loaded.settings.until_decided
    ):
        raise ValueError(
            "--plan-from: only with --plan or --deadline, which use its costs, or a run until "
            "decided, whose futility uses its spread"
        )
    if loaded.settings.until_decided:
        check_design(loaded.settings.pairs)
    slurm_options = slurm_settings(loaded, slurm_overrides) if executor == "slurm" else None
    mode = device_mode(gpus, virtual_gpus)
    estimate = None
    earlier = None
    if plan or deadline_min is not None:
        earlier = earlier_run(loaded, mode, plan_from)
        estimate = plan_run(loaded, mode, earlier=earlier)
        if plan:
            allocated = _allocation_or_why(estimate, earlier, deadline_min)
            if deadline_min is not None and pairs is None and not isinstance(allocated, str):
                # What `run --deadline` would run: the suite with the allocation.
                estimate = plan_run(
                    loaded.with_allocation(allocated.overrides()), mode, earlier=earlier
                )
            emit(plan_text(estimate, deadline_min=deadline_min, allocation=allocated))
            return 0
    if output:
        folder = Path(output)
    elif resume:
        folder = launcher.latest_output(loaded)
    else:
        folder = launcher.default_output(loaded)
    if resume:  # a resumed run measures the cells it started with
        recorded = recorded_allocation(folder)
        if recorded:
            loaded = loaded.with_allocation(recorded)
    options = launcher.DeviceOptions(virtual_gpus, virtual_gpu_memory_mb)
    deadline = None
    if deadline_min is not None:
        if not resume and pairs is None:
            loaded = _allocated(loaded, mode, earlier, deadline_min, emit)
        estimate = plan_run(loaded, mode, earlier=earlier)
        emit(f"{plan_line(estimate)}; --deadline {deadline_min:g} min")
        deadline = launcher.Deadline(deadline_min, estimate.process_s)
    priors, about = _futility_source(loaded, mode, plan_from, folder, emit)
    return run_and_summarise(
        loaded,
        folder,
        resume=resume,
        options=options,
        spawn=executors.make_spawner(executor, folder, slurm_options),
        deadline=deadline,
        emit=emit,
        claims=claims,
        priors=priors,
        about=about,
    )


def _futility_source(
    loaded: Suite, mode: str, plan_from: str | None, folder: Path, emit: Callable[[str], None]
) -> tuple[FutilityPriors | None, dict[str, Any]]:
    """For a run until decided: the spreads its futility reads (from ``--plan-from`` or the
    newest other run of the suite on this machine) and what ``run.json`` keeps of them; said
    in one line."""
    if not loaded.settings.until_decided:
        return None, {}
    prior_run = earlier_run(loaded, mode, plan_from, exclude=folder)
    priors = futility_priors(loaded, prior_run)
    emit(futility_line(loaded, prior_run, priors))
    return priors, {"futility_spread_from": prior_run.label if prior_run and priors else None}


def futility_priors(loaded: Suite, earlier: EarlierRun | None) -> FutilityPriors:
    """The spreads an earlier run of the suite lends the futility of its paired cells run until
    decided (:func:`mgbench.analysis.looks.prior_spreads`); empty without one."""
    from mgbench.analysis.looks import prior_spreads

    if earlier is None:
        return {}
    rounds = {
        cell.cell_id: cell.rounds
        for cell in loaded.cells()
        if cell.sequential_max is not None and cell.rounds is not None
    }
    return prior_spreads(earlier.records, rounds, earlier.label)


def futility_line(loaded: Suite, earlier: EarlierRun | None, priors: FutilityPriors) -> str:
    """Where a run until decided judges futility from: an earlier run's spread pooled in (from
    ``sequential.futility_from`` of it, below ``FUTILITY_POWER_WITH_PRIOR``) or its own processes
    alone (from ``FUTILITY_FROM_PROCESSES``, below ``FUTILITY_POWER``)."""
    from mgbench.analysis import sequential

    cells = [c for c in loaded.cells() if c.sequential_max is not None]
    alone = (
        f"from {sequential.FUTILITY_FROM_PROCESSES} processes, on this run's spread alone "
        f"(conditional power < {sequential.FUTILITY_POWER:.0%})"
    )
    if earlier is None:
        return (
            "until decided: no earlier run of this suite on this machine (--plan-from RUN names "
            f"one): futility is judged {alone}"
        )
    lent = [c for c in cells if c.cell_id in priors]
    firsts = sorted({sequential.futility_from(p) for c in lent for p in priors[c.cell_id].values()})
    when = "/".join(map(str, firsts)) if firsts else "-"
    others = f"; the others {alone}" if len(lent) < len(cells) else ""
    notes = "".join(f"; {note}" for note in earlier.notes)
    return (
        f"until decided: futility pools the spread of {earlier.label} for {len(lent)} of "
        f"{len(cells)} paired cell(s) (judged from {when} processes on, conditional power < "
        f"{sequential.FUTILITY_POWER_WITH_PRIOR:.0%}{others}){notes}"
    )


def _allocation_or_why(
    estimate: RunPlan, earlier: EarlierRun | None, deadline_min: float | None
) -> RunAllocation | str:
    """The paired cells' allocation by variance component for ``--plan`` (within the deadline,
    else per minute at the suite's pairs), or why a deadline leaves none."""
    from mgbench.analysis import allocation

    try:
        return allocation.allocate_run(
            estimate,
            _noises(estimate, earlier),
            deadline_s=None if deadline_min is None else deadline_min * 60,
        )
    except allocation.NotEnoughTime as why:
        return str(why)


def _noises(
    estimate: RunPlan, earlier: EarlierRun | None
) -> dict[str, dict[tuple[str, str], Noise]]:
    from mgbench.analysis.allocation import run_noises

    return run_noises(
        estimate, earlier.records if earlier else (), earlier.label if earlier else ""
    )


def _allocated(
    loaded: Suite,
    mode: str,
    earlier: EarlierRun | None,
    deadline_min: float,
    emit: Callable[[str], None],
) -> Suite:
    """The suite with its paired cells' rounds and processes allocated within ``--deadline``
    (:func:`mgbench.analysis.allocation.allocate_run`); NotEnoughTime, a ValueError, when the
    deadline is too short for an interval. The allocation is said in one line."""
    from mgbench.analysis import allocation
    from mgbench.analysis.plan import plan_run
    from mgbench.present.allocation import allocation_line

    estimate = plan_run(loaded, mode, earlier=earlier)
    chosen = allocation.allocate_run(
        estimate, _noises(estimate, earlier), deadline_s=deadline_min * 60
    )
    emit(allocation_line(chosen))
    return loaded.with_allocation(chosen.overrides())


def recorded_allocation(folder: Path) -> dict[str, tuple[int, int]]:
    """The (rounds, processes) per paired cell a run folder's ``suite.json`` recorded as
    allocated by ``--deadline``; empty when it holds none."""
    path = RunFolder(folder).suite
    if not path.exists():
        return {}
    suite_data = json.loads(path.read_text(encoding="utf-8")).get("suite", {})
    return {
        cell_id: (rounds, processes)
        for cell_id, rounds, processes in suite_data.get("allocated", [])
    }


def slurm_settings(loaded: Suite, overrides: Mapping[str, Any]) -> slurm.SlurmOptions:
    """The suite's ``[slurm]`` table with the command line's flags over it, refused before any
    job starts when its time limit is shorter than a cell's timeout plus the margin."""
    options = slurm.merge_overrides(loaded.slurm, overrides)
    if options.time_min is None:
        return options
    source = (
        slurm.FLAGS["time_min"] if "time_min" in overrides else f"{loaded.path}: [slurm] time_min"
    )
    cells = loaded.cells() + loaded.timeline_cells()
    longest = max(cells, key=lambda cell: cell.timeout_s, default=None)
    if longest is not None:
        try:
            options.time_limit_min(longest.timeout_s, f"cell {longest.cell_id}")
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from error
    return options


def device_mode(gpus: int, virtual_gpus: int) -> DeviceMode:
    """The device mode a run's workers will choose (``devices.prepare``), known before any
    starts: virtual GPUs when asked for, real GPUs when found, else CPU simulation."""
    if virtual_gpus:
        return DeviceMode.VIRTUAL_GPU
    return DeviceMode.GPU if gpus else DeviceMode.CPU_SIMULATION


def _gpu_names() -> frozenset[str] | None:
    """The GPU names NVML sees (None: NVML unavailable, so GPUs are not compared)."""
    try:
        nvml = hardware.open_nvml()
        return frozenset(nvml.device_name(i) for i in range(nvml.device_count()))
    except hardware.NvmlUnavailable:
        return None


def this_machine(mode: str) -> MachineHere:
    """This machine as records describe theirs, found without starting TensorFlow."""
    from mgbench.analysis.plan import MachineHere

    host = environment.host_environment()
    return MachineHere(
        host=host.get("host"),
        cpu=host.get("cpu"),
        device_mode=mode,
        gpu_names=_gpu_names(),
        tensorflow=environment.installed_version("tensorflow", "tensorflow-cpu", "tf-nightly"),
        keras=environment.installed_version("keras"),
    )


def _read_earlier(folder: Path, results_path: Path, notes: Sequence[str]) -> EarlierRun:
    from mgbench.analysis.plan import EarlierRun

    records = tuple(store.read_records(results_path))
    walls = {
        p.cell_id: p.wall_s
        for p in read_timelines(folder)
        if p.status == "ok" and p.wall_s is not None
    }
    return EarlierRun(str(folder), records, walls, tuple(notes))


def earlier_run(
    loaded: Suite,
    mode: str,
    plan_from: str | None,
    root: Path = RESULTS_ROOT,
    exclude: Path | None = None,
) -> EarlierRun | None:
    """The run whose records cost the plan: ``--plan-from`` (its machine's differences become
    notes), else the newest run of this suite under ``root`` made on this machine (other than
    ``exclude``, the run being made or resumed), else None."""
    from mgbench.analysis.plan import machine_differences

    here = this_machine(mode)
    if plan_from is not None:
        folder, results_path = store.locate(plan_from)
        records = store.read_records(results_path)
        differences = machine_differences(records, here)
        notes = [f"{folder} was recorded on another machine: {'; '.join(differences)}"]
        return _read_earlier(folder, results_path, notes if differences else [])
    for run in RunFolder.of_suite(loaded.name, root):
        if exclude is not None and run.path.resolve() == exclude.resolve():
            continue
        try:
            records = store.read_records(run.results)
        except store.ResultsError:
            continue
        if not machine_differences(records, here):
            return _read_earlier(run.path, run.results, [])
    return None


def check_design(max_processes: int) -> None:
    """Refuse, before any process starts, a maximum the sequential design cannot look over."""
    from mgbench.analysis.sequential import SequentialDesign

    try:
        SequentialDesign(max_processes=max_processes)
    except ValueError as error:
        raise ValueError(f"until_decided with pairs = {max_processes}: {error}") from error


def look_rule(
    claims: Claims = DEFAULT_CLAIMS, priors: FutilityPriors | None = None
) -> launcher.LookRule:
    """How ``mgbench run`` looks at a paired cell run until decided: its comparisons against
    ``claims`` at the design's adjusted level (:func:`mgbench.analysis.looks.look_at`), the
    design's stop decision (its futility pooling ``priors``), and the progress line."""

    def rule(cell: Cell, records: Sequence[Record]) -> launcher.Look | None:
        from mgbench.analysis.looks import look_at
        from mgbench.present.prose import look_line

        look = look_at(cell, records, claims=claims, priors=priors)
        if look is None:
            return None
        return launcher.Look(
            processes=look.processes,
            stop=look.decision.stop,
            ending=look.ending,
            why=look.decision.reason,
            line=look_line(look),
        )

    return rule


def run_and_summarise(
    loaded: Suite,
    folder: Path,
    *,
    resume: bool = False,
    options: launcher.DeviceOptions | None = None,
    spawn: launcher.Spawner = launcher.spawn_worker,
    emit: Callable[[str], None] = print,
    deadline: launcher.Deadline | None = None,
    clock: Callable[[], float] = time.monotonic,
    claims: Claims = DEFAULT_CLAIMS,
    priors: FutilityPriors | None = None,
    about: Mapping[str, Any] | None = None,
) -> int:
    """Run the suite, write and print its summary and its verdicts against ``claims``; the exit
    code is 1 when a cell run failed (not when ``deadline`` left processes out: those are
    listed). ``priors`` feed the futility of cells run until decided (:func:`futility_priors`);
    ``about`` goes into a new run's ``run.json``."""
    from mgbench.present.summary import claim_headline, summary_table

    outcome = launcher.run_suite(
        loaded,
        folder,
        resume=resume,
        options=options or launcher.DeviceOptions(),
        spawn=spawn,
        emit=emit,
        deadline=deadline,
        clock=clock,
        looks=look_rule(claims, priors) if loaded.settings.until_decided else None,
        about=about,
    )
    table = summary_table(outcome.records, claims)
    RunFolder(outcome.folder).summary.write_text(table + "\n", encoding="utf-8")
    emit("")
    emit(table)
    # The run ends on its answer: the paired estimate of the claim, and how to see the rest.
    emit("")
    emit(claim_headline(outcome.records, claims=claims, run_folder=outcome.folder))
    emit(f"\nresults: {outcome.results_path}")
    left_out = [f"{r.cell_id} r{r.repeat}" for r in outcome.left_out]
    left_out += [f"{p.cell_id} (timeline)" for p in outcome.timelines_left_out]
    if left_out:
        emit(
            f"--deadline left out {len(left_out)} process(es), recorded as skipped "
            f"(`--resume --output {outcome.folder}` runs them): {', '.join(left_out)}"
        )
    if outcome.not_needed:
        emit(
            f"until decided: {len(outcome.not_needed)} paired process(es) not needed, recorded "
            "as skipped (their cells were decided or futile at an earlier look)"
        )
    if outcome.failed:
        emit(f"{len(outcome.failed)} cell run(s) failed; see their records and {outcome.logs}")
    return outcome.exit_code
