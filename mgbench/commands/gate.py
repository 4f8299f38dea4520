"""``mgbench gate``: regression gates between two runs, or a strategy ratio inside one."""

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
) -> tuple[str, int]:
    """The gate's report and exit code: 1 when any line fails."""
    first_records = store.read_records(store.locate(first)[1])
    if ratio is not None:
        if second is not None:
            raise ValueError("--ratio gates one run; give one RUN, not two")
        numerator, denominator = ratio
        lines = gates.gate_ratio(
            first_records, numerator, denominator, minimum=minimum, alpha=alpha
        )
        header = f"ratio gate {numerator}/{denominator} >= {minimum:g} (alpha {alpha:g}) on {first}"
    else:
        if second is None:
            raise ValueError("gate needs BASELINE and NEW runs, or one RUN with --ratio A/B")
        new_records = store.read_records(store.locate(second)[1])
        if not any(r.ok for r in new_records):
            raise ValueError(f"{second}: the new run has no successful cell run to gate")
        lines = gates.gate_runs(
            first_records,
            new_records,
            max_slowdown_pct=max_slowdown_pct,
            max_memory_growth_pct=max_memory_growth_pct,
            alpha=alpha,
        )
        header = (
            f"gate {second} against {first}: slowdown <= {max_slowdown_pct:g}%, "
            f"memory growth <= {max_memory_growth_pct:g}% (alpha {alpha:g})"
        )
        if environment.identities(first_records) != environment.identities(new_records):
            header += "\nWARNING: the runs come from different machines or versions"
    failed = [line for line in lines if not line.passed]
    body = [f"{'PASS' if line.passed else 'FAIL'}  {line.subject}: {line.reason}" for line in lines]
    verdict = f"{len(failed)} of {len(lines)} checks failed" if failed else "all checks passed"
    return "\n".join([header, *body, verdict]), 1 if failed else 0
