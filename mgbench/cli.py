"""Command-line interface: argument parsing only. Each command's work lives in
``mgbench.commands.<name>``, imported only when that command runs (``import mgbench`` stays light).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import warnings
from collections.abc import Sequence

from mgbench import backends  # the registry: names only, no framework
from mgbench.analysis.claim import DEFAULT_CLAIM, Claim, parse_range
from mgbench.config import hardware_specs  # spec names only: reads no file
from mgbench.vocabulary import DeprecatedName, deprecated

REPORT_FORMATS = ("md", "csv", "latex", "html", "json")


# -- value parsers: turn a flag's text into a value or a clean usage error ---------------------


def claim_range(text: str) -> tuple[float, float]:
    """``"5:12"`` -> (5.0, 12.0)."""
    try:
        return parse_range(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--claim: {error}") from error


def _claim(args: argparse.Namespace) -> Claim:
    """The default claim, with the range ``--claim`` gave."""
    return DEFAULT_CLAIM.with_range(args.claim)


def _add_claim(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--claim",
        type=claim_range,
        default=DEFAULT_CLAIM.range_pct,
        metavar="LOW:HIGH",
        help=f"the claimed speed-up of {DEFAULT_CLAIM.a} over {DEFAULT_CLAIM.b} in %% "
        f"(default {DEFAULT_CLAIM.range_arg}, {DEFAULT_CLAIM.source})",
    )


def percent(text: str) -> float:
    """``"5%"`` or ``"5"`` -> 5.0."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a percentage like 5%, got {text!r}") from error
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a percentage >= 0, got {text!r}")
    return value


def significance(text: str) -> float:
    """``"0.05"`` -> 0.05: a significance level, strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a number like 0.05, got {text!r}") from error
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a level between 0 and 1, got {text!r}")
    return value


def strategy_ratio(text: str) -> tuple[str, str]:
    """``"inplace/concat"`` -> ("inplace", "concat")."""
    numerator, sep, denominator = text.partition("/")
    if not sep or not numerator or not denominator:
        raise argparse.ArgumentTypeError(f"--ratio expects A/B, like inplace/concat; got {text!r}")
    return numerator, denominator


def int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected integers like 2,4, got {text!r}") from error


def name_list(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


# -- handlers: hand parsed values to the command modules ---------------------------------------


def milliseconds(text: str) -> float:
    """``"250"`` -> 250.0: a time in milliseconds, >= 0."""
    try:
        value = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected milliseconds like 250, got {text!r}") from error
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a time >= 0 ms, got {text!r}")
    return value


def minutes(text: str) -> float:
    """``"8"`` -> 8.0: a duration in minutes, > 0."""
    try:
        value = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected minutes like 8 or 7.5, got {text!r}") from error
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected minutes > 0, got {text!r}")
    return value


def _run(args: argparse.Namespace) -> int:
    from mgbench.commands.run import run_command

    return run_command(
        args.suite,
        output=args.output,
        resume=args.resume,
        profile=args.profile,
        models=args.models,
        replicas=args.replicas,
        repeats=args.repeats,
        pairs=args.pairs,
        virtual_gpus=args.virtual_gpus,
        virtual_gpu_memory_mb=args.virtual_gpu_memory_mb,
        plan=args.plan,
        plan_from=args.plan_from,
        deadline_min=args.deadline,
        executor=args.executor,
        slurm_overrides=_slurm_overrides(args),
        claim=_claim(args),
    )


def _slurm_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The ``--slurm-*`` flags given, keyed as in the ``[slurm]`` table."""
    given = {
        "partition": args.slurm_partition,
        "account": args.slurm_account,
        "gpus_per_node": args.slurm_gpus_per_node,
        "time_min": args.slurm_time,
        "sbatch": args.slurm_sbatch,
    }
    return {key: value for key, value in given.items() if value is not None}


def _report(args: argparse.Namespace) -> int:
    from mgbench.commands.report import report_run

    text, written = report_run(
        args.run,
        fmt=args.format,
        claim=_claim(args),
        alpha=args.alpha,
        min_effect_pct=args.min_effect,
        allow_mixed=args.allow_mixed,
        with_plots=not args.no_plots,
        hardware=args.hardware,
    )
    print(text)
    print("written: " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from mgbench.commands.compare import compare_runs

    print(
        compare_runs(
            args.before,
            args.after,
            fmt=args.format,
            alpha=args.alpha,
            min_effect_pct=args.min_effect,
        )
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from mgbench.commands.export import export_run

    path = export_run(args.run, fmt=args.format, output=args.output)
    print(f"wrote {path}")
    return 0


def _gate(args: argparse.Namespace) -> int:
    from mgbench.commands.gate import gate_command

    text, code = gate_command(
        args.first,
        args.second,
        ratio=args.ratio,
        minimum=args.min,
        max_slowdown_pct=args.max_slowdown,
        max_rss_growth_pct=args.max_rss_growth,
        max_memory_growth_pct=args.max_memory_growth,
        alpha=args.alpha,
    )
    print(text)
    return code


def _devices(args: argparse.Namespace) -> int:
    from mgbench.commands.devices import devices_command

    return devices_command()


def _doctor(args: argparse.Namespace) -> int:
    from mgbench.commands.doctor import doctor_command

    return doctor_command()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"mgbench {version('mgbench')}"
    except PackageNotFoundError:
        return "mgbench (not installed: version unknown)"


def _placement(args: argparse.Namespace) -> int:
    from mgbench.commands.placement import placement_tables

    print(
        placement_tables(
            args.replicas,
            model=args.model,
            image_size=args.image_size,
            batch_per_replica=args.batch_per_replica,
            classes=args.classes,
            backend=args.backend,
            virtual_gpus=args.virtual_gpus,
            virtual_gpu_memory_mb=args.virtual_gpu_memory_mb,
            hardware=args.hardware,
            claim=_claim(args),
        )
    )
    return 0


def _timeline(args: argparse.Namespace) -> int:
    from mgbench.commands.timeline import timeline_command

    if args.command == "profile":
        deprecated("mgbench profile", "mgbench timeline")

    return timeline_command(
        args.suite,
        args.cell,
        output=args.output,
        steps=args.steps,
        virtual_gpus=args.virtual_gpus,
        virtual_gpu_memory_mb=args.virtual_gpu_memory_mb,
    )


def _predict(args: argparse.Namespace) -> int:
    from mgbench.commands.predict import predict_command

    print(predict_command(args.run, args.hardware, compute_ms=args.compute_ms, claim=_claim(args)))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from mgbench.commands.validate import validate_command

    print(validate_command(args.run))
    return 0


def _index(args: argparse.Namespace) -> int:
    from mgbench.commands.index import index_command

    path, runs = index_command(args.results, claim=_claim(args))
    print(f"wrote {path} ({runs} runs)")
    return 0


def _add_hardware(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--hardware",
        required=required,
        metavar="NAME|FILE.toml",
        help=f"a shipped hardware spec ({', '.join(hardware_specs.names())}) or your own TOML file",
    )


# -- the parser --------------------------------------------------------------------------------


def _add_significance(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=REPORT_FORMATS, default="md")
    parser.add_argument(
        "--alpha",
        type=significance,
        default=0.05,
        help="significance level; confidence intervals are at 1 - alpha",
    )
    parser.add_argument(
        "--min-effect", type=float, default=2.0, help="smallest change in %% that counts"
    )


def _add_virtual_gpus(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--virtual-gpus", type=int, default=0, help="split the first GPU in N")
    parser.add_argument("--virtual-gpu-memory-mb", type=int, default=4096)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgbench", description="Benchmark data-parallel multi-GPU training wrappers for Keras."
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show TensorFlow's start-up output (otherwise kept in ~/.cache/mgbench/tf-*.log)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run_cmd = commands.add_parser("run", help="run a suite file: one process per cell and repeat")
    run_cmd.add_argument("suite", help="a suite TOML file, e.g. suites/imagenet.toml")
    run_cmd.add_argument("--output", help="run folder (default results/<suite>/<time>-<host>)")
    run_cmd.add_argument(
        "--resume", action="store_true", help="continue a run without redoing recorded cells"
    )
    run_cmd.add_argument(
        "--profile",
        choices=["auto", "default", "cpu"],
        default="auto",
        help="'auto' applies the suite's [cpu] profile when no GPU is found",
    )
    run_cmd.add_argument(
        "--models", type=name_list, help="only these models, comma-separated (e.g. ResNet50)"
    )
    run_cmd.add_argument(
        "--replicas", type=int_list, help="only these replica counts, comma-separated"
    )
    run_cmd.add_argument(
        "--repeats", type=int, help="processes per cell (>= 4 for a U test to reach p < 0.05)"
    )
    run_cmd.add_argument(
        "--pairs",
        type=int,
        help="paired processes per comparison (both strategies in one process, alternating)",
    )
    run_cmd.add_argument(
        "--plan",
        action="store_true",
        help="print the cells, processes, per-phase costs, estimated wall time and the paired CI "
        "half-width to expect; run nothing",
    )
    run_cmd.add_argument(
        "--plan-from",
        metavar="RUN",
        help="per-phase costs for --plan/--deadline from this run folder (default: the newest "
        "run of the suite under results/<suite>/ made on this machine, else stated defaults)",
    )
    run_cmd.add_argument(
        "--deadline",
        type=minutes,
        metavar="MINUTES",
        help="start no process that would not end within MINUTES; those left out are recorded as "
        "skipped (--resume runs them)",
    )
    run_cmd.add_argument(
        "--executor",
        choices=("local", "submitit-local", "slurm"),
        default="local",
        help="where each worker process starts: a child of this process (local), one "
        "submitit job per process on this machine (submitit-local), or one Slurm job per "
        "process on a whole node (slurm; the run folder must be on a shared file system); "
        "one at a time",
    )
    slurm_flags = run_cmd.add_argument_group(
        "Slurm (--executor slurm; each overrides the suite's [slurm] table)"
    )
    slurm_flags.add_argument("--slurm-partition", metavar="NAME")
    slurm_flags.add_argument("--slurm-account", metavar="NAME")
    slurm_flags.add_argument("--slurm-gpus-per-node", type=int, metavar="N")
    slurm_flags.add_argument(
        "--slurm-time",
        type=int,
        metavar="MINUTES",
        help="each job's time limit (default: its cell's timeout + 1 min, the least allowed)",
    )
    slurm_flags.add_argument(
        "--slurm-sbatch",
        action="append",
        metavar="LINE",
        help="one more #SBATCH option, added after the table's; repeatable; write it with '=', "
        "e.g. --slurm-sbatch=--qos=high",
    )
    _add_virtual_gpus(run_cmd)
    _add_claim(run_cmd)
    run_cmd.set_defaults(handler=_run)

    report_cmd = commands.add_parser(
        "report", help="statistics, verdicts on the claim, memory and plots for a run"
    )
    report_cmd.add_argument("run", help="a run folder or its results.jsonl")
    _add_significance(report_cmd)
    _add_claim(report_cmd)
    report_cmd.add_argument(
        "--allow-mixed", action="store_true", help="merge results from different machines"
    )
    report_cmd.add_argument("--no-plots", action="store_true")
    _add_hardware(report_cmd, required=False)
    report_cmd.set_defaults(handler=_report)

    compare_cmd = commands.add_parser("compare", help="cell by cell: AFTER against BEFORE")
    compare_cmd.add_argument("before")
    compare_cmd.add_argument("after")
    _add_significance(compare_cmd)
    compare_cmd.set_defaults(handler=_compare)

    export_cmd = commands.add_parser("export", help="write a run in another tool's format")
    export_cmd.add_argument("run")
    export_cmd.add_argument("--format", choices=["pytest-benchmark"], default="pytest-benchmark")
    export_cmd.add_argument("--output", required=True, help="file to write")
    export_cmd.set_defaults(handler=_export)

    gate_cmd = commands.add_parser(
        "gate",
        help="fail on a significant slowdown or memory growth (BASELINE NEW), "
        "or on a slow strategy ratio inside one run (RUN --ratio A/B); "
        "exit 0 pass, 1 a check failed, 3 the data cannot decide",
    )
    gate_cmd.add_argument("first", metavar="BASELINE|RUN")
    gate_cmd.add_argument("second", metavar="NEW", nargs="?")
    gate_cmd.add_argument("--max-slowdown", type=percent, default=5.0)
    gate_cmd.add_argument(
        "--max-memory-growth",
        type=percent,
        default=5.0,
        help="allowed growth of the median TF allocator and NVML peaks",
    )
    gate_cmd.add_argument(
        "--max-rss-growth",
        type=percent,
        default=20.0,
        help="allowed growth of the median host RSS peak (noisier than device memory)",
    )
    gate_cmd.add_argument(
        "--alpha",
        type=significance,
        default=0.01,
        help="significance level; confidence intervals are at 1 - alpha",
    )
    gate_cmd.add_argument(
        "--ratio", type=strategy_ratio, help="A/B strategies inside one run, e.g. inplace/concat"
    )
    gate_cmd.add_argument("--min", type=float, default=0.97, help="smallest allowed A/B ratio")
    gate_cmd.set_defaults(handler=_gate)

    devices_cmd = commands.add_parser(
        "devices", help="print the GPUs, NVML and simulation mgbench sees"
    )
    devices_cmd.set_defaults(handler=_devices)

    doctor_cmd = commands.add_parser(
        "doctor",
        help="check this machine before measuring: TF build, GPUs, NVML, virtual GPUs, and one "
        "step per strategy whose observed placement must match the prediction "
        "(exit 0 passed, 1 a check failed)",
    )
    doctor_cmd.set_defaults(handler=_doctor)

    placement_cmd = commands.add_parser(
        "placement", help="show where each wrapper's ops run (forward, backward, slicing, merge)"
    )
    placement_cmd.add_argument("--replicas", type=int, default=2)
    placement_cmd.add_argument("--model", default="TinyCNN")
    placement_cmd.add_argument("--image-size", type=int, default=32)
    placement_cmd.add_argument(
        "--batch-per-replica", type=int, default=4, help="images per replica per step"
    )
    placement_cmd.add_argument("--classes", type=int, default=10)
    placement_cmd.add_argument(
        "--hardware",
        metavar="NAME|FILE.toml|all",
        help="also predict the claimed speed-up on these hardware specs",
    )
    placement_cmd.add_argument("--backend", choices=backends.names(), default="keras3")
    _add_virtual_gpus(placement_cmd)
    _add_claim(placement_cmd)
    placement_cmd.set_defaults(handler=_placement)

    timeline_cmd = commands.add_parser(
        "timeline",
        aliases=["profile"],
        help="run one cell's steps under TF's profiler: where the time goes, per device "
        "('profile' is its old name)",
    )
    timeline_cmd.add_argument("suite", help="a suite TOML file")
    timeline_cmd.add_argument("--cell", required=True, help="the cell id, as the run prints it")
    timeline_cmd.add_argument(
        "--steps", type=int, help="steps under the profiler (default: the suite's)"
    )
    timeline_cmd.add_argument("--output", help="folder for the record and the trace")
    _add_virtual_gpus(timeline_cmd)
    timeline_cmd.set_defaults(handler=_timeline)

    predict_cmd = commands.add_parser(
        "predict",
        help="each split's copy time per step on a hardware spec, from a run's transfer "
        "audits, and the in-place speed-up it implies",
    )
    predict_cmd.add_argument("run", help="a run folder or its results.jsonl")
    _add_hardware(predict_cmd, required=True)
    predict_cmd.add_argument(
        "--compute-ms",
        type=milliseconds,
        help="compute time per step (default: from the profile's published throughput for the "
        "workload, else the sweep only)",
    )
    _add_claim(predict_cmd)
    predict_cmd.set_defaults(handler=_predict)

    validate_cmd = commands.add_parser(
        "validate",
        help="check a run folder before publishing: records, checksums, complete environment, "
        "one machine, run files (exit 0 valid, 2 the first bad record named)",
    )
    validate_cmd.add_argument("run", help="a run folder or its results.jsonl")
    validate_cmd.set_defaults(handler=_validate)

    index_cmd = commands.add_parser(
        "index",
        help="regenerate RESULTS/README.md from its run folders, their notes.md and "
        "INDEX_HEADER.md / INDEX_FOOTER.md",
    )
    index_cmd.add_argument("results", metavar="RESULTS", help="the results folder, e.g. results/")
    _add_claim(index_cmd)
    index_cmd.set_defaults(handler=_index)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or ``timeout``'s kill): the same clean-up as Ctrl-C, so worker
    processes, which run in sessions of their own, do not outlive the run."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


_SHOW_WARNING = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
    """A renamed name's warning as one line; any other warning as Python shows it."""
    if issubclass(category, DeprecatedName):
        print(f"mgbench: warning: {message}", file=sys.stderr)
    else:
        _SHOW_WARNING(message, category, filename, lineno, file, line)


def main(argv: Sequence[str] | None = None) -> int:
    from mgbench.platform import quiet

    args = build_parser().parse_args(argv)
    quiet.set_verbose(args.verbose)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with warnings.catch_warnings():
            # A renamed name still works; the user is told once, in one line.
            warnings.simplefilter("always", DeprecatedName)
            warnings.showwarning = _show_warning
            return args.handler(args)
    except (ValueError, RuntimeError, OSError) as error:
        print(f"mgbench: error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        print("mgbench: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("mgbench: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
