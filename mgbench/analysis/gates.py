"""Regression gates over runs: every check is PASS, FAIL or INCONCLUSIVE, never a pass by default.

A gate that cannot reach alpha must not pass. With n1 and n2 processes the smallest two-sided
Mann-Whitney U p-value is ``2 / C(n1 + n2, n1)`` (3 a side: 0.1; 5 a side: 0.008), and a bootstrap
over fewer than 5 processes understates their spread: such a speed check is INCONCLUSIVE (below
5 a side it asks for 5 a side, and prints no count estimated from the steps' noise). Otherwise a
speed check FAILS when the new run is significantly slower (U p < alpha after Holm's adjustment
across the cells gated, and the ``1 - alpha`` CI excludes 0) by more than the allowed slowdown,
PASSES when the CI's lower end is above ``-max_slowdown``, and is INCONCLUSIVE between.

**Many cells, one build.** A gate over 20 cells asks 20 questions; each U test alone falsely
fails an unchanged cell up to alpha of the time, so an A/A rerun would fail the build about
``1 - (1 - alpha)^20`` of the time. The FAIL decisions are therefore family-wise: Holm's
step-down adjustment of the cells' U p-values (:func:`~mgbench.analysis.stats.holm_adjusted`)
keeps the chance that any unchanged cell fails at most alpha, whatever the dependence between
cells (they share a machine, so they are not independent: Holm needs no independence, which is
why it is chosen over Benjamini-Hochberg's FDR, which also controls less: a gate fails on one
false alarm, so it is the family-wise rate that matters). The price: with m cells a side must
reach ``p < alpha / m``, so more processes a side are needed to fail (at alpha 0.01, 5 a side
over 1 cell, 6 over 4, 7 over 20); a slowdown significant alone but not across the cells is
INCONCLUSIVE, saying so. PASS decisions read each cell's own ``1 - alpha`` CI (marginal).

The ratio gate (A/B inside one run) reads the paired processes that hold A and B (of A against
B, or of more strategies holding both, where A comes first in the vocabulary's order) when the
run has them: PASS when the CI's lower end of the ratio A/B is at least the minimum, FAIL when the
upper end of its Bonferroni interval (level ``1 - alpha / m`` over the m workloads gated: such
intervals hold all together at least ``1 - alpha`` of the time) is below it, INCONCLUSIVE
otherwise (with the rounds or pairs that would decide), and INCONCLUSIVE whatever the CI when the
estimate cannot decide (one process: how far processes disagree is unseen). Without paired data
it applies the two-run rule above to the isolated cells, Holm across the workloads. A pair whose
cells were all skipped passes ("skipped: not runnable here": a machine with fewer GPUs than the
suite asks).

Nothing passes for want of data: a cell without a successful process in the baseline (or in
either run) is INCONCLUSIVE, as is a memory metric read in one run only or a baseline peak of 0
(nothing was read, so growth cannot be measured). Memory is compared by the MEDIAN over processes
of each peak (one process's outlier decides nothing): TF allocator peaks and NVML process peaks
against ``max_memory_growth_pct``, host RSS (which moves with the allocator's caching and the
Python heap) against the wider ``max_rss_growth_pct``. A memory check passes or fails: peaks do
not vary like step times, and are not part of the family adjusted above.

Absolute times differ from machine to machine, so the gate between two runs is for one machine;
the ratio gate compares two strategies inside one run and does not care how fast the machine is.
Two runs are not interleaved (:data:`NOT_INTERLEAVED`): whatever changed on the machine between
them (load, clocks, thermals, a driver) is confounded with the change under test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from mgbench.analysis import comparisons, gate_limits, paired, stats
from mgbench.analysis.cells import CellKey, CellResult, MemoryRow, cell_results, memory_rows
from mgbench.records.record import Record

MIB = 2**20
SKIPPED = "skipped: not runnable here"

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_INCONCLUSIVE = 3

NOT_INTERLEAVED = (
    "the two runs ran one after the other, not interleaved: a change of the machine between them "
    "(other load, clocks, thermals, a driver or library update) reads as a change of the code. "
    "To separate them, run baseline and candidate in one suite as paired strategies (the ratio "
    "gate), or alternate runs (base, new, base, new) and gate each new run against the base "
    "before it."
)
FAMILY_RULE = (
    "a speed check fails only when its U test stays significant after Holm's adjustment across "
    "the cells gated (family-wise error <= alpha); passes read each cell's own CI"
)
RATIO_FAMILY_RULE = (
    "a ratio fails only when its Bonferroni interval across the workloads gated (level "
    "1 - alpha/m, or Holm for unpaired ratios) lies below the minimum (family-wise error <= alpha)"
)


class Decision(Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True)
class GateLine:
    subject: str
    decision: Decision
    reason: str

    @property
    def passed(self) -> bool:
        return self.decision is Decision.PASS


def exit_code(lines: Sequence[GateLine]) -> int:
    """1 when any check failed, else 3 when any was inconclusive, else 0."""
    decisions = {line.decision for line in lines}
    if Decision.FAIL in decisions:
        return EXIT_FAILED
    if Decision.INCONCLUSIVE in decisions:
        return EXIT_INCONCLUSIVE
    return EXIT_PASSED


@dataclass(frozen=True)
class Family:
    """A speed check's place among the ``cells`` checks a gate decides together: its
    Holm-adjusted U p-value."""

    adjusted_p: float
    cells: int
    method: str = "Holm"


def _speed_line(
    subject: str,
    comparison: stats.Comparison,
    limit_pct: float,
    what: str,
    family: Family | None = None,
) -> GateLine:
    c = comparison
    n1, n2 = c.processes
    detail = (
        f"{what} {c.change_pct:+.1f}% [{c.confidence_label} CI {c.ci_pct[0]:+.1f}, "
        f"{c.ci_pct[1]:+.1f}], U p={c.p_value:.3g}, {n2} -> {n1} processes"
    )
    # The half-width that would decide: off 0 when beyond the limit, above -limit otherwise.
    target = -c.change_pct if c.change_pct < -limit_pct else c.change_pct + limit_pct
    needed = stats.processes_needed_text(
        stats.processes_to_decide(c, target), stats.decide_floor(c)
    )
    if not c.can_decide:
        return GateLine(
            subject, Decision.INCONCLUSIVE, f"{detail}: {stats.too_few_processes(c)}; {needed}"
        )
    if c.significant and c.change_pct < -limit_pct:
        if family is None or family.cells == 1:
            return GateLine(
                subject,
                Decision.FAIL,
                f"{detail}: significantly slower (p < {c.alpha:g}) by more than {limit_pct:g}%",
            )
        holm = f"{family.method}-adjusted p={family.adjusted_p:.3g} over {family.cells} cells"
        if family.adjusted_p < c.alpha:
            return GateLine(
                subject,
                Decision.FAIL,
                f"{detail}, {holm}: significantly slower (p < {c.alpha:g} across the cells) "
                f"by more than {limit_pct:g}%",
            )
        reach = stats.processes_to_reach(c.alpha / family.cells)
        return GateLine(
            subject,
            Decision.INCONCLUSIVE,
            f"{detail}, {holm}: slower by more than {limit_pct:g}% and significant alone, not "
            f"across the {family.cells} cells gated (>= alpha {c.alpha:g}); {reach} processes "
            "a side can reach the adjusted level",
        )
    if c.ci_pct[0] > -limit_pct:
        return GateLine(subject, Decision.PASS, f"{detail}: CI above -{limit_pct:g}%")
    return GateLine(
        subject,
        Decision.INCONCLUSIVE,
        f"{detail}: the CI reaches below -{limit_pct:g}% without a significant slowdown "
        f"beyond it; {needed}",
    )


def families(p_values: dict[str, float]) -> dict[str, Family]:
    """Each check's :class:`Family` among all of them (Holm over the p-values given)."""
    adjusted = stats.holm_adjusted(list(p_values.values()))
    return {key: Family(p, len(p_values)) for key, p in zip(p_values, adjusted, strict=True)}


def _memory_metrics(row: MemoryRow | None) -> dict[str, tuple[int, bool]]:
    """Metric name -> (median peak over processes in bytes, whether it is host RSS)."""
    if row is None:
        return {}
    metrics = {f"TF peak {d} (median)": (v, False) for d, v in row.tf_peak_median_bytes.items()}
    metrics.update(
        {
            f"NVML process peak #{d} (median)": (v, False)
            for d, v in row.nvml_process_peak_median_bytes.items()
        }
    )
    if row.host_rss_peak_median_bytes is not None:
        metrics["host RSS peak (median)"] = (row.host_rss_peak_median_bytes, True)
    return metrics


def _memory_lines(
    subject: str,
    before: dict[str, tuple[int, bool]],
    after: dict[str, tuple[int, bool]],
    max_growth_pct: float,
    max_rss_growth_pct: float,
) -> list[GateLine]:
    lines = [
        GateLine(
            subject,
            Decision.INCONCLUSIVE,
            f"{metric}: read in the {'baseline' if metric in before else 'new run'} only, so "
            "growth cannot be measured (was it read the same way in both?)",
        )
        for metric in sorted(set(before) ^ set(after))
    ]
    for metric in sorted(set(before) & set(after)):
        (old, is_rss), (new, _) = before[metric], after[metric]
        if old <= 0:
            lines.append(
                GateLine(
                    subject,
                    Decision.INCONCLUSIVE,
                    f"{metric}: the baseline's peak is {old / MIB:,.1f} MiB (nothing was read), "
                    f"the new run's {new / MIB:,.1f} MiB: growth cannot be measured",
                )
            )
            continue
        limit = max_rss_growth_pct if is_rss else max_growth_pct
        growth = (new / old - 1) * 100
        passed = growth <= limit
        verdict = f" <= {limit:g}%" if passed else f": grew more than {limit:g}%"
        lines.append(
            GateLine(
                subject,
                Decision.PASS if passed else Decision.FAIL,
                f"{metric} {old / MIB:,.1f} -> {new / MIB:,.1f} MiB ({growth:+.1f}%){verdict}",
            )
        )
    return lines


def _all_skipped(*cells: CellResult) -> bool:
    return all(cell.ok == 0 and cell.statuses == ("skipped",) for cell in cells)


def gate_runs(
    baseline: Sequence[Record],
    new: Sequence[Record],
    *,
    max_slowdown_pct: float = gate_limits.MAX_SLOWDOWN_PCT,
    max_memory_growth_pct: float = gate_limits.MAX_MEMORY_GROWTH_PCT,
    max_rss_growth_pct: float = gate_limits.MAX_RSS_GROWTH_PCT,
    alpha: float = gate_limits.ALPHA,
) -> list[GateLine]:
    """Per isolated cell in both runs: speed (U test and bootstrap CI) and every memory peak's
    median. Paired cells are the ratio gate's (their speed is relative, not absolute)."""
    old_cells, new_cells = cell_results(baseline), cell_results(new)
    old_memory = {row.cell.cell_id: row for row in memory_rows(old_cells)}
    new_memory = {row.cell.cell_id: row for row in memory_rows(new_cells)}
    changes = comparisons.run_changes(
        old_cells, new_cells, alpha=alpha, min_effect_pct=max_slowdown_pct
    )
    family = families(
        {c.cell_id: c.comparison.p_value for c in changes if c.comparison is not None}
    )
    lines = []
    for change in changes:
        before, after, subject = change.before, change.after, change.cell_id
        base_ok = before is not None and bool(before.processes)
        if after is None:
            if base_ok:
                lines.append(
                    GateLine(subject, Decision.FAIL, "in the baseline but missing from the new run")
                )
        elif not after.processes:
            statuses = ", ".join(after.statuses)
            if base_ok:
                reason = f"no successful run in the new run ({statuses})"
                lines.append(GateLine(subject, Decision.FAIL, reason))
            elif _all_skipped(after):
                lines.append(GateLine(subject, Decision.PASS, SKIPPED))
            else:
                reason = f"no successful run in either run ({statuses}): nothing to compare"
                lines.append(GateLine(subject, Decision.INCONCLUSIVE, reason))
        elif change.comparison is None:
            where = "in the baseline" if before is None else "a successful run in the baseline"
            reason = f"not {where}: nothing to compare against"
            lines.append(GateLine(subject, Decision.INCONCLUSIVE, reason))
        else:
            lines.append(
                _speed_line(
                    subject, change.comparison, max_slowdown_pct, "images/s", family[subject]
                )
            )
            lines += _memory_lines(
                subject,
                _memory_metrics(old_memory.get(subject)),
                _memory_metrics(new_memory.get(subject)),
                max_memory_growth_pct,
                max_rss_growth_pct,
            )
    return lines


def _paired_ratio_line(
    subject: str,
    estimate: paired.PairedEstimate,
    minimum: float,
    family: paired.PairedEstimate | None = None,
    workloads: int = 1,
) -> GateLine:
    """``family``: the same estimate at level ``1 - alpha / workloads`` (Bonferroni), which
    alone may fail the ratio when several workloads are gated together."""
    ratio = 1 + estimate.speedup_pct / 100
    low, high = (1 + x / 100 for x in estimate.ci_pct)
    detail = (
        f"paired ratio {ratio:.3f} [{stats.confidence_label(estimate.alpha)} CI {low:.3f}, "
        f"{high:.3f}] from {estimate.processes} process(es), {estimate.rounds} rounds"
    )
    undecidable = estimate.undecidable_reason
    if undecidable is not None:
        return GateLine(subject, Decision.INCONCLUSIVE, f"{detail}: {undecidable}")
    if low >= minimum:
        return GateLine(subject, Decision.PASS, f"{detail}: CI at or above {minimum:g}")
    if high < minimum:
        if workloads == 1:
            return GateLine(subject, Decision.FAIL, f"{detail}: CI below {minimum:g}")
        if family is None:  # the same data at a stricter level: not expected, never a FAIL
            return GateLine(
                subject, Decision.INCONCLUSIVE, f"{detail}: CI below {minimum:g}, no family CI"
            )
        family_high = 1 + family.ci_pct[1] / 100
        level = stats.confidence_label(family.alpha)
        if family_high < minimum:
            return GateLine(
                subject,
                Decision.FAIL,
                f"{detail}: CI below {minimum:g}, and so is the {level} CI's upper end "
                f"{family_high:.3f} (Bonferroni over {workloads} workloads)",
            )
        return GateLine(
            subject,
            Decision.INCONCLUSIVE,
            f"{detail}: CI below {minimum:g}, but the {level} CI (Bonferroni over {workloads} "
            f"workloads) reaches {family_high:.3f}: not below it across the workloads",
        )
    more = paired.more_samples_text(
        *paired.samples_to_clear(estimate, [math.log(minimum)]), estimate.alpha
    )
    reason = f"{detail}: CI straddles {minimum:g}" + (f"; {more}" if more else "")
    return GateLine(subject, Decision.INCONCLUSIVE, reason)


def gate_ratio(
    records: Sequence[Record],
    numerator: str,
    denominator: str,
    *,
    minimum: float = gate_limits.MIN_RATIO,
    alpha: float = gate_limits.ALPHA,
) -> list[GateLine]:
    """Inside one run, per workload: is ``numerator`` at least ``minimum`` x as fast as
    ``denominator`` (e.g. inplace/concat >= 0.97)? Paired data first, isolated cells otherwise."""
    if not 0 < minimum <= 1:
        raise ValueError(f"--min must be in (0, 1], got {minimum}")
    limit_pct = (1 - minimum) * 100
    pairs = {
        c.key: c
        for c in comparisons.paired_comparisons(records, alpha=alpha)
        if (c.a, c.b) == (numerator, denominator)
    }
    isolated = {
        r.key: r
        for r in comparisons.strategy_ratios(
            cell_results(records), numerator, denominator, alpha=alpha, min_effect_pct=limit_pct
        )
    }
    keys = [*pairs, *(k for k in isolated if k not in pairs)]
    estimated = [k for k in keys if k in pairs and pairs[k].estimate is not None]
    unpaired: dict[CellKey, float] = {}
    for key in keys:
        ratio = isolated.get(key)
        if key not in estimated and ratio is not None and ratio.comparison is not None:
            unpaired[key] = ratio.comparison.p_value
    # One family across every workload gated: Bonferroni (alpha / m) for the paired intervals,
    # and for the unpaired U tests too, so that together they keep the family-wise rate.
    workloads = len(estimated) + len(unpaired)
    wide = {}
    if workloads > 1 and estimated:
        wide = {
            c.key: c.estimate
            for c in comparisons.paired_comparisons(records, alpha=alpha / workloads)
            if (c.a, c.b) == (numerator, denominator)
        }
    family = {
        k: Family(min(1.0, p * workloads), workloads, "Bonferroni") for k, p in unpaired.items()
    }
    lines = [
        _ratio_line(
            key,
            pairs.get(key),
            isolated.get(key),
            numerator,
            denominator,
            minimum,
            limit_pct,
            wide.get(key),
            workloads,
            family.get(key),
        )
        for key in keys
    ]
    if not lines:
        raise ValueError(f"no cell pairs {numerator}/{denominator} in these results")
    return lines


def _ratio_line(
    key: CellKey,
    pair: comparisons.PairedComparison | None,
    ratio: comparisons.StrategyRatio | None,
    numerator: str,
    denominator: str,
    minimum: float,
    limit_pct: float,
    wide: paired.PairedEstimate | None = None,
    workloads: int = 1,
    family: Family | None = None,
) -> GateLine:
    subject = f"{key.label} {numerator}/{denominator}"
    if pair is not None and pair.estimate is not None:
        return _paired_ratio_line(subject, pair.estimate, minimum, wide, workloads)
    if ratio is not None and ratio.comparison is not None:
        c = ratio.comparison
        what = f"unpaired ratio {1 + c.change_pct / 100:.3f},"
        return _speed_line(subject, c, limit_pct, what, family)
    paired_skipped = pair is None or (pair.ok == 0 and pair.statuses == ("skipped",))
    isolated_skipped = ratio is None or _all_skipped(ratio.numerator, ratio.denominator)
    if paired_skipped and isolated_skipped:
        reasons = sorted(set(pair.reasons if pair else ()))
        return GateLine(
            subject, Decision.PASS, SKIPPED + (f" ({'; '.join(reasons)})" if reasons else "")
        )
    if pair is not None and pair.ok:
        notes = "; ".join(pair.notes)
        return GateLine(subject, Decision.INCONCLUSIVE, f"no paired estimate: {notes}")
    return GateLine(subject, Decision.FAIL, "a strategy has no successful run")
