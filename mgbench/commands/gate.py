"""``mgbench gate``: regression gates between two runs, or a strategy ratio inside one.

Every check is PASS, FAIL or INCONCLUSIVE (the data cannot reach alpha: too few processes or
rounds, one paired process, nothing successful to compare against, a memory peak read in one run
only or read as 0; the line says why). Exit code: 1 when any check failed, else 3 when any was
inconclusive, else 0. Fail decisions are family-wise across the cells (Holm) or workloads
(Bonferroni) gated, and the output says that two runs are not interleaved. The rules are in
``analysis.gates``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mgbench.analysis import gate_limits
from mgbench.commands import flags

NAME = "gate"
HELP = (
    "fail on a significant slowdown or memory growth (BASELINE NEW), or on a slow strategy ratio "
    "inside one run (RUN --ratio A/B); exit 0 pass, 1 a check failed, 3 the data cannot decide "
    "(nothing successful to compare never passes). Speed fails are family-wise: Holm across the "
    "cells (Bonferroni across workloads for --ratio), so an A/A rerun fails at most alpha of the "
    "time however many cells it holds. BASELINE and NEW are not interleaved: a change of the "
    "machine between them reads as a change of the code; pair the strategies in one run "
    "(--ratio) to rule that out"
)


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP  # the family rule and the confounding belong in ``gate --help``
    parser.add_argument("first", metavar="BASELINE|RUN")
    parser.add_argument("second", metavar="NEW", nargs="?")
    parser.add_argument("--max-slowdown", type=flags.percent, default=gate_limits.MAX_SLOWDOWN_PCT)
    parser.add_argument(
        "--max-memory-growth",
        type=flags.percent,
        default=gate_limits.MAX_MEMORY_GROWTH_PCT,
        help="allowed growth of the median TF allocator and NVML peaks",
    )
    parser.add_argument(
        "--max-rss-growth",
        type=flags.percent,
        default=gate_limits.MAX_RSS_GROWTH_PCT,
        help="allowed growth of the median host RSS peak (noisier than device memory)",
    )
    flags.add_significance(parser, alpha=gate_limits.ALPHA)
    parser.add_argument(
        "--ratio",
        type=flags.strategy_ratio,
        help="A/B strategies inside one run, e.g. inplace/concat",
    )
    parser.add_argument(
        "--min", type=float, default=gate_limits.MIN_RATIO, help="smallest allowed A/B ratio"
    )


def run_from_args(args: argparse.Namespace) -> int:
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


def gate_command(
    first: str | Path,
    second: str | Path | None,
    *,
    ratio: tuple[str, str] | None,
    minimum: float = gate_limits.MIN_RATIO,
    max_slowdown_pct: float = gate_limits.MAX_SLOWDOWN_PCT,
    max_memory_growth_pct: float = gate_limits.MAX_MEMORY_GROWTH_PCT,
    alpha: float = gate_limits.ALPHA,
    max_rss_growth_pct: float = gate_limits.MAX_RSS_GROWTH_PCT,
) -> tuple[str, int]:
    """The gate's report and exit code: 1 when any check failed, else 3 when any was
    inconclusive, else 0."""
    from mgbench.analysis import gates
    from mgbench.records import environment, store

    first_run = store.read_run(store.locate(first)[1])
    warnings = list(first_run.warnings)
    if ratio is not None:
        if second is not None:
            raise ValueError("--ratio gates one run; give one RUN, not two")
        numerator, denominator = ratio
        lines = gates.gate_ratio(
            first_run.records, numerator, denominator, minimum=minimum, alpha=alpha
        )
        header = (
            f"ratio gate {numerator}/{denominator} >= {minimum:g} (alpha {alpha:g}) on {first}"
            f"\nfamily-wise: {gates.RATIO_FAMILY_RULE}"
        )
    else:
        if second is None:
            raise ValueError("gate needs BASELINE and NEW runs, or one RUN with --ratio A/B")
        new_run = store.read_run(store.locate(second)[1])
        warnings += new_run.warnings
        lines = gates.gate_runs(
            first_run.records,
            new_run.records,
            max_slowdown_pct=max_slowdown_pct,
            max_memory_growth_pct=max_memory_growth_pct,
            max_rss_growth_pct=max_rss_growth_pct,
            alpha=alpha,
        )
        header = (
            f"gate {second} against {first}: slowdown <= {max_slowdown_pct:g}%, "
            f"memory growth <= {max_memory_growth_pct:g}% (host RSS <= "
            f"{max_rss_growth_pct:g}%), medians over processes (alpha {alpha:g})"
            f"\nfamily-wise: {gates.FAMILY_RULE}"
            f"\nNOTE: {gates.NOT_INTERLEAVED}"
        )
        if environment.identities(first_run.records) != environment.identities(new_run.records):
            header += "\nWARNING: the runs come from different machines or versions"
    header += "".join(f"\nWARNING: {warning}" for warning in warnings)
    width = max(len(each.value) for each in gates.Decision)
    body = [f"{line.decision.value:<{width}}  {line.subject}: {line.reason}" for line in lines]
    counts = {each: sum(line.decision is each for line in lines) for each in gates.Decision}
    code = gates.exit_code(lines)
    if code == gates.EXIT_FAILED:
        verdict = f"{counts[gates.Decision.FAIL]} of {len(lines)} checks failed"
    elif code == gates.EXIT_INCONCLUSIVE:
        verdict = (
            f"inconclusive: {counts[gates.Decision.INCONCLUSIVE]} of {len(lines)} checks cannot "
            "decide with these data (exit 3)"
        )
    else:
        verdict = "all checks passed"
    return "\n".join([header, *body, verdict]), code
