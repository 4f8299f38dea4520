"""``mgbench gate``: regression gates between two runs, or a strategy ratio inside one.

Every check is PASS, FAIL or INCONCLUSIVE (the data cannot reach alpha: too few processes or
rounds; the line says how many would decide). Exit code: 1 when any check failed, else 3 when any
was inconclusive, else 0. The rules are in ``analysis.gates``.
"""

from __future__ import annotations

from pathlib import Path

from mgbench.analysis import gates
from mgbench.records import environment, store


def gate_command(
    first: str | Path,
    second: str | Path | None,
    *,
    ratio: tuple[str, str] | None,
    minimum: float,
    max_slowdown_pct: float,
    max_memory_growth_pct: float,
    alpha: float,
    max_rss_growth_pct: float = gates.DEFAULT_MAX_RSS_GROWTH_PCT,
) -> tuple[str, int]:
    """The gate's report and exit code: 1 when any check failed, else 3 when any was
    inconclusive, else 0."""
    first_run = store.read_run(store.locate(first)[1])
    warnings = list(first_run.warnings)
    if ratio is not None:
        if second is not None:
            raise ValueError("--ratio gates one run; give one RUN, not two")
        numerator, denominator = ratio
        lines = gates.gate_ratio(
            first_run.records, numerator, denominator, minimum=minimum, alpha=alpha
        )
        header = f"ratio gate {numerator}/{denominator} >= {minimum:g} (alpha {alpha:g}) on {first}"
    else:
        if second is None:
            raise ValueError("gate needs BASELINE and NEW runs, or one RUN with --ratio A/B")
        new_run = store.read_run(store.locate(second)[1])
        warnings += new_run.warnings
        if not any(r.ok for r in new_run.records):
            raise ValueError(f"{second}: the new run has no successful cell run to gate")
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
