"""Comparisons as data: the claim's in-place/concat pairs, a run against an earlier run, and the
strategy ratios a gate checks. Each returns dataclasses holding numbers; nothing is formatted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mgbench.analysis import stats
from mgbench.analysis.cells import CellKey, CellResult, MemoryRow, by_key_and_strategy


@dataclass(frozen=True)
class ClaimPair:
    """The in-place split against the concat split on one workload (the 5-12% claim)."""

    key: CellKey
    inplace: CellResult
    concat: CellResult
    comparison: stats.Comparison  # in-place over concat
    verdict: str


def claim_pairs(
    cells: Sequence[CellResult],
    claim_pct: tuple[float, float],
    *,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    seed: int = 0,
) -> list[ClaimPair]:
    """In-place over concat, per model x image size x batch x replica count x backend."""
    pairs = []
    for ratio in strategy_ratios(
        cells, "inplace", "concat", alpha=alpha, min_effect_pct=min_effect_pct, seed=seed
    ):
        if ratio.comparison is None:
            continue
        verdict = stats.claim_verdict(ratio.comparison, claim_pct)
        pairs.append(
            ClaimPair(ratio.key, ratio.numerator, ratio.denominator, ratio.comparison, verdict)
        )
    return pairs


@dataclass(frozen=True)
class StrategyRatio:
    """Two strategies on one workload inside one run; no comparison when either has no success."""

    key: CellKey
    numerator: CellResult
    denominator: CellResult
    comparison: stats.Comparison | None  # numerator over denominator


def strategy_ratios(
    cells: Sequence[CellResult],
    numerator: str,
    denominator: str,
    *,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    seed: int = 0,
) -> list[StrategyRatio]:
    """Every workload on which both strategies ran, in order of first appearance."""
    ratios = []
    for key, strategies in by_key_and_strategy(cells).items():
        top, bottom = strategies.get(numerator), strategies.get(denominator)
        if top is None or bottom is None:
            continue
        comparison = None
        if top.processes and bottom.processes:
            comparison = stats.compare(
                top.processes,
                bottom.processes,
                alpha=alpha,
                min_effect_pct=min_effect_pct,
                seed=seed,
            )
        ratios.append(StrategyRatio(key, top, bottom, comparison))
    return ratios


@dataclass(frozen=True)
class RunChange:
    """One cell id in a run against an earlier (baseline) run."""

    cell_id: str
    before: CellResult | None  # None: not in the baseline
    after: CellResult | None  # None: not in the new run
    comparison: stats.Comparison | None  # after over before; None unless both succeeded


def run_changes(
    before: Sequence[CellResult],
    after: Sequence[CellResult],
    *,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    seed: int = 0,
) -> list[RunChange]:
    """Cells only in the baseline first, then every cell of the new run in its order."""
    old = {cell.cell_id: cell for cell in before}
    new_ids = {cell.cell_id for cell in after}
    changes = [RunChange(c.cell_id, c, None, None) for c in before if c.cell_id not in new_ids]
    for cell in after:
        base = old.get(cell.cell_id)
        comparison = None
        if base is not None and base.processes and cell.processes:
            comparison = stats.compare(
                cell.processes,
                base.processes,
                alpha=alpha,
                min_effect_pct=min_effect_pct,
                seed=seed,
            )
        changes.append(RunChange(cell.cell_id, base, cell, comparison))
    return changes


def memory_saving_pct(inplace: MemoryRow, concat: MemoryRow, device: str) -> float | None:
    """How much less TF peak memory the in-place split needs on ``device``, in %."""
    a, b = inplace.tf_peak_bytes.get(device), concat.tf_peak_bytes.get(device)
    if a is None or not b:
        return None
    return (1 - a / b) * 100
